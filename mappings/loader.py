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

from connectors.registry import RegistryError, did_you_mean
from mappings.issues import issues_from_validation_error
from mappings.model import MappingSpec, Step
from mappings.yaml_positions import (
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

# id(spec) -> (positions, display path); entries vanish with their spec (weakref.finalize)
_REMEMBERED: dict[int, tuple[PositionMap, str]] = {}


def _remember(spec: MappingSpec, positions: PositionMap, display: str) -> None:
    key = id(spec)
    _REMEMBERED[key] = (positions, display)
    weakref.finalize(spec, _REMEMBERED.pop, key, None)


def positions_of(spec: MappingSpec) -> tuple[PositionMap, str] | None:
    """The PositionMap and display path a spec was loaded with, if loaded here."""
    return _REMEMBERED.get(id(spec))


def load_spec_with_positions(
    path: Path, *, display_path: str | None = None
) -> tuple[MappingSpec, PositionMap]:
    """One mapping spec and its positions; raises SpecError with all the file's issues."""
    display = display_path if display_path is not None else str(path)
    spec, data, positions, issues = _load_model(path, MappingSpec, display, None)
    if isinstance(data, Mapping):  # the YAML parsed: check what the model cannot
        issues += _check_steps(data, positions, display)
        issues += _check_filter(data, positions, display)
    if spec is None or issues:
        raise SpecError(issues)
    _remember(spec, positions, display)
    return spec, positions


def load_spec(path: Path, *, display_path: str | None = None) -> MappingSpec:
    """One mapping spec; raises SpecError with every issue of the file."""
    return load_spec_with_positions(path, display_path=display_path)[0]


def load_specs(directory: Path, *, root: Path | None = None) -> list[MappingSpec]:
    """Every `*.yaml`/`*.yml` in `directory`, in name order; one SpecError for all files.

    File names in messages are relative to `root` when given (the project folder).
    """
    issues: list[SpecIssue] = []
    specs: list[MappingSpec] = []
    owners: dict[str, tuple[str, int, int]] = {}
    files = sorted(p for p in directory.iterdir() if p.suffix in SPEC_SUFFIXES and p.is_file())
    for path in files:
        display = _display(path, root)
        try:
            spec, positions = load_spec_with_positions(path, display_path=display)
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


def _steps(data: Mapping[Hashable, Any]) -> Iterable[tuple[YamlPath, Any, Step]]:
    """(path, raw YAML, Step) of every step whose shape is right; the model validation
    already reported the others."""
    fields = data.get("fields")
    if not isinstance(fields, Mapping):
        return
    for name, field in fields.items():
        steps = field.get("transform") if isinstance(field, Mapping) else None
        for i, raw in enumerate(steps if isinstance(steps, list) else []):
            try:
                yield ("fields", name, "transform", i), raw, Step.model_validate(raw)
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
    data: Mapping[Hashable, Any], positions: PositionMap, display: str
) -> list[SpecIssue]:
    """Every transform step names a registered function and gives it valid arguments."""
    steps = list(_steps(data))
    if not steps:
        return []
    from mappings.functions import FUNCTIONS, parse_args

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
            parse_args(step)
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


def _check_filter(
    data: Mapping[Hashable, Any], positions: PositionMap, display: str
) -> list[SpecIssue]:
    """The `filter` expression parses; the error points at the offending character."""
    text = data.get("filter")
    if not isinstance(text, str):
        return []
    from mappings.expressions import ExpressionError, parse_expression

    try:
        parse_expression(text)
    except ExpressionError as e:
        line, col = positions.in_scalar(("filter",), e.offset)
        return [SpecIssue(display, line, col, "filter", f"invalid filter expression: {e.message}")]
    return []


def check_source_columns(
    spec: MappingSpec,
    columns: Iterable[str],
    display_path: str | None = None,
    positions: PositionMap | None = None,
) -> list[SpecIssue]:
    """Every `from:` column and every column the filter reads exists in the source.

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
    for path, column, line_col in _used_columns(spec, positions):
        if column not in known:
            line, col = line_col
            message = f"unknown source column {column!r} in {spec.source.stream}."
            message += _hint(column, known)
            issues.append(SpecIssue(display_path, line, col, positions.format(path), message))
    return sorted(issues, key=SpecIssue.sort_key)


def _used_columns(
    spec: MappingSpec, positions: PositionMap
) -> Iterable[tuple[YamlPath, str, tuple[int, int]]]:
    for name, field in spec.fields.items():
        if isinstance(field.from_, str):
            path: YamlPath = ("fields", name, "from")
            yield path, field.from_, positions.value(path)
        elif field.from_ is not None:
            for i, column in enumerate(field.from_):
                path = ("fields", name, "from", i)
                yield path, column, positions.value(path)
    if spec.filter is not None:
        from mappings.expressions import parse_expression

        for column in parse_expression(spec.filter).columns:
            found = re.search(rf"(?<![\w.]){re.escape(column)}(?!\w)", spec.filter)
            offset = found.start() if found else 0
            yield ("filter",), column, positions.in_scalar(("filter",), offset)


def _hint(column: str, known: list[str]) -> str:
    same_but_case = [k for k in known if k.lower() == column.lower()]
    if same_but_case:
        return f" Did you mean {same_but_case[0]!r}? (column names are case-sensitive)"
    return did_you_mean(column, known)
