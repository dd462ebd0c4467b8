"""Checking one expectation of a suite before anything runs: everything GX would reject or
fail on at run time, as `Problem`s positioned relative to the expectation's entry.

What is checked: the type is known (GX's own expectations and the project's custom ones,
with did-you-mean), the arguments are the ones GX accepts with values of the right kind
(GX's own pydantic validation of the expectation, turned into sentences), regexes compile,
`severity: row` only on expectations that judge each row and only before the load, and the
expectation can run where it applies: on the mapped rows (pandas) or on the loaded table
(SQL).
"""

from __future__ import annotations

import contextlib
import io
import re
from collections.abc import Hashable, Iterable, Mapping
from dataclasses import dataclass
from string import Formatter
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from ferryman.mappings.issues import describe, value_at
from ferryman.suggest import did_you_mean
from ferryman.validations.gx_context import (
    in_memory_problem,
    is_row_level,
    reserved_arguments,
    runs_sql,
    sql_problem,
)

if TYPE_CHECKING:
    from ferryman.validations.suites import ExpectationSpec

ROWS, TARGET = "rows", "target"
_QUERY = ("kwargs", "unexpected_rows_query")


@dataclass(frozen=True)
class Problem:
    """One thing wrong with one expectation, at a path relative to it."""

    path: tuple[Hashable, ...]
    message: str
    at_key: bool = False
    """Point at the key (an unknown or missing argument) rather than the value."""
    offset: int | None = None
    """Character offset inside the scalar (a regex error)."""


def expectation_problems(
    spec: ExpectationSpec,
    classes: Mapping[str, Any],
    stage: str = ROWS,
    broken_files: Iterable[str] = (),
) -> list[Problem]:
    """Everything GX would reject or fail on at run time, found now.

    `classes` are the expectations known by name (GX's and the project's); `stage` is where
    the expectation runs (`rows` before the load, `target` after it); `broken_files` are
    custom expectation modules that failed to import (an unknown name may be in one)."""
    cls = classes.get(spec.type)
    if cls is None:
        return [Problem(("type",), _unknown_type(spec.type, classes, broken_files))]
    query = _query_problems(cls, spec)
    arguments = [  # the query's own sentence says it better than GX's
        p for p in _kwarg_problems(cls, spec) if not (query and p.path[:2] == _QUERY)
    ]
    problems = _reserved_problems(spec) + query + arguments + _regex_problems(spec)
    problems += _severity_problems(cls, spec, stage)
    reason = in_memory_problem(cls) if stage == ROWS else sql_problem(cls)
    if reason:
        where = "on the mapped rows" if stage == ROWS else "on the loaded table"
        problems.append(Problem(("type",), f"{spec.type} cannot run {where}: {reason}"))
    return problems


def _unknown_type(name: str, known: Iterable[str], broken_files: Iterable[str]) -> str:
    broken = list(broken_files)
    if broken:  # a near name among the others would only mislead
        return (
            f"unknown expectation {name!r}; it may be defined in {', '.join(broken)}, which"
            " failed to import: fix that first (see its error)"
        )
    hint = did_you_mean(name, known)
    if hint.startswith(" Did you mean"):
        return f"unknown expectation {name!r}.{hint}"
    return (
        f"unknown expectation {name!r}: use a GX 1.x expectation type in snake_case,"
        " such as expect_column_values_to_not_be_null, or one of the project's own in"
        " validations/expectations/*.py"
    )


_NOT_ROW_LEVEL = (
    "severity 'row'{1} needs an expectation that judges each row; {0} judges the batch as a"
    " whole, so there are no failing rows to quarantine: use `severity: batch` (a failure"
    " stops the load) or `severity: warn` (reported only)"
)
_ROW_AFTER_LOAD = (
    "severity 'row'{0} quarantines failing rows before they load, but this expectation runs"
    " after the load (`applies_to: target`), when the rows are already in the table: use"
    " `severity: batch` (a failure stops the run, exit code 3) or `severity: warn`"
)


def _severity_problems(cls: Any, spec: ExpectationSpec, stage: str) -> list[Problem]:
    if spec.severity != "row":
        return []
    default = "" if "severity" in spec.model_fields_set else " (the default)"
    if stage == TARGET:
        return [Problem(("severity",), _ROW_AFTER_LOAD.format(default))]
    if not is_row_level(cls) and not runs_sql(cls):  # SQL ones are refused by stage already
        return [Problem(("severity",), _NOT_ROW_LEVEL.format(spec.type, default))]
    return []


_SAFE_PARSERS = ("great_expectations", "great_expectations__experimental__")


def _reserved_problems(spec: ExpectationSpec) -> list[Problem]:
    problems = []
    for name, value in spec.kwargs.items():
        if name in ("severity", "description", "applies_to"):
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


def _query_problems(cls: Any, spec: ExpectationSpec) -> list[Problem]:
    """A SQL expectation's query must read `{batch}` (the loaded table). GX only prints a
    warning to stdout when it does not, and then queries whatever the SQL names."""
    if not runs_sql(cls):
        return []
    in_kwargs = "unexpected_rows_query" in spec.kwargs
    field = cls.__fields__.get("unexpected_rows_query")
    query = spec.kwargs.get("unexpected_rows_query", getattr(field, "default", None))
    path: tuple[Hashable, ...] = _QUERY if in_kwargs else ("type",)
    if not isinstance(query, str):
        return []  # missing or not text: GX's own argument check says so
    try:
        names = {f[1] for f in Formatter().parse(query)}
    except ValueError as err:
        text = f"the query has an unpaired brace ({err}); write a literal brace as {{{{ or }}}}"
        return [Problem(path, text)]
    if "batch" not in names:
        text = (
            "the query must read the table through {batch} (e.g. SELECT * FROM {batch}"
            " WHERE amount < 0): GX puts the loaded table there"
        )
        return [Problem(path, text)]
    alias = _BATCH_ALIAS.search(query)
    if alias and alias.group("name").upper() not in _FOLLOWS_A_TABLE:
        text = (
            f"{{batch}} cannot take an alias ({alias.group(0).strip()!r}): GX puts an aliased"
            " subquery there. To name the table, wrap it: FROM (SELECT * FROM {batch}) AS"
            f" {alias.group('name')}"
        )
        offset = alias.start() if in_kwargs else None
        return [Problem(path, text, offset=offset)]
    return []


_BATCH_ALIAS = re.compile(r"\{batch\}\s+(?:AS\s+)?(?P<name>[A-Za-z_][A-Za-z0-9_]*)", re.IGNORECASE)
# Words that may follow a table in FROM without being its alias.
_FOLLOWS_A_TABLE = frozenset(
    (
        *("WHERE", "GROUP", "ORDER", "HAVING", "LIMIT", "OFFSET", "FETCH", "FOR", "WINDOW"),
        *("UNION", "EXCEPT", "INTERSECT", "JOIN", "INNER", "LEFT", "RIGHT", "FULL", "CROSS"),
        *("NATURAL", "STRAIGHT_JOIN", "ON", "USING", "TABLESAMPLE"),
    )
)


def gx_arguments(spec: ExpectationSpec) -> dict[str, Any]:
    return {k: v for k, v in spec.kwargs.items() if k not in reserved_arguments()}


def construct(cls: Any, arguments: dict[str, Any], **extra: Any) -> Any:
    """`cls(**arguments)`, with anything GX prints while checking them kept off stdout
    (`--json` prints one JSON document there)."""
    with contextlib.redirect_stdout(io.StringIO()):
        return cls(**arguments, **extra)


def _kwarg_problems(cls: Any, spec: ExpectationSpec) -> list[Problem]:
    """GX's own (pydantic v1) validation of the arguments, as positioned sentences."""
    from pydantic.v1 import ValidationError as V1ValidationError

    try:
        construct(cls, gx_arguments(spec))
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


def _expected(error: dict[str, Any]) -> str | None:
    """What a pydantic v1 error says the value should be, in words (None: unknown)."""
    if error["type"] == "type_error":  # pydantic's date/datetime parsers: "invalid type; ..."
        msg = str(error.get("msg", ""))
        if msg.startswith("invalid type; expected datetime"):
            return _V1_EXPECTED["value_error.datetime"]
        if msg.startswith("invalid type; expected date"):
            return _V1_EXPECTED["value_error.date"]
    return _V1_EXPECTED.get(error["type"])


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
    phrases = [_expected(e) for e in group]
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
