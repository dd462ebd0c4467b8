"""Load spec files into pydantic models, reporting every problem at its file:line:column.

Two layers:

* `load_yaml_model(path, Model)`: any YAML file into any strict pydantic model (mapping
  specs, validation suites, ferryman.yaml). Syntax errors, duplicate keys and every
  validation error come back together in one `SpecError`.
* `load_spec` / `load_specs`: mapping specs, plus the checks the model alone cannot do:
  transform functions exist and their arguments are valid, the `filter` parses, no two
  specs feed the same target. `check_source_columns` runs later, once `ferryman check`
  has read the source's column names.

Positions after loading: each spec returned by `load_spec`/`load_specs` is remembered
(weakly, by identity) with its `PositionMap` and display path, so `check_source_columns`
and `positions_of(spec)` can point into the file without the caller carrying them around.
Callers that prefer to hold them use `load_spec_with_positions`.
"""

from __future__ import annotations

import re
import weakref
from collections.abc import Hashable, Iterable, Mapping
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from ferryman.connectors.registry import RegistryError
from ferryman.mappings.issues import issues_from_validation_error
from ferryman.mappings.model import FieldSpec, MappingSpec, Step
from ferryman.suggest import did_you_mean
from ferryman.yaml_positions import (
    UNREADABLE,
    PositionMap,
    SpecError,
    SpecIssue,
    YamlPath,
    load_yaml,
    read_yaml,
)

__all__ = [
    "PositionMap",
    "SpecError",
    "base_dir_of",
    "SpecIssue",
    "check_source_columns",
    "load_spec",
    "load_spec_with_positions",
    "load_specs",
    "load_yaml",
    "load_yaml_model",
    "positions_of",
    "validate_data",
]

M = TypeVar("M", bound=BaseModel)
SPEC_SUFFIXES = (".yaml", ".yml")


# --- generic: any file, any model ---------------------------------------------------------


def validate_data(
    data: Any,
    positions: PositionMap,
    model: type[M],
    *,
    display_path: str,
    context: dict[str, Any] | None = None,
) -> tuple[M | None, list[SpecIssue]]:
    """Validate loaded data; the model instance, or None and the positioned issues."""
    if data is None:  # an empty file (or only comments)
        required = [info.alias or n for n, info in model.model_fields.items() if info.is_required()]
        if required:
            message = f"the file is empty; expected a mapping with the keys {', '.join(required)}"
            return None, [SpecIssue(display_path, 1, 1, "", message)]
        data = {}  # every key has a default: an empty file is a valid one
    try:
        return model.model_validate(data, context=context), []
    except ValidationError as e:
        issues = issues_from_validation_error(
            e, data=data, positions=positions, file=display_path, model=model
        )
        return None, issues


def load_yaml_model(
    path: Path,
    model: type[M],
    *,
    display_path: str | None = None,
    context: dict[str, Any] | None = None,
) -> M:
    """Load one YAML file into `model`; raises SpecError with every issue of the file."""
    instance, _, _, issues = _load_model(path, model, display_path, context)
    if instance is None or issues:
        raise SpecError(issues)
    return instance


def _load_model(
    path: Path, model: type[M], display_path: str | None, context: dict[str, Any] | None
) -> tuple[M | None, Any, PositionMap, list[SpecIssue]]:
    """(instance or None, data or UNREADABLE, positions, issues)."""
    display = display_path if display_path is not None else str(path)
    data, positions, issues = read_yaml(path, display)
    if data is UNREADABLE:
        return None, data, positions, issues
    instance, model_issues = validate_data(
        data, positions, model, display_path=display, context=context
    )
    return instance, data, positions, issues + model_issues


# --- mapping specs --------------------------------------------------------------------------

# id(spec) -> (positions, display path, project folder); entries vanish with their spec
_REMEMBERED: dict[int, tuple[PositionMap, str, Path]] = {}
PROJECT_FILE = "ferryman.yaml"


def _remember(spec: MappingSpec, positions: PositionMap, display: str, base_dir: Path) -> None:
    key = id(spec)
    _REMEMBERED[key] = (positions, display, base_dir)
    weakref.finalize(spec, _REMEMBERED.pop, key, None)


def positions_of(spec: MappingSpec) -> tuple[PositionMap, str] | None:
    """The PositionMap and display path a spec was loaded with, if loaded here."""
    found = _REMEMBERED.get(id(spec))
    return None if found is None else (found[0], found[1])


def base_dir_of(spec: MappingSpec) -> Path | None:
    """The project folder a spec was loaded with (files it names are relative to it)."""
    found = _REMEMBERED.get(id(spec))
    return None if found is None else found[2]


def project_dir(spec_path: Path) -> Path:
    """The project a spec file belongs to: the nearest folder above it holding
    ferryman.yaml, else the spec's own folder."""
    folder = spec_path.resolve().parent
    for candidate in (folder, *folder.parents):
        if (candidate / PROJECT_FILE).is_file():
            return candidate
    return folder


def load_spec_with_positions(
    path: Path, *, display_path: str | None = None, base_dir: Path | None = None
) -> tuple[MappingSpec, PositionMap]:
    """One mapping spec and its positions; raises SpecError with all the file's issues.

    `base_dir` is the project folder: files a spec names (value maps, lookup CSVs) are
    relative to it. Default: the nearest folder above the spec holding ferryman.yaml.
    """
    display = display_path if display_path is not None else str(path)
    base = base_dir if base_dir is not None else project_dir(path)
    spec, data, positions, issues = _load_model(path, MappingSpec, display, None)
    if isinstance(data, Mapping):  # the YAML parsed: check what the model cannot
        issues += _check_steps(data, positions, display, base)
        issues += _check_expressions(data, positions, display)
    if spec is None or issues:
        raise SpecError(issues)
    _remember(spec, positions, display, base)
    return spec, positions


def load_spec(
    path: Path, *, display_path: str | None = None, base_dir: Path | None = None
) -> MappingSpec:
    """One mapping spec; raises SpecError with every issue of the file."""
    return load_spec_with_positions(path, display_path=display_path, base_dir=base_dir)[0]


def load_specs(directory: Path, *, root: Path | None = None) -> list[MappingSpec]:
    """Every `*.yaml`/`*.yml` in `directory`, in name order; one SpecError for all files.

    File names in messages are relative to `root` when given (the project folder), and
    files the specs name are relative to it too.
    """
    issues: list[SpecIssue] = []
    specs: list[MappingSpec] = []
    owners: dict[str, tuple[str, int, int]] = {}
    files = sorted(p for p in directory.iterdir() if p.suffix in SPEC_SUFFIXES and p.is_file())
    for path in files:
        display = _display(path, root)
        try:
            spec, positions = load_spec_with_positions(path, display_path=display, base_dir=root)
        except SpecError as e:
            issues.extend(e.issues)
            continue
        line, col = positions.value(("target",))
        if spec.target in owners:
            o_file, o_line, o_col = owners[spec.target]
            issues.append(
                SpecIssue(
                    display, line, col, "target",
                    f"target table {spec.target!r} is already loaded by"
                    f" {o_file}:{o_line}:{o_col}; one spec per target table:"
                    " merge the two files or rename one target",
                )
            )  # fmt: skip
            continue
        owners[spec.target] = (display, line, col)
        specs.append(spec)
    if issues:
        raise SpecError(issues)
    return specs


def _display(path: Path, root: Path | None) -> str:
    if root is not None:
        try:
            return path.relative_to(root).as_posix()
        except ValueError:
            pass
    return str(path)


# --- checks beyond the model ----------------------------------------------------------------


def _field_maps(data: Mapping[Hashable, Any]) -> Iterable[tuple[YamlPath, Mapping[Any, Any]]]:
    """(path, fields mapping) of the spec and of each of its `more_sources`."""
    fields = data.get("fields")
    if isinstance(fields, Mapping):
        yield ("fields",), fields
    more = data.get("more_sources")
    for i, entry in enumerate(more if isinstance(more, list) else []):
        sub = entry.get("fields") if isinstance(entry, Mapping) else None
        if isinstance(sub, Mapping):
            yield ("more_sources", i, "fields"), sub


def _steps(data: Mapping[Hashable, Any]) -> Iterable[tuple[YamlPath, Any, Step]]:
    """(path, raw YAML, Step) of every step whose shape is right; the model validation
    already reported the others."""
    for base, fields in _field_maps(data):
        for name, field in fields.items():
            steps = field.get("transform") if isinstance(field, Mapping) else None
            for i, raw in enumerate(steps if isinstance(steps, list) else []):
                try:
                    yield (*base, name, "transform", i), raw, Step.model_validate(raw)
                except ValidationError:
                    continue


def _args_base(raw: Any, step_path: YamlPath) -> YamlPath:
    """Where a step's arguments sit: `- map: {...}`, `- pad: 8`, `{function:, args:}`."""
    if isinstance(raw, Mapping):
        if "function" in raw:
            return (*step_path, "args")
        return (*step_path, next(iter(raw)))
    return step_path


def _check_steps(
    data: Mapping[Hashable, Any], positions: PositionMap, display: str, base_dir: Path
) -> list[SpecIssue]:
    """Every transform step names a registered function and gives it valid arguments,
    and what the arguments name outside the spec (files, environment) is there."""
    steps = list(_steps(data))
    if not steps:
        return []
    from ferryman.mappings.functions import FUNCTIONS, parse_args
    from ferryman.mappings.lookups import CompileContext

    ctx = CompileContext(base_dir=base_dir)

    issues: list[SpecIssue] = []
    for step_path, raw, step in steps:
        line, col = positions.value(step_path)
        where = positions.format(step_path)
        try:
            function = FUNCTIONS.get(step.function)
        except RegistryError as e:
            issues.append(SpecIssue(display, line, col, where, str(e)))
            continue
        try:
            args = parse_args(step)
            prepare = getattr(function, "prepare", None)
            if callable(prepare) and args is not None:
                prepare(args, ctx)
        except ValidationError as e:
            issues += issues_from_validation_error(
                e, data=data, positions=positions, file=display,
                model=_args_model(function), base=_args_base(raw, step_path),
                noun="argument", owner=step.function,
            )  # fmt: skip
        except (ValueError, TypeError, RegistryError) as e:
            issues.append(SpecIssue(display, line, col, where, str(e)))
    return issues


def _args_model(function: Any) -> Any:
    """The pydantic model of a function's arguments, for did-you-mean on unknown args."""
    for attr in ("args_model", "Args", "args"):
        candidate = getattr(function, attr, None)
        if isinstance(candidate, type) and issubclass(candidate, BaseModel):
            return candidate
    return None


def _expressions(data: Mapping[Hashable, Any]) -> Iterable[tuple[YamlPath, str, str]]:
    """(path, text, what) of every expression: filters and computed fields."""
    if isinstance(data.get("filter"), str):
        yield ("filter",), data["filter"], "filter"
    more = data.get("more_sources")
    for i, entry in enumerate(more if isinstance(more, list) else []):
        if isinstance(entry, Mapping) and isinstance(entry.get("filter"), str):
            yield ("more_sources", i, "filter"), entry["filter"], "filter"
    for base, fields in _field_maps(data):
        for name, field in fields.items():
            if isinstance(field, Mapping) and isinstance(field.get("expr"), str):
                yield (*base, name, "expr"), field["expr"], "expression"


def _check_expressions(
    data: Mapping[Hashable, Any], positions: PositionMap, display: str
) -> list[SpecIssue]:
    """Filters and `expr:` fields parse; an error points at the offending character."""
    from ferryman.mappings.expressions import ExpressionError, parse_expression

    issues = []
    for path, text, what in _expressions(data):
        try:
            parse_expression(text)
        except ExpressionError as e:
            line, col = positions.in_scalar(path, e.offset)
            message = f"invalid {what}: {e.message}"
            if what == "filter":
                message = f"invalid filter expression: {e.message}"
            issues.append(SpecIssue(display, line, col, positions.format(path), message))
    return issues


def check_source_columns(
    spec: MappingSpec,
    columns: Iterable[str],
    display_path: str | None = None,
    positions: PositionMap | None = None,
    *,
    source: int = 0,
) -> list[SpecIssue]:
    """Every column read by `from:`, `expr:`, `surrogate:` and the filter exists in the
    source stream. `source` picks the stream: 0 is `source:`, i the `more_sources[i-1]`
    (pass the columns of that stream).

    `positions` defaults to the ones remembered when the spec was loaded here; a spec
    built in code has none, and its issues point at line 1.
    """
    remembered = positions_of(spec)
    if positions is None:
        positions = remembered[0] if remembered else PositionMap()
    if display_path is None:
        display_path = remembered[1] if remembered else f"<spec {spec.target}>"
    known = list(columns)
    issues = []
    stream = spec.stream_specs()[source].source.stream
    for path, column, line_col in _used_columns(spec, positions, source):
        if column not in known:
            line, col = line_col
            message = f"unknown source column {column!r} in {stream}."
            message += _hint(column, known)
            issues.append(SpecIssue(display_path, line, col, positions.format(path), message))
    return sorted(issues, key=SpecIssue.sort_key)


def _used_columns(
    spec: MappingSpec, positions: PositionMap, source: int = 0
) -> Iterable[tuple[YamlPath, str, tuple[int, int]]]:
    more = spec.more_sources[source - 1] if source else None
    for name, field in spec.fields.items():
        base: YamlPath = ("fields", name)
        if more is not None and name in more.fields:
            field, base = more.fields[name], ("more_sources", source - 1, "fields", name)
        yield from _field_columns(field, base, positions)
    filter_path: YamlPath = ("filter",)
    text = spec.filter
    if more is not None and more.filter is not None:
        filter_path, text = ("more_sources", source - 1, "filter"), more.filter
    if text is not None:
        yield from _expression_columns(text, filter_path, positions)


def _field_columns(
    field: FieldSpec, base: YamlPath, positions: PositionMap
) -> Iterable[tuple[YamlPath, str, tuple[int, int]]]:
    if field.expr is not None:
        yield from _expression_columns(field.expr, (*base, "expr"), positions)
        return
    start: YamlPath = base
    value = field.from_
    if field.surrogate is not None:
        start, value = (*base, "surrogate"), field.surrogate.from_
    if isinstance(value, str):
        path: YamlPath = (*start, "from")
        yield path, value, positions.value(path)
    elif value is not None:
        for i, column in enumerate(value):
            path = (*start, "from", i)
            yield path, column, positions.value(path)


def _expression_columns(
    text: str, path: YamlPath, positions: PositionMap
) -> Iterable[tuple[YamlPath, str, tuple[int, int]]]:
    from ferryman.mappings.expressions import parse_expression

    for column in sorted(parse_expression(text).columns):
        found = re.search(rf"(?<![\w.]){re.escape(column)}(?!\w)", text)
        offset = found.start() if found else 0
        yield path, column, positions.in_scalar(path, offset)


def _hint(column: str, known: list[str]) -> str:
    same_but_case = [k for k in known if k.lower() == column.lower()]
    if same_but_case:
        return f" Did you mean {same_but_case[0]!r}? (column names are case-sensitive)"
    return did_you_mean(column, known)
