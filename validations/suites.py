"""Expectation suites as files: `validations/suites/<name>.yaml`, GX 1.x expectations by name.

    name: customers            # equals the file stem: mapping specs refer to suites by it
    description: What a loadable customer looks like.
    expectations:
      - type: expect_column_values_to_match_regex
        kwargs: {column: email, regex: '^[^@\\s]+@[^@\\s]+\\.[A-Za-z]{2,}$'}
        severity: row          # row | batch | warn (default row)
        description: Emails must be deliverable.

`type` is a GX expectation type in snake_case, as in GX's JSON suites, or the name of one of
the project's own expectations (`ferryman.validations.custom`: classes in
`validations/expectations/*.py`); `kwargs` are its arguments, `mostly` included.

`applies_to` (on the suite, or on one expectation) says when it runs: `rows` (the default)
on every mapped batch before it loads, through GX's pandas engine; `target` once the
table is loaded, on the whole target table through GX's SQL engine
(`ferryman.validations.post_load`):
what only the loaded table can show (uniqueness across batches, row counts, a SQL query
against other tables). After the load `severity: row` has no meaning (the rows are in);
`batch` stops the run, `warn` reports.

Loading checks everything GX would only find at run time, and reports all of it at once
with file:line:column (`ferryman.validations.checks`). `suite_column_issues` runs at
`ferryman check`, once the mapped columns are known.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, PrivateAttr, ValidationError

from ferryman.mappings.loader import PositionMap, SpecError, SpecIssue, validate_data
from ferryman.mappings.model import StrictModel
from ferryman.suggest import did_you_mean
from ferryman.validations.checks import (
    ROWS,
    Problem,
    construct,
    expectation_problems,
    gx_arguments,
)
from ferryman.validations.custom import (
    NONE,
    CustomExpectations,
    expectations_folder,
    load_custom_expectations,
)
from ferryman.validations.gx_context import core_expectation_classes
from ferryman.yaml_positions import UNREADABLE, YamlPath, read_yaml

SUITE_SUFFIXES = (".yaml", ".yml")
Severity = Literal["row", "batch", "warn"]
Stage = Literal["rows", "target"]

__all__ = [
    "ExpectationSpec",
    "Problem",
    "SuiteSpec",
    "build_expectation",
    "expectation_problems",
    "load_suite",
    "load_suites",
    "suite_column_issues",
]


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
    applies_to: Stage | None = Field(
        default=None,
        description="rows: checked on each mapped batch before it loads; target: checked on"
        " the loaded table after the load. Default: the suite's `applies_to`.",
    )

    @property
    def columns(self) -> list[str]:
        """The mapped columns this expectation reads (column, column_A/B, column_list)."""
        return [column for _, column in _named_columns(self)]


class SuiteSpec(StrictModel):
    """A named set of expectations, run on every mapped batch of the tables that use it."""

    name: str = Field(
        pattern=r"^[A-Za-z_][A-Za-z0-9_-]*$",
        description="The suite's name; equals the file name without .yaml.",
    )
    description: str | None = Field(default=None, description="What the suite checks.")
    applies_to: Stage = Field(
        default="rows",
        description="rows (default): every mapped batch, before it loads; target: the loaded"
        " table, once the table's load is done. An expectation may set its own.",
    )
    expectations: list[ExpectationSpec] = Field(
        min_length=1, description="The expectations, run together on each batch."
    )
    # Where the suite was loaded from, for positioned messages after loading.
    _file: str | None = PrivateAttr(default=None)
    _positions: PositionMap | None = PrivateAttr(default=None)
    _custom: CustomExpectations = PrivateAttr(default=NONE)

    def stage(self, spec: ExpectationSpec) -> str:
        """Where `spec` runs: `rows` (before the load) or `target` (after it)."""
        return spec.applies_to or self.applies_to

    @property
    def custom(self) -> CustomExpectations:
        """The project's own expectations this suite may name."""
        return self._custom

    def classes(self) -> dict[str, Any]:
        """Every expectation this suite may name: GX's and the project's."""
        return known_classes(self._custom)


def known_classes(custom: CustomExpectations) -> dict[str, Any]:
    return {**core_expectation_classes(), **custom.classes}


def build_expectation(
    spec: ExpectationSpec,
    meta: dict[str, Any] | None = None,
    *,
    classes: Mapping[str, Any] | None = None,
    stage: str = ROWS,
) -> Any:
    """The GX expectation object of `spec`; ValueError listing every problem if invalid."""
    known = classes if classes is not None else core_expectation_classes()
    problems = expectation_problems(spec, known, stage)
    if problems:
        details = "; ".join(f"{'.'.join(map(str, p.path))}: {p.message}" for p in problems)
        raise ValueError(f"invalid expectation {spec.type}: {details}")
    return construct(known[spec.type], gx_arguments(spec), meta=meta)


# --- loading ------------------------------------------------------------------------------


def load_suite(
    path: Path, *, display_path: str | None = None, custom: CustomExpectations | None = None
) -> SuiteSpec:
    """One suite file; raises SpecError with every issue of the file, positioned.

    The project's own expectations come from `validations/expectations/` beside the suites
    folder unless `custom` is given; modules of it that failed to import are reported too.
    """
    if custom is None:
        custom = load_custom_expectations(expectations_folder(path.parent))
        return _load_suite(path, display_path, custom, list(custom.issues))
    return _load_suite(path, display_path, custom, [])


def _load_suite(
    path: Path, display_path: str | None, custom: CustomExpectations, issues: list[SpecIssue]
) -> SuiteSpec:
    display = display_path if display_path is not None else str(path)
    data, positions, read_issues = read_yaml(path, display)
    if data is UNREADABLE:
        raise SpecError(issues + read_issues)
    suite, model_issues = validate_data(data, positions, SuiteSpec, display_path=display)
    issues = issues + read_issues + model_issues
    if isinstance(data, Mapping):
        issues += _file_issues(data, path.stem, positions, display, custom)
    if suite is None or issues:
        raise SpecError(issues)
    suite._file, suite._positions, suite._custom = display, positions, custom
    return suite


def load_suites(directory: Path, *, root: Path | None = None) -> dict[str, SuiteSpec]:
    """Every `*.yaml`/`*.yml` suite in `directory` by name; one SpecError for all files.

    File names in messages are relative to `root` when given (the project folder). A custom
    expectation module that fails to import is reported once, before the suites.
    """
    custom = load_custom_expectations(expectations_folder(directory), root=root)
    issues: list[SpecIssue] = list(custom.issues)
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
            suites[path.stem] = load_suite(path, display_path=display, custom=custom)
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
    data: Mapping[Hashable, Any],
    stem: str,
    positions: PositionMap,
    display: str,
    custom: CustomExpectations,
) -> list[SpecIssue]:
    """What the model cannot check: the name matches the file, and each expectation is
    one GX accepts and can run where it applies."""
    issues = []
    name = data.get("name")
    if isinstance(name, str) and name != stem:
        message = (
            f"suite name {name!r} differs from the file name {stem!r}; mapping specs name"
            f" suites by file, so rename the suite to {stem!r} or the file to {name}.yaml"
        )
        issues.append(_issue(positions, display, ("name",), Problem((), message)))
    suite_stage = data.get("applies_to", ROWS)
    if suite_stage not in ("rows", "target"):
        suite_stage = ROWS  # the model validation reported it already
    classes = known_classes(custom)
    entries = data.get("expectations")
    for i, raw in enumerate(entries if isinstance(entries, list) else []):
        try:
            spec = ExpectationSpec.model_validate(raw)
        except ValidationError:
            continue  # wrong shape: the model validation reported it already
        stage = spec.applies_to or suite_stage
        for problem in expectation_problems(spec, classes, stage, custom.broken_files):
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
    """Expectations naming a column the mapped table does not have, positioned (a column
    that a custom expectation's class sets by default is reported at its `type`)."""
    known = list(columns)
    positions = suite._positions or PositionMap()
    display = suite._file or f"<suite {suite.name}>"
    classes = suite.classes()
    issues = []
    for i, spec in enumerate(suite.expectations):
        for path, column in _named_columns(spec, classes.get(spec.type)):
            if column in known:
                continue
            by_default = " (by default of its class)" if path == ("type",) else ""
            message = (
                f"{spec.type} reads column {column!r}{by_default}, which the mapped table"
                f" does not have.{_column_hint(column, known)}"
            )
            base = ("expectations", i)
            issues.append(_issue(positions, display, base, Problem(path, message)))
    return issues


def expectation_columns(spec: ExpectationSpec, cls: Any = None) -> list[str]:
    """The columns `spec` reads: its kwargs', and those its class sets by default."""
    return [column for _, column in _named_columns(spec, cls)]


_COLUMN_KEYS = ("column", "column_A", "column_B")


def _named_columns(spec: ExpectationSpec, cls: Any = None) -> Iterable[tuple[YamlPath, str]]:
    """(path relative to the expectation, column) of every column it names."""
    defaults = _class_defaults(cls)
    for key in _COLUMN_KEYS:
        value = spec.kwargs.get(key)
        if isinstance(value, str):
            yield ("kwargs", key), value
        elif key not in spec.kwargs and isinstance(defaults.get(key), str):
            yield ("type",), defaults[key]
    listed = spec.kwargs.get("column_list", defaults.get("column_list"))
    if isinstance(listed, list):
        in_kwargs = "column_list" in spec.kwargs
        for j, value in enumerate(listed):
            if isinstance(value, str):
                yield (("kwargs", "column_list", j) if in_kwargs else ("type",)), value


def _class_defaults(cls: Any) -> dict[str, Any]:
    fields = getattr(cls, "__fields__", None) or {}
    keys = (*_COLUMN_KEYS, "column_list")
    return {k: fields[k].default for k in keys if k in fields and fields[k].default is not None}


def _column_hint(column: str, known: list[str]) -> str:
    same_but_case = [k for k in known if k.lower() == column.lower()]
    if same_but_case:
        return f" Did you mean {same_but_case[0]!r}? (column names are case-sensitive)"
    return did_you_mean(column, known)
