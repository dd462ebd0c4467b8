"""Run expectation suites on a mapped batch; failing rows become quarantine rejects.

Severity decides what a failure does:

* `row`: the failing rows are quarantined (one `Reject` per row and expectation) and the
  other rows load. GX's `mostly` keeps its meaning as a tolerance, but never lets a failing
  row through: with `mostly: 0.95` the failing rows are quarantined either way, and when
  more than 5% of the batch fails the expectation also fails the batch (`batch_failures`),
  because that many bad rows means something upstream is broken. Without `mostly`, failing
  rows are only quarantined.
* `batch`: a failure goes to `batch_failures`; the flow's gate stops the load.
* `warn`: a failure goes to `warnings`, for the report.

An expectation that cannot run on this batch (GX raised, e.g. comparing a timestamp column
with a date) is a batch failure for `row` and `batch` (we cannot prove the rows are good)
and a warning for `warn`.

Nulls: as in GX, column-map expectations skip nulls (a null email matches any regex);
`expect_column_values_to_not_be_null` is the rule that rejects them.
Uniqueness rules (`expect_column_values_to_be_unique`, compound keys) see one batch only.

Cost: one GX pass with BASIC results (counts and a few examples) over every expectation,
then one pass with COMPLETE results (the failing rows' indexes) over the `row` expectations
that found failing rows, on the same loaded batch. GX has a fixed cost of ~15-20 ms per
pass; measured on 5,000 rows with 4 expectations: 24 ms for a clean batch, 41 ms for one
with failing rows (a single COMPLETE pass would cost ~37 ms either way).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from connectors.base import ROW_POSITION
from mappings.compile import ROW_INDEX
from mappings.rejects import Reject
from validations.gx_context import VALIDATION_LOCK, LoadedBatch, import_gx, is_row_level
from validations.suites import ExpectationSpec, SuiteSpec, build_expectation

INTERNAL_PREFIX = "__ferryman_"
_META_KEY = "ferryman_check"
_BASIC = {"result_format": "BASIC", "partial_unexpected_count": 5}
_COMPLETE = {
    "result_format": "COMPLETE",
    "partial_unexpected_count": 0,
    "return_unexpected_index_query": False,
}


@dataclass(frozen=True)
class ExpectationOutcome:
    """How one expectation fared on one batch, for the report."""

    type: str
    column: str | None
    severity: str
    success: bool
    unexpected_count: int
    element_count: int
    unexpected_percent: float | None
    description: str | None
    suite: str = ""
    observed: str | None = None
    """The measured value of a batch-level expectation (a mean, a row count)."""
    error: str | None = None
    """Why GX could not run the expectation on this batch, if it could not."""


@dataclass(frozen=True)
class ValidationOutcome:
    rejects: list[Reject]
    """One per failing row and `row` expectation; `row` is the batch's ROW_INDEX."""
    outcomes: list[ExpectationOutcome]
    """Every expectation, in suite order."""
    batch_failures: list[str]
    """Why the batch must not load: failed `batch` expectations, `row` ones over `mostly`."""
    warnings: list[str]
    """Failed `warn` expectations."""


@dataclass(frozen=True)
class _Check:
    suite: str
    spec: ExpectationSpec
    expectation: Any
    row_level: bool

    @property
    def label(self) -> str:
        columns = self.spec.columns
        on = f" on {', '.join(columns)}" if columns else ""
        why = f" ({self.spec.description})" if self.spec.description else ""
        return f"suite {self.suite!r}: {self.spec.type}{on}{why}"

    @property
    def tolerant(self) -> bool:
        """`mostly` below 1: too many failing rows also fail the batch."""
        mostly = self.spec.kwargs.get("mostly")
        return isinstance(mostly, int | float) and mostly < 1


class SuiteRunner:
    """Validates mapped batches against suites; built once per table, used per batch."""

    def __init__(self, suites: Sequence[SuiteSpec]) -> None:
        self._checks: list[_Check] = []
        for suite in suites:
            for spec in suite.expectations:
                expectation = build_expectation(spec, meta={_META_KEY: len(self._checks)})
                row_level = is_row_level(spec.type)
                self._checks.append(_Check(suite.name, spec, expectation, row_level))
        self._name = "+".join(s.name for s in suites) or "empty"
        self._suite = _gx_suite(self._name, [c.expectation for c in self._checks])

    def validate(self, rows: pa.Table) -> ValidationOutcome:
        """Run every expectation on `rows` (target columns plus ROW_POSITION and ROW_INDEX)."""
        if not self._checks:
            return ValidationOutcome([], [], [], [])
        _require_columns(rows)
        with VALIDATION_LOCK:
            batch = LoadedBatch(to_frame(rows))
            first = _by_check(batch.validate(self._suite, _BASIC))
            dirty = [i for i, c in enumerate(self._checks) if _has_failing_rows(c, first[i])]
            detail: dict[int, Any] = {}
            if dirty:
                rows_suite = _gx_suite(self._name, [self._checks[i].expectation for i in dirty])
                detail = _by_check(batch.validate(rows_suite, _COMPLETE))
        return self._outcome(rows, first, detail)

    def _outcome(
        self, rows: pa.Table, first: dict[int, Any], detail: dict[int, Any]
    ) -> ValidationOutcome:
        outcome = ValidationOutcome([], [], [], [])
        for i, check in enumerate(self._checks):
            result = first[i]
            verdict = _expectation_outcome(check, result, rows.num_rows)
            outcome.outcomes.append(verdict)
            warn = check.spec.severity == "warn"
            complaints = outcome.warnings if warn else outcome.batch_failures
            if verdict.error is not None:
                complaints.append(f"{check.label} could not run on this batch: {verdict.error}")
                continue
            if i in detail:
                if not _listed_rows(detail[i]):
                    outcome.batch_failures.append(f"{check.label}: {_UNLISTED}")
                else:
                    outcome.rejects.extend(_rejects(check, detail[i], rows))
            if not verdict.success and (check.spec.severity != "row" or check.tolerant):
                complaints.append(describe_failure(check.label, check.spec, verdict, result.result))
        return outcome


_UNLISTED = "GX did not list the failing rows, so they cannot be quarantined; use severity batch"


def _gx_suite(name: str, expectations: list[Any]) -> Any:
    return import_gx().ExpectationSuite(name=name, expectations=expectations)


def to_frame(rows: pa.Table) -> pd.DataFrame:
    """The batch as GX sees it: target columns only, Arrow-backed dtypes, index 0..n-1.

    Arrow dtypes keep ints with nulls as ints and dates as dates (GX 1.24 compares date32
    and timestamp columns with date bounds correctly). One exception, found by testing
    GX 1.24 on pandas 3: on an Arrow decimal column `expect_column_values_to_be_in_set`
    and `..._not_be_in_set` raise ("Rescaling Decimal value would cause data loss" when
    the set holds integers), and as Python `Decimal` objects mean/stdev/sum fail on nulls.
    Decimals therefore go to GX as float64, which is what GX compares them with anyway (it
    parses `min_value`/`max_value` into floats); beyond 15 significant digits comparisons
    are approximate. Rejects quote the exact decimal from the batch, never the float.
    """
    keep = [name for name in rows.column_names if not name.startswith(INTERNAL_PREFIX)]
    table = rows.select(keep)
    for i, field in enumerate(table.schema):
        if pa.types.is_decimal(field.type):
            table = table.set_column(i, field.name, pc.cast(table.column(i), pa.float64()))
    return table.to_pandas(types_mapper=pd.ArrowDtype)


def _require_columns(rows: pa.Table) -> None:
    missing = [c for c in (ROW_POSITION, ROW_INDEX) if c not in rows.column_names]
    if missing:
        raise ValueError(
            f"the batch given to validation lacks {', '.join(missing)}: validate the mapped"
            " batch (mappings.compile output), which carries each row's index and position"
        )


def _by_check(results: list[Any]) -> dict[int, Any]:
    """GX returns results grouped by domain, not in suite order: match them by meta."""
    return {int(r.expectation_config.meta[_META_KEY]): r for r in results}


def _error(result: Any) -> str | None:
    """GX's exception message when the expectation raised, else None.

    `exception_info` is either one {raised_exception, exception_message, ...} dict, or one
    such dict per metric that raised, keyed by the metric's id.
    """
    info = result.exception_info or {}
    entries = [info] if "raised_exception" in info else list(info.values())
    for entry in entries:
        if isinstance(entry, dict) and entry.get("raised_exception"):
            return _with_hint(str(entry.get("exception_message") or "unknown error"))
    return None


_TYPE_CLASHES = (
    "not supported between instances of",
    "Cannot compare",
    "must either be None or of the same type",
)


def _with_hint(message: str) -> str:
    if any(clash in message for clash in _TYPE_CLASHES):
        return (
            f"{message} (the expectation's bounds or values have another type than the"
            " column: a timestamp column needs bounds like 2024-01-01 00:00:00, a number"
            " column numbers, a text column text)"
        )
    return message


def _has_failing_rows(check: _Check, result: Any) -> bool:
    if not check.row_level or check.spec.severity != "row" or _error(result):
        return False
    return bool(result.result.get("unexpected_count"))


def _expectation_outcome(check: _Check, result: Any, num_rows: int) -> ExpectationOutcome:
    details = result.result or {}
    error = _error(result)
    observed = details.get("observed_value")
    columns = check.spec.columns
    return ExpectationOutcome(
        type=check.spec.type,
        column=columns[0] if len(columns) == 1 else None,
        severity=check.spec.severity,
        success=bool(result.success) and error is None,
        unexpected_count=int(details.get("unexpected_count") or 0),
        element_count=int(details.get("element_count", num_rows)),
        unexpected_percent=details.get("unexpected_percent"),
        description=check.spec.description,
        suite=check.suite,
        observed=None if observed is None else value_text(observed),
        error=error,
    )


def _listed_rows(result: Any) -> bool:
    return result.result.get("unexpected_index_list") is not None and _error(result) is None


def _rejects(check: _Check, result: Any, rows: pa.Table) -> list[Reject]:
    """One Reject per failing row: its batch ROW_INDEX and position, the exact value."""
    taken = pa.array([int(i) for i in result.result["unexpected_index_list"]], pa.int64())
    row_index = rows.column(ROW_INDEX).take(taken).to_pylist()
    where = rows.column(ROW_POSITION).take(taken).to_pylist()
    columns = [c for c in check.spec.columns if c in rows.column_names]
    values = {c: rows.column(c).take(taken).to_pylist() for c in columns}
    phrase = violation_phrase(check.spec)
    rejects = []
    for n in range(len(taken)):
        row_values = {c: values[c][n] for c in columns}
        rejects.append(
            Reject(
                row=int(row_index[n]),
                position=str(where[n]),
                column=columns[0] if len(columns) == 1 else None,
                raw_value=_raw_value(row_values),
                rule=check.spec.type,
                message=violation(check.spec, phrase, row_values),
            )
        )
    return rejects


def _raw_value(row_values: dict[str, Any]) -> str | None:
    if len(row_values) == 1:
        (value,) = row_values.values()
        return None if value is None else value_text(value)
    if not row_values:
        return None
    return ", ".join(f"{c}={'' if v is None else value_text(v)}" for c, v in row_values.items())


# --- messages -----------------------------------------------------------------------------


def value_text(value: Any) -> str:
    """A value as an engineer would type it: 2024-01-31, 12.50, true, john.doe@."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dt.datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, Decimal | int | float | str):
        return str(value)
    try:
        return json.dumps(value, default=str, ensure_ascii=False)
    except (TypeError, ValueError):
        return str(value)


def _shown(value: Any) -> str:
    """A value inside a sentence: text quoted, long text cut."""
    text = value_text(value)
    if len(text) > 80:
        text = text[:77] + "..."
    return repr(text) if isinstance(value, str) else text


def _range(kw: dict[str, Any], unit: str = "") -> str:
    lo, hi = kw.get("min_value"), kw.get("max_value")
    strict = kw.get("strict_min") or kw.get("strict_max")
    if lo is not None and hi is not None and not strict:
        return f"between {value_text(lo)} and {value_text(hi)}{unit}"
    low = "greater than" if kw.get("strict_min") else "at least"
    high = "less than" if kw.get("strict_max") else "at most"
    parts = [f"{low} {value_text(lo)}{unit}" if lo is not None else ""]
    parts.append(f"{high} {value_text(hi)}{unit}" if hi is not None else "")
    return " and ".join(p for p in parts if p)


def _items(values: Any) -> str:
    values = list(values or [])
    more = ", ..." if len(values) > 10 else ""
    return "{" + ", ".join(_shown(v) for v in values[:10]) + more + "}"


def _fields(kw: dict[str, Any]) -> dict[str, Any]:
    """The words the sentence templates below are filled with."""
    patterns = ", ".join(map(str, kw.get("regex_list") or []))
    return {
        "regex": kw.get("regex"),
        "patterns": patterns,
        "how": "all" if kw.get("match_on") == "all" else "any",
        "range": _range(kw),
        "lengths": _range(kw, " characters"),
        "set": _items(kw.get("value_set")),
        "value": kw.get("value"),
        "format": kw.get("strftime_format"),
        "threshold": kw.get("threshold"),
        "A": kw.get("column_A"),
        "B": kw.get("column_B"),
        "than": "at least" if kw.get("or_equal") else "greater than",
        "sum_total": kw.get("sum_total"),
    }


# What a failing row "does", completing "email 'john.doe@' ..." or "the values (a=1, b=2) ...".
_VIOLATIONS = {
    "expect_column_values_to_match_regex": "does not match the pattern {regex}",
    "expect_column_values_to_not_match_regex": "matches the forbidden pattern {regex}",
    "expect_column_values_to_match_regex_list": "does not match {how} of the patterns {patterns}",
    "expect_column_values_to_not_match_regex_list": "matches a forbidden pattern of {patterns}",
    "expect_column_values_to_not_be_null": "is missing (null)",
    "expect_column_values_to_be_null": "should be empty (null)",
    "expect_column_values_to_be_between": "is not {range}",
    "expect_column_values_to_be_in_set": "is not one of {set}",
    "expect_column_values_to_not_be_in_set": "is one of the forbidden values {set}",
    "expect_column_value_lengths_to_be_between": "is not {lengths} long",
    "expect_column_value_lengths_to_equal": "is not {value} characters long",
    "expect_column_values_to_be_unique": "occurs more than once in the batch",
    "expect_column_values_to_match_strftime_format": "does not have the date format {format}",
    "expect_column_values_to_be_dateutil_parseable": "is not a recognisable date",
    "expect_column_values_to_be_json_parseable": "is not valid JSON",
    "expect_column_values_to_match_json_schema": "does not match the JSON schema",
    "expect_column_values_to_be_increasing": "is not above the value of the row before",
    "expect_column_values_to_be_decreasing": "is not below the value of the row before",
    "expect_column_value_z_scores_to_be_less_than": "is an outlier (z-score over {threshold})",
    "expect_column_values_to_not_be_outliers": "is an outlier",
    "expect_column_pair_values_to_be_equal": "differ",
    "expect_column_pair_values_to_be_in_set": "are not an allowed pair",
    "expect_column_pair_values_a_to_be_greater_than_b": "do not have {A} {than} {B}",
    "expect_compound_columns_to_be_unique": "occur more than once in the batch",
    "expect_multicolumn_values_to_be_equal": "are not all equal",
    "expect_select_column_values_to_be_unique_within_record": "repeat a value within the row",
    "expect_multicolumn_sum_to_equal": "do not add up to {sum_total}",
}


def violation_phrase(spec: ExpectationSpec) -> str:
    """What a failing value does, e.g. `does not match the pattern ^[0-9]+$`."""
    template = _VIOLATIONS.get(spec.type)
    if template is None:
        return f"fails {spec.type}"
    return template.format_map(_fields(spec.kwargs))


def violation(spec: ExpectationSpec, phrase: str, row_values: dict[str, Any]) -> str:
    """The sentence for one failing row: `email 'john.doe@' does not match the pattern ...`."""
    if len(row_values) == 1:
        ((column, value),) = row_values.items()
        subject = column if value is None else f"{column} {_shown(value)}"
    else:
        shown = (f"{c}={'null' if v is None else _shown(v)}" for c, v in row_values.items())
        subject = f"the values ({', '.join(shown)})"
    why = f" ({spec.description})" if spec.description else ""
    return f"{subject} {phrase}{why}"


def describe_failure(
    label: str, spec: ExpectationSpec, outcome: ExpectationOutcome, result: dict[str, Any]
) -> str:
    """The sentence for a failed verdict on the batch, with numbers and a few examples."""
    if outcome.observed is not None or "unexpected_count" not in result:
        wanted = ", ".join(f"{k}={value_text(v)}" for k, v in spec.kwargs.items() if k != "column")
        return f"{label}: observed {outcome.observed}, expected {wanted or 'otherwise'}"
    share = ""
    if outcome.unexpected_percent is not None:
        share = f" ({outcome.unexpected_percent:.2f}%)"
    examples = [_shown(v) for v in result.get("partial_unexpected_list") or [] if v is not None]
    e_g = f"; e.g. {', '.join(examples[:3])}" if examples else ""
    mostly = spec.kwargs.get("mostly")
    allowed = f", more than `mostly: {mostly}` allows" if mostly is not None else ""
    return (
        f"{label}: {outcome.unexpected_count} of {outcome.element_count} rows{share}"
        f" {violation_phrase(spec)}{allowed}{e_g}"
    )
