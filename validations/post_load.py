"""Suites on the loaded table: the expectations with `applies_to: target`.

Some rules can only be judged once a table is loaded: a key unique across all batches, a row
count, a total, a SQL query that joins other tables (`UnexpectedRowsExpectation`). They run
once per table after its last batch committed, on the whole target table (the rows there
before the run included), through GX's SQL engine: GX compiles each expectation into SQL
that the database runs, so the table is never read into memory. Works on SQLite,
PostgreSQL and MariaDB/MySQL.

Severity after the load: `batch` -> the run stops with a gate failure (exit code 3,
`on_gate_failure` decides whether the load stays or is rolled back); `warn` -> reported.
`row` is refused when the suite loads: the rows are already in the table.

An expectation GX cannot run on the table (a missing column, a function the database
lacks) counts as failed for `batch` and as a warning for `warn`, with GX's reason.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from sqlalchemy.engine import make_url

from ferryman.secrets import mask_text
from ferryman.validations.checks import TARGET
from ferryman.validations.gx_context import (
    VALIDATION_LOCK,
    import_gx,
    runs_sql,
    sql_table_batch,
    validate_batch_definition,
)
from ferryman.validations.gx_runner import (
    ExpectationOutcome,
    build_checks,
    by_check,
    expectation_outcome,
    register_custom,
    result_error,
)
from ferryman.validations.messages import describe_failure, describe_unexpected_rows
from ferryman.validations.suites import SuiteSpec

_SUMMARY = {"result_format": "SUMMARY", "partial_unexpected_count": 5}
_COMPLETE = {"result_format": "COMPLETE", "partial_unexpected_count": 5}


@dataclass(frozen=True)
class TargetTable:
    """Where a loaded table is: the target's SQLAlchemy URL (a secret: never shown), its
    schema, and the table's name."""

    url: str = field(repr=False)
    table: str
    schema: str | None = None

    @property
    def secrets(self) -> list[str]:
        """What must never appear in a message: the URL and its password."""
        return [self.url, make_url(self.url).password or ""]


@dataclass
class PostLoadOutcome:
    """How the table fared against its `applies_to: target` expectations."""

    table: str
    outcomes: list[ExpectationOutcome] = field(default_factory=list)
    """Every expectation, in suite order."""
    failures: list[str] = field(default_factory=list)
    """Failed (or could not run) `batch` expectations: the gate fails."""
    warnings: list[str] = field(default_factory=list)
    """Failed (or could not run) `warn` expectations."""
    seconds: float = 0.0

    @property
    def passed(self) -> bool:
        return not self.failures

    def to_json(self) -> dict[str, Any]:
        return {
            "table": self.table,
            "passed": self.passed,
            "failures": self.failures,
            "warnings": self.warnings,
            "seconds": round(self.seconds, 3),
            "expectations": [asdict(o) for o in self.outcomes],
        }


class PostLoadRunner:
    """Runs the `applies_to: target` expectations of some suites on a loaded table."""

    def __init__(self, suites: Sequence[SuiteSpec]) -> None:
        self._checks, self._custom = build_checks(suites, TARGET)
        self._name = "+".join(s.name for s in suites) or "empty"

    @property
    def empty(self) -> bool:
        """True when no expectation of the suites applies to the loaded table."""
        return not self._checks

    @property
    def gates(self) -> bool:
        """True when a failure would stop the run (some expectation has `severity: batch`)."""
        return any(c.spec.severity == "batch" for c in self._checks)

    def validate(self, target: TargetTable) -> PostLoadOutcome:
        """Run every expectation on the whole of `target.table` as committed."""
        started = time.perf_counter()
        outcome = PostLoadOutcome(target.table)
        if not self._checks:
            return outcome
        gx = import_gx()
        suite = gx.ExpectationSuite(self._name, expectations=[c.expectation for c in self._checks])
        with VALIDATION_LOCK:
            register_custom(self._custom)
            try:
                with sql_table_batch(target.url, target.table, target.schema) as definition:
                    results = by_check(validate_batch_definition(definition, suite, _SUMMARY))
                    rows = self._unexpected_rows(definition, results)
            except Exception as err:  # noqa: BLE001 - GX and the drivers raise anything
                self._unreachable(outcome, target, err)
                outcome.seconds = time.perf_counter() - started
                return outcome
        for i, check in enumerate(self._checks):
            verdict = expectation_outcome(check, results[i], 0)
            outcome.outcomes.append(verdict)
            complaints = outcome.warnings if check.spec.severity == "warn" else outcome.failures
            if verdict.error is not None:
                reason = mask_text(verdict.error.strip().splitlines()[0], target.secrets)
                complaints.append(f"{check.label} could not run on table {target.table}: {reason}")
            elif not verdict.success:
                complaints.append(self._sentence(i, verdict, results[i], rows))
        outcome.seconds = time.perf_counter() - started
        return outcome

    def _unexpected_rows(self, definition: Any, results: dict[int, Any]) -> dict[int, list[Any]]:
        """A few of the rows each failed SQL expectation's query returned (GX lists them
        with COMPLETE results only, up to 200): a second, small pass for those alone."""
        failed = [
            i
            for i, c in enumerate(self._checks)
            if runs_sql(type(c.expectation))
            and not results[i].success
            and result_error(results[i]) is None
        ]
        if not failed:
            return {}
        gx = import_gx()
        suite = gx.ExpectationSuite(
            f"{self._name}-rows", expectations=[self._checks[i].expectation for i in failed]
        )
        detail = by_check(validate_batch_definition(definition, suite, _COMPLETE))
        return {
            i: list((r.result.get("details") or {}).get("unexpected_rows") or [])
            for i, r in detail.items()
        }

    def _sentence(
        self, i: int, verdict: ExpectationOutcome, result: Any, rows: dict[int, list[Any]]
    ) -> str:
        check = self._checks[i]
        if runs_sql(type(check.expectation)):
            count = int(result.result.get("observed_value") or 0)
            examples = [r if isinstance(r, dict) else {"row": r} for r in rows.get(i, [])]
            return describe_unexpected_rows(check.label, count, examples)
        return describe_failure(check.label, check.spec, verdict, result.result, check.phrase)

    def _unreachable(self, outcome: PostLoadOutcome, target: TargetTable, err: Exception) -> None:
        """GX could not read the table at all: every expectation is unproven."""
        reason = mask_text(f"{type(err).__name__}: {_first_line(err)}", target.secrets)
        for check in self._checks:
            complaints = outcome.warnings if check.spec.severity == "warn" else outcome.failures
            complaints.append(f"{check.label} could not run on table {target.table}: {reason}")


def _first_line(err: BaseException) -> str:
    cause = err.__cause__ or err
    text = str(cause).strip()
    return text.splitlines()[0] if text else type(cause).__name__
