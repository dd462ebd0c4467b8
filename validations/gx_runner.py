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

Cost: GX has a fixed cost per pass and per expectation (building its metric graph: about
half of the time on a 50,000-row batch), so each batch gets as few passes as possible: one
with BASIC results (counts and a few examples) for the expectations whose rows were clean
in the previous batch, one with COMPLETE results (the failing rows' indexes) for the `row`
expectations that found failing rows in the previous batch, and a last COMPLETE pass only
for a `row` expectation that fails without having failed before. What GX reads is made
cheap too: numeric columns as NumPy where GX vectorises (see `to_frame`), and no batch
fingerprint (`gx_context`). `python -m bench.validation` measures it against the load.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import pyarrow as pa

from ferryman.connectors.base import ROW_POSITION
from ferryman.mappings.compile import ROW_INDEX
from ferryman.mappings.rejects import Reject
from ferryman.validations.checks import ROWS
from ferryman.validations.custom import CustomExpectations
from ferryman.validations.frames import INTERNAL_PREFIX, numpy_safe_columns, to_frame
from ferryman.validations.gx_context import (
    VALIDATION_LOCK,
    LoadedBatch,
    core_expectation_classes,
    import_gx,
    is_row_level,
)
from ferryman.validations.messages import (
    describe_failure,
    value_text,
    violation,
    violation_phrase,
)
from ferryman.validations.suites import (
    ExpectationSpec,
    SuiteSpec,
    build_expectation,
    expectation_columns,
)

__all__ = [
    "INTERNAL_PREFIX",
    "ExpectationOutcome",
    "SuiteRunner",
    "ValidationOutcome",
    "describe_failure",
    "to_frame",
    "value_text",
]

_META_KEY = "ferryman_check"
_BASIC = {"result_format": "BASIC", "partial_unexpected_count": 5}
_COMPLETE = {
    "result_format": "COMPLETE",
    "partial_unexpected_count": 5,
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
class Check:
    """One expectation of one suite, built for GX (shared with `ferryman.validations.post_load`)."""

    suite: str
    spec: ExpectationSpec
    expectation: Any
    row_level: bool
    columns: tuple[str, ...] = ()
    """The columns it reads, those its class sets by default included."""
    phrase: str = ""
    """What a failing value does, e.g. `is not one of {'DE', 'FR'}`."""

    @property
    def description(self) -> str | None:
        """The suite's words for the rule, else the custom expectation class's."""
        return self.spec.description or getattr(self.expectation, "description", None)

    @property
    def label(self) -> str:
        on = f" on {', '.join(self.columns)}" if self.columns else ""
        why = f" ({self.description})" if self.description else ""
        return f"suite {self.suite!r}: {self.spec.type}{on}{why}"

    @property
    def tolerant(self) -> bool:
        """`mostly` below 1: too many failing rows also fail the batch."""
        mostly = self.spec.kwargs.get("mostly")
        return isinstance(mostly, int | float) and mostly < 1


def build_checks(
    suites: Sequence[SuiteSpec], stage: str
) -> tuple[list[Check], list[CustomExpectations]]:
    """The checks of every expectation of `suites` that applies at `stage`, numbered in
    their `meta` (GX returns results in its own order), and the custom expectations they
    may use."""
    checks: list[Check] = []
    custom: list[CustomExpectations] = []
    for suite in suites:
        classes = suite.classes()
        custom.append(suite.custom)
        for spec in suite.expectations:
            if suite.stage(spec) != stage:
                continue
            meta = {_META_KEY: len(checks)}
            expectation = build_expectation(spec, meta, classes=classes, stage=stage)
            cls = classes[spec.type]
            columns = tuple(expectation_columns(spec, cls))
            phrase = _phrase(spec, expectation)
            checks.append(Check(suite.name, spec, expectation, is_row_level(cls), columns, phrase))
    return checks, custom


def _phrase(spec: ExpectationSpec, expectation: Any) -> str:
    """The violation phrase; a custom expectation is worded like the GX one it extends."""
    core = core_expectation_classes()
    if spec.type in core:
        return violation_phrase(spec)
    names = {cls: name for name, cls in core.items()}
    like = next((names[c] for c in type(expectation).__mro__ if c in names), None)
    defaults = {k: v for k, v in expectation.dict().items() if v is not None}
    return violation_phrase(spec, like, {**defaults, **spec.kwargs})


def register_custom(custom: Iterable[CustomExpectations]) -> None:
    """Point GX at the custom classes these checks were built from (under the lock)."""
    for c in custom:
        c.register()


class SuiteRunner:
    """Validates mapped batches against suites; built once per table, used per batch.

    Only the expectations that apply to the rows (`applies_to: rows`, the default) run
    here; `ferryman.validations.post_load` runs the others on the loaded table.
    """

    def __init__(self, suites: Sequence[SuiteSpec]) -> None:
        self._checks, self._custom = build_checks(suites, ROWS)
        self._name = "+".join(s.name for s in suites) or "empty"
        self._suite = _gx_suite(self._name, [c.expectation for c in self._checks])
        self._numpy_columns = numpy_safe_columns(
            (c.spec.type, c.expectation, c.columns) for c in self._checks
        )
        self._dirty: frozenset[int] = frozenset()
        """The `row` checks that found failing rows in the previous batch."""

    def validate(self, rows: pa.Table) -> ValidationOutcome:
        """Run every expectation on `rows` (target columns plus ROW_POSITION and ROW_INDEX).

        The `row` checks that found failing rows in the previous batch are asked for the
        failing rows' indexes (COMPLETE) straight away, the others for counts (BASIC):
        dirty legacy data tends to stay dirty from batch to batch, and GX computes a
        check's verdict again in every pass. A check that turns out to have failing rows
        without having been asked for them gets a second, COMPLETE pass.
        """
        if not self._checks:
            return ValidationOutcome([], [], [], [])
        _require_columns(rows)
        frame = to_frame(rows, self._numpy_columns)
        expected = sorted(self._dirty)
        others = [i for i in range(len(self._checks)) if i not in self._dirty]
        with VALIDATION_LOCK:
            register_custom(self._custom)
            batch = LoadedBatch(frame)
            detail = self._pass(batch, expected, _COMPLETE)
            first = {**self._pass(batch, others, _BASIC), **detail}
            missed = [i for i in others if _has_failing_rows(self._checks[i], first[i])]
            detail.update(self._pass(batch, missed, _COMPLETE))
        self._dirty = frozenset(
            i for i, c in enumerate(self._checks) if _has_failing_rows(c, first[i])
        )
        return self._outcome(rows, first, detail)

    def _pass(self, batch: LoadedBatch, checks: list[int], result_format: Any) -> dict[int, Any]:
        """GX's results for the checks numbered `checks`, by number."""
        if not checks:
            return {}
        if len(checks) == len(self._checks):
            return by_check(batch.validate(self._suite, result_format))
        suite = _gx_suite(self._name, [self._checks[i].expectation for i in checks])
        return by_check(batch.validate(suite, result_format))

    def _outcome(
        self, rows: pa.Table, first: dict[int, Any], detail: dict[int, Any]
    ) -> ValidationOutcome:
        outcome = ValidationOutcome([], [], [], [])
        for i, check in enumerate(self._checks):
            result = first[i]
            verdict = expectation_outcome(check, result, rows.num_rows)
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
                complaints.append(
                    describe_failure(check.label, check.spec, verdict, result.result, check.phrase)
                )
        return outcome


_UNLISTED = "GX did not list the failing rows, so they cannot be quarantined; use severity batch"


def _gx_suite(name: str, expectations: list[Any]) -> Any:
    return import_gx().ExpectationSuite(name=name, expectations=expectations)


def _require_columns(rows: pa.Table) -> None:
    missing = [c for c in (ROW_POSITION, ROW_INDEX) if c not in rows.column_names]
    if missing:
        raise ValueError(
            f"the batch given to validation lacks {', '.join(missing)}: validate the mapped"
            " batch (mappings.compile output), which carries each row's index and position"
        )


def by_check(results: list[Any]) -> dict[int, Any]:
    """GX returns results grouped by domain, not in suite order: match them by meta."""
    return {int(r.expectation_config.meta[_META_KEY]): r for r in results}


def result_error(result: Any) -> str | None:
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


def _has_failing_rows(check: Check, result: Any) -> bool:
    if not check.row_level or check.spec.severity != "row" or result_error(result):
        return False
    return bool(result.result.get("unexpected_count"))


def expectation_outcome(check: Check, result: Any, num_rows: int) -> ExpectationOutcome:
    details = result.result or {}
    error = result_error(result)
    observed = details.get("observed_value")
    columns = check.columns
    return ExpectationOutcome(
        type=check.spec.type,
        column=columns[0] if len(columns) == 1 else None,
        severity=check.spec.severity,
        success=bool(result.success) and error is None,
        unexpected_count=int(details.get("unexpected_count") or 0),
        element_count=int(details.get("element_count", num_rows)),
        unexpected_percent=details.get("unexpected_percent"),
        description=check.description,
        suite=check.suite,
        observed=None if observed is None else value_text(observed),
        error=error,
    )


def _listed_rows(result: Any) -> bool:
    return result.result.get("unexpected_index_list") is not None and result_error(result) is None


def _rejects(check: Check, result: Any, rows: pa.Table) -> list[Reject]:
    """One Reject per failing row: its batch ROW_INDEX and position, the exact value."""
    taken = pa.array([int(i) for i in result.result["unexpected_index_list"]], pa.int64())
    row_index = rows.column(ROW_INDEX).take(taken).to_pylist()
    where = rows.column(ROW_POSITION).take(taken).to_pylist()
    columns = [c for c in check.columns if c in rows.column_names]
    values = {c: rows.column(c).take(taken).to_pylist() for c in columns}
    phrase = check.phrase
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
                message=violation(check.spec, phrase, row_values, check.description),
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
