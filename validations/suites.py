"""Expectation suites as files: `validations/suites/<name>.yaml`, GX 1.x expectations by name.

    name: customers            # equals the file stem: mapping specs refer to suites by it
    description: What a loadable customer looks like.
    expectations:
      - type: expect_column_values_to_match_regex
        kwargs: {column: email, regex: '^[^@\\s]+@[^@\\s]+\\.[A-Za-z]{2,}$'}
        severity: row          # row | batch | warn (default row)
        description: Emails must be deliverable.

`type` is a GX expectation type in snake_case, as in GX's JSON suites; `kwargs` are its
arguments, `mostly` included. Loading checks everything GX would only find at run time, and
reports all of it at once with file:line:column: unknown types (did-you-mean), unknown or
invalid arguments (GX's own validation of the expectation), regexes that do not compile,
`severity: row` on an expectation that has no per-row verdict, expectations that cannot run
on an in-memory batch. `check_suite_columns` runs at `ferryman check`, once the mapped
columns are known.
"""

from __future__ import annotations

import re
from collections.abc import Hashable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, PrivateAttr, ValidationError

from connectors.registry import did_you_mean
from mappings.issues import describe, value_at
from mappings.loader import PositionMap, SpecError, SpecIssue, validate_data
from mappings.model import StrictModel
from mappings.yaml_positions import UNREADABLE, YamlPath, read_yaml
from validations.gx_context import (
    expectation_classes,
    in_memory_problem,
    is_row_level,
    reserved_arguments,
)

SUITE_SUFFIXES = (".yaml", ".yml")
Severity = Literal["row", "batch", "warn"]


class ExpectationSpec(StrictModel):
    """One GX expectation, and what its failure means for the load."""

    type: str = Field(
        description="GX 1.x expectation type in snake_case, e.g."
        " expect_column_values_to_not_be_null (the `type` of a GX JSON suite)."
    )
    kwargs: dict[str, Any] = Field(
        default_factory=dict,
        description="The expectation's arguments, e.g. {column: email, regex: '...'};"
        " `mostly` is one of them.",
    )
    severity: Severity = Field(
        default="row",
        description="row: failing rows are quarantined and the others load; batch: a failure"
        " stops the load (gate); warn: failures are reported only.",
    )
    description: str | None = Field(
        default=None, description="What the rule means, quoted in messages."
    )

    @property
    def columns(self) -> list[str]:
        """The mapped columns this expectation reads (column, column_A/B, column_list)."""
        return [column for _, column, _ in _named_columns(self)]


class SuiteSpec(StrictModel):
    """A named set of expectations, run on every mapped batch of the tables that use it."""

    name: str = Field(
        pattern=r"^[A-Za-z_][A-Za-z0-9_-]*$",
        description="The suite's name; equals the file name without .yaml.",
    )
    description: str | None = Field(default=None, description="What the suite checks.")
    expectations: list[ExpectationSpec] = Field(
        min_length=1, description="The expectations, run together on each batch."
    )
    # Where the suite was loaded from, for positioned messages after loading.
    _file: str | None = PrivateAttr(default=None)
    _positions: PositionMap | None = PrivateAttr(default=None)


# --- checking one expectation ------------------------------------------------------------


@dataclass(frozen=True)
class Problem:
    """One thing wrong with one expectation, at a path relative to it."""

    path: tuple[Hashable, ...]
    message: str
    at_key: bool = False
    """Point at the key (an unknown or missing argument) rather than the value."""
    offset: int | None = None
    """Character offset inside the scalar (a regex error)."""


def expectation_problems(spec: ExpectationSpec) -> list[Problem]:
    """Everything GX would reject or fail on at run time, found now."""
    cls = expectation_classes().get(spec.type)
    if cls is None:
        return [Problem(("type",), _unknown_type(spec.type, expectation_classes()))]
    problems = _reserved_problems(spec) + _kwarg_problems(cls, spec) + _regex_problems(spec)
    if spec.severity == "row" and not is_row_level(spec.type):
        default = "" if "severity" in spec.model_fields_set else " (the default)"
        problems.append(Problem(("severity",), _NOT_ROW_LEVEL.format(spec.type, default)))
    reason = in_memory_problem(spec.type)
    if reason:
        problems.append(Problem(("type",), f"{spec.type} cannot run on a batch: {reason}"))
    return problems


def _unknown_type(name: str, known: Iterable[str]) -> str:
    hint = did_you_mean(name, known)
    if hint.startswith(" Did you mean"):
        return f"unknown expectation {name!r}.{hint}"
    return (
        f"unknown expectation {name!r}: use a GX 1.x expectation type in snake_case, such as"
        " expect_column_values_to_not_be_null or expect_column_values_to_match_regex"
    )


_NOT_ROW_LEVEL = (
    "severity 'row'{1} needs an expectation that judges each row; {0} judges the batch as a"
    " whole, so there are no failing rows to quarantine: use `severity: batch` (a failure"
    " stops the load) or `severity: warn` (reported only)"
)


_SAFE_PARSERS = ("great_expectations", "great_expectations__experimental__")


def _reserved_problems(spec: ExpectationSpec) -> list[Problem]:
    problems = []
    for name, value in spec.kwargs.items():
        if name in ("severity", "description"):
            text = f"`{name}` belongs next to `kwargs:`, not inside it"
            problems.append(Problem(("kwargs", name), text, at_key=True))
        elif name in reserved_arguments():
            text = f"{name!r} is set by ferryman, not by the suite; remove it from kwargs"
            problems.append(Problem(("kwargs", name), text, at_key=True))
        elif name == "condition_parser" and value not in _SAFE_PARSERS:
            text = (
                f"condition_parser {value!r} runs the row_condition as code; use"
                ' `condition_parser: great_expectations` (row_condition: \'col("kind")=="x"\')'
            )
            problems.append(Problem(("kwargs", name), text))
        elif isinstance(value, Mapping) and "$PARAMETER" in value:
            text = "suite parameters ($PARAMETER) are not supported; write the value itself"
            problems.append(Problem(("kwargs", name), text))
    return problems


def _gx_arguments(spec: ExpectationSpec) -> dict[str, Any]:
    return {k: v for k, v in spec.kwargs.items() if k not in reserved_arguments()}


def _kwarg_problems(cls: Any, spec: ExpectationSpec) -> list[Problem]:
    """GX's own (pydantic v1) validation of the arguments, as positioned sentences."""
    from pydantic.v1 import ValidationError as V1ValidationError

    try:
        cls(**_gx_arguments(spec))
    except V1ValidationError as e:
        return _v1_problems(e.errors(), spec, cls)
    except (ValidationError, TypeError, ValueError) as e:
        return [Problem(("kwargs",), f"invalid arguments for {spec.type}: {e}")]
    return []


_V1_EXPECTED = {
    "type_error.integer": "a whole number",
    "type_error.float": "a number",
    "type_error.str": "text",
    "type_error.bool": "true or false",
    "type_error.list": "a list",
    "type_error.set": "a list",
    "type_error.dict": "a mapping",
    "value_error.date": "a date (YYYY-MM-DD)",
    "value_error.datetime": "a timestamp (YYYY-MM-DD HH:MM:SS)",
    "type_error.none.not_allowed": "a value",
}
_V1_LIMITS = {
    "value_error.number.not_le": "at most",
    "value_error.number.not_ge": "at least",
    "value_error.number.not_lt": "less than",
    "value_error.number.not_gt": "greater than",
}


def _v1_problems(errors: list[Any], spec: ExpectationSpec, cls: Any) -> list[Problem]:
    by_loc: dict[tuple[Any, ...], list[Any]] = {}
    for error in errors:
        by_loc.setdefault(tuple(error["loc"]), []).append(error)
    if len(by_loc) > 1:  # GX's cross-argument checks then see None for the bad argument
        by_loc.pop(("__root__",), None)
    return [_v1_problem(loc, group, spec, cls) for loc, group in by_loc.items()]


def _v1_problem(loc: tuple[Any, ...], group: list[Any], spec: ExpectationSpec, cls: Any) -> Problem:
    name, kinds = loc[0], [e["type"] for e in group]
    if name == "__root__":
        return Problem(("kwargs",), "; ".join(e["msg"] for e in group), at_key=True)
    if "value_error.extra" in kinds:
        allowed = [f for f in cls.__fields__ if f not in reserved_arguments()]
        hint = did_you_mean(str(name), allowed)
        return Problem(("kwargs", *loc), f"unknown argument {name!r} of {spec.type}.{hint}", True)
    if "value_error.missing" in kinds:
        return Problem(("kwargs",), f"missing required argument {name!r} of {spec.type}", True)
    # A union of a real type and GX's `$PARAMETER` dict: the dict branch is noise.
    if len(group) > 1:
        group = [e for e in group if e["type"] != "type_error.dict"] or group
    value = value_at(spec.kwargs, loc)
    limit = next((e for e in group if e["type"] in _V1_LIMITS), None)
    if limit is not None:
        words = _V1_LIMITS[limit["type"]]
        text = f"must be {words} {limit['ctx']['limit_value']}, got {describe(value)}"
        return Problem(("kwargs", *loc), text)
    phrases = [_V1_EXPECTED.get(e["type"]) for e in group]
    if all(phrases):
        unique = list(dict.fromkeys(p for p in phrases if p))
        expected = " or ".join([", ".join(unique[:-1]), unique[-1]] if len(unique) > 1 else unique)
        return Problem(("kwargs", *loc), f"expected {expected}, got {describe(value)}")
    return Problem(("kwargs", *loc), "; ".join(dict.fromkeys(e["msg"] for e in group)))


def _regex_problems(spec: ExpectationSpec) -> list[Problem]:
    """GX on pandas matches with Python's `re`: a pattern that does not compile fails every
    batch, so it is a spec error."""
    candidates: list[tuple[tuple[Hashable, ...], Any]] = [
        (("kwargs", "regex"), spec.kwargs.get("regex"))
    ]
    regex_list = spec.kwargs.get("regex_list")
    if isinstance(regex_list, list):
        candidates += [(("kwargs", "regex_list", i), r) for i, r in enumerate(regex_list)]
    problems = []
    for path, pattern in candidates:
        if not isinstance(pattern, str):
            continue
        try:
            re.compile(pattern)
        except re.error as e:
            problems.append(Problem(path, f"invalid regular expression: {e.msg}", offset=e.pos))
    return problems


def build_expectation(spec: ExpectationSpec, meta: dict[str, Any] | None = None) -> Any:
    """The GX expectation object of `spec`; ValueError listing every problem if invalid."""
    problems = expectation_problems(spec)
    if problems:
        details = "; ".join(f"{'.'.join(map(str, p.path))}: {p.message}" for p in problems)
        raise ValueError(f"invalid expectation {spec.type}: {details}")
    return expectation_classes()[spec.type](**_gx_arguments(spec), meta=meta)


# --- loading ------------------------------------------------------------------------------


def load_suite(path: Path, *, display_path: str | None = None) -> SuiteSpec:
    """One suite file; raises SpecError with every issue of the file, positioned."""
    display = display_path if display_path is not None else str(path)
    data, positions, issues = read_yaml(path, display)
    if data is UNREADABLE:
        raise SpecError(issues)
    suite, model_issues = validate_data(data, positions, SuiteSpec, display_path=display)
    issues = issues + model_issues
    if isinstance(data, Mapping):
        issues += _file_issues(data, path.stem, positions, display)
    if suite is None or issues:
        raise SpecError(issues)
    suite._file, suite._positions = display, positions
    return suite


def load_suites(directory: Path, *, root: Path | None = None) -> dict[str, SuiteSpec]:
    """Every `*.yaml`/`*.yml` suite in `directory` by name; one SpecError for all files.

    File names in messages are relative to `root` when given (the project folder).
    """
    issues: list[SpecIssue] = []
    suites: dict[str, SuiteSpec] = {}
    seen: dict[str, str] = {}
    for path in sorted(p for p in directory.iterdir() if p.suffix in SUITE_SUFFIXES):
        display = _display(path, root)
        if path.stem in seen:
            message = f"suite {path.stem!r} is also defined in {seen[path.stem]}; keep one file"
            issues.append(SpecIssue(display, 1, 1, "", message))
            continue
        seen[path.stem] = display
        try:
            suites[path.stem] = load_suite(path, display_path=display)
        except SpecError as e:
            issues.extend(e.issues)
    if issues:
        raise SpecError(issues)
    return suites


def _display(path: Path, root: Path | None) -> str:
    if root is not None and path.is_relative_to(root):
        return path.relative_to(root).as_posix()
    return str(path)


def _file_issues(
    data: Mapping[Hashable, Any], stem: str, positions: PositionMap, display: str
) -> list[SpecIssue]:
    """What the model cannot check: the name matches the file, and each expectation is
    one GX accepts and can run."""
    issues = []
    name = data.get("name")
    if isinstance(name, str) and name != stem:
        message = (
            f"suite name {name!r} differs from the file name {stem!r}; mapping specs name"
            f" suites by file, so rename the suite to {stem!r} or the file to {name}.yaml"
        )
        issues.append(_issue(positions, display, ("name",), Problem((), message)))
    entries = data.get("expectations")
    for i, raw in enumerate(entries if isinstance(entries, list) else []):
        try:
            spec = ExpectationSpec.model_validate(raw)
        except ValidationError:
            continue  # wrong shape: the model validation reported it already
        for problem in expectation_problems(spec):
            issues.append(_issue(positions, display, ("expectations", i), problem))
    return issues


def _issue(positions: PositionMap, display: str, base: YamlPath, problem: Problem) -> SpecIssue:
    path = (*base, *problem.path)
    if problem.offset is not None:
        line, column = positions.in_scalar(path, problem.offset)
    elif problem.at_key:
        line, column = positions.key(path)
    else:
        line, column = positions.value(path)
    return SpecIssue(display, line, column, positions.format(path), problem.message)


# --- columns ------------------------------------------------------------------------------


def suite_column_issues(suite: SuiteSpec, columns: Iterable[str]) -> list[SpecIssue]:
    """Expectations naming a column the mapped table does not have, positioned."""
    known = list(columns)
    positions = suite._positions or PositionMap()
    display = suite._file or f"<suite {suite.name}>"
    issues = []
    for i, spec in enumerate(suite.expectations):
        for key, column, path in _named_columns(spec):
            if column in known:
                continue
            message = (
                f"{spec.type} reads column {column!r}, which the mapped table does not have."
                f"{_column_hint(column, known)}"
            )
            base = ("expectations", i, "kwargs", key)
            issues.append(_issue(positions, display, base, Problem(path, message)))
    return issues


def check_suite_columns(suite: SuiteSpec, columns: Iterable[str]) -> list[str]:
    """`suite_column_issues` as `file:line:column: path: message` lines."""
    return [str(issue) for issue in suite_column_issues(suite, columns)]


def _named_columns(spec: ExpectationSpec) -> Iterable[tuple[str, str, tuple[Hashable, ...]]]:
    for key in ("column", "column_A", "column_B"):
        value = spec.kwargs.get(key)
        if isinstance(value, str):
            yield key, value, ()
    listed = spec.kwargs.get("column_list")
    if isinstance(listed, list):
        for j, value in enumerate(listed):
            if isinstance(value, str):
                yield "column_list", value, (j,)


def _column_hint(column: str, known: list[str]) -> str:
    same_but_case = [k for k in known if k.lower() == column.lower()]
    if same_but_case:
        return f" Did you mean {same_but_case[0]!r}? (column names are case-sensitive)"
    return did_you_mean(column, known)
