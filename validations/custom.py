"""A project's own expectations: Python modules in `validations/expectations/`, by name.

Every `*.py` file in the `expectations/` folder beside the suites folder (so
`validations/expectations/` in the standard layout) is imported when the suites load; each
GX 1.x `Expectation` subclass it defines becomes available to the suites under its GX name,
the class name in snake_case (`ExpectValidIsoCountry` -> `expect_valid_iso_country`):

    import great_expectations as gx

    class ExpectValidIsoCountry(gx.expectations.ExpectColumnValuesToBeInSet):
        value_set: list = ["DE", "FR", "GB"]                # runs on the mapped rows

    class ExpectNoOrderWithoutLines(gx.expectations.UnexpectedRowsExpectation):
        unexpected_rows_query: str = (                      # SQL: runs on the loaded table
            "SELECT * FROM {batch} o WHERE NOT EXISTS"
            " (SELECT 1 FROM order_lines l WHERE l.order_id = o.id)"
        )

Files whose name starts with `_` are not imported (keep helpers there), and modules are
imported on their own, not as a package: a shared helper must be an installed package.

The names are checked like GX's own: a class whose name is a built-in GX expectation, or
that two files define, is an error (GX would silently replace one with the other), and so
is a module that fails to import, reported as `file:line: error` at the line that raised.
"""

from __future__ import annotations

import ast
import hashlib
import importlib.util
import sys
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ferryman.validations.gx_context import core_expectation_classes, import_gx
from ferryman.yaml_positions import SpecIssue

FOLDER = "expectations"
"""The folder of custom expectation modules, beside the suites folder."""


@dataclass(frozen=True)
class CustomExpectations:
    """The expectations a project defines, and what went wrong loading them."""

    classes: dict[str, Any] = field(default_factory=dict)
    """GX expectation name -> class."""
    files: dict[str, str] = field(default_factory=dict)
    """GX expectation name -> the file defining it, as shown in messages."""
    issues: list[SpecIssue] = field(default_factory=list)
    """Modules that failed to import, names defined twice or shadowing GX's own."""

    @property
    def broken_files(self) -> list[str]:
        return sorted({i.file for i in self.issues})

    def register(self) -> None:
        """Make GX resolve each name to this project's class.

        GX keeps one process-wide registry filled as classes are defined; a process that
        loaded two projects defining the same name (tests do) must point it back at the
        classes of the project being validated. Call under `VALIDATION_LOCK`.
        """
        if not self.classes:
            return
        from great_expectations.expectations import registry

        for name, cls in self.classes.items():
            try:
                current = registry.get_expectation_impl(name)
            except Exception:  # noqa: BLE001 - GX raises its own error for an unknown name
                current = None
            if current is not cls:
                registry.register_expectation(cls)


NONE = CustomExpectations()

_CACHE: dict[tuple[Any, ...], CustomExpectations] = {}


def expectations_folder(suites_dir: Path) -> Path:
    """Where the custom expectations of the project holding `suites_dir` live."""
    return suites_dir.parent / FOLDER


def load_custom_expectations(folder: Path, root: Path | None = None) -> CustomExpectations:
    """The custom expectations of `folder` (NONE when it does not exist).

    Imported once per process for a given content of the folder: the result is cached
    by each file's path, size and modification time. File names in messages are relative
    to `root` when given, else to the working directory.
    """
    if not folder.is_dir():
        return NONE
    files = sorted(p for p in folder.glob("*.py") if p.is_file() and not p.name.startswith("_"))
    key = (
        str(folder.resolve()),
        tuple((p.name, p.stat().st_mtime_ns, p.stat().st_size) for p in files),
    )
    if key not in _CACHE:  # a module runs once, however its files are named in messages
        _CACHE[key] = _load(folder, files)
    return _relabel(_CACHE[key], [p.resolve() for p in files], root)


def _relabel(found: CustomExpectations, files: list[Path], root: Path | None) -> CustomExpectations:
    """`found` (which names files by absolute path) with the files named for messages."""
    names = {str(path): display(path, root) for path in files}

    def shown(text: str) -> str:
        for absolute, relative in names.items():
            text = text.replace(absolute, relative)
        return text

    issues = [
        SpecIssue(shown(i.file), i.line, i.column, i.path, shown(i.message)) for i in found.issues
    ]
    where = {name: shown(file) for name, file in found.files.items()}
    return CustomExpectations(dict(found.classes), where, issues)


def _load(folder: Path, files: list[Path]) -> CustomExpectations:
    import_gx()
    from great_expectations.expectations.expectation import Expectation

    core = core_expectation_classes()
    result = CustomExpectations()
    tag = hashlib.sha1(str(folder.resolve()).encode(), usedforsecurity=False).hexdigest()[:10]
    for path in files:
        shown = str(path.resolve())  # relabelled for messages by `_relabel`
        # Read before running: a class named like a GX expectation would replace GX's own
        # (and its renderers) in GX's registry the moment it is defined.
        shadowing = _shadowing_classes(path, shown, core)
        if shadowing:
            result.issues.extend(shadowing)
            continue
        module, issue = _import(path, f"ferryman_expectations_{tag}_{path.stem}", shown)
        if issue is not None:
            result.issues.append(issue)
            continue
        for name, cls in _defined_expectations(module, Expectation):
            if name in result.classes:
                message = (
                    f"expectation {name!r} is also defined in {result.files[name]}; keep one"
                    " (the name comes from the class name in snake_case)"
                )
                result.issues.append(SpecIssue(shown, _class_line(cls), 1, "", message))
            else:
                result.classes[name], result.files[name] = cls, shown
    return result


def _shadowing_classes(path: Path, shown: str, core: dict[str, Any]) -> list[SpecIssue]:
    """Top-level classes of the file whose GX name is a built-in expectation's (a file that
    does not parse is left to the import, which reports the syntax error)."""
    from great_expectations.util import camel_to_snake

    try:
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    except (SyntaxError, ValueError, UnicodeDecodeError):
        return []
    issues = []
    for node in tree.body:
        if not isinstance(node, ast.ClassDef):
            continue
        name = camel_to_snake(node.name)
        if name in core:
            message = (
                f"class {node.name} would be named {name!r}, which is a GX expectation:"
                " give it a name of its own (GX would replace its built-in with it), e.g."
                f" {node.name}Strict. The module was not imported"
            )
            issues.append(SpecIssue(shown, node.lineno, node.col_offset + 1, "", message))
    return issues


def _import(path: Path, module_name: str, shown: str) -> tuple[Any, SpecIssue | None]:
    """Import one file as a module; a failure becomes an issue at the line that raised."""
    spec = importlib.util.spec_from_file_location(module_name, path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    # In sys.modules while it runs: pydantic (GX expectations are pydantic models) looks
    # classes' modules up there to resolve annotations.
    sys.modules[module_name] = module
    try:
        spec.loader.exec_module(module)
    except SyntaxError as err:
        sys.modules.pop(module_name, None)
        message = f"cannot import this expectation module: SyntaxError: {err.msg}"
        return None, SpecIssue(shown, err.lineno or 1, err.offset or 1, "", message)
    except Exception as err:  # noqa: BLE001 - the user's module may raise anything
        sys.modules.pop(module_name, None)
        line = _failing_line(err, path)
        message = (
            f"cannot import this expectation module: {type(err).__name__}: {err}."
            f" Fix it, or rename it to start with '_' so it is not imported"
        )
        return None, SpecIssue(shown, line, 1, "", message)
    return module, None


def _failing_line(err: BaseException, path: Path) -> int:
    """The line of `path` that raised (the deepest frame in that file)."""
    frames = [f for f in traceback.extract_tb(err.__traceback__) if Path(f.filename) == path]
    return (frames[-1].lineno or 1) if frames else 1


def _defined_expectations(module: Any, base: type) -> list[tuple[str, Any]]:
    """(GX name, class) of every concrete Expectation class the module itself defines."""
    found = []
    for value in vars(module).values():
        if not isinstance(value, type) or value.__module__ != module.__name__:
            continue
        name = getattr(value, "expectation_type", "")  # "" for abstract classes
        if issubclass(value, base) and name:
            found.append((str(name), value))
    return found


def _class_line(cls: Any) -> int:
    import inspect

    try:
        return inspect.getsourcelines(cls)[1]
    except (OSError, TypeError):
        return 1


def display(path: Path, root: Path | None = None) -> str:
    """A path as shown in messages: relative to `root` (default: the working directory)
    when inside it."""
    try:
        return path.resolve().relative_to((root or Path.cwd()).resolve()).as_posix()
    except ValueError:
        return str(path)
