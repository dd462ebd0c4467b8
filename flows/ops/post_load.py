"""After a table's load: its `applies_to: target` expectations, as a gate.

`check_after_load` runs once per table, after its last batch committed (from
`ferryman.flows.ops.run.execute`). A failed `severity: batch` expectation fails the gate
`post_load_expectation`: the run stops with state `stopped_by_gate` (exit code 3) and the
table's `on_gate_failure` (halt or rollback) applies; `severity: warn` failures go to the
table's warnings. Every result is kept in the table's summary (`post_load`).

In a dry run the rows are never committed, and GX reads the table through a connection of
its own, which cannot see them: the check is skipped and the summary says so.
"""

from __future__ import annotations

from sqlalchemy.engine import Engine

from ferryman.flows.batch.load import TableJob
from ferryman.flows.ops.gates import GateResult, GateStop, TableGates
from ferryman.flows.ops.report import RunSummary, TableSummary
from ferryman.flows.ops.runlog import run_logger
from ferryman.flows.project.session import Prepared
from ferryman.validations.post_load import PostLoadOutcome, PostLoadRunner, TargetTable

GATE = "post_load_expectation"
SKIPPED_IN_DRY_RUN = (
    "post-load expectations not checked: a dry run commits nothing, and GX reads the table"
    " through a connection of its own"
)


def check_after_load(
    prepared: Prepared,
    job: TableJob,
    table: TableSummary,
    summary: RunSummary,
    gates: TableGates,
) -> PostLoadOutcome | None:
    """Run the table's `applies_to: target` expectations on the loaded table; raises
    GateStop when a `batch` one fails. None when the table has none (or in a dry run)."""
    runner = PostLoadRunner([prepared.plan.suites[name] for name in job.spec.suites])
    if runner.empty:
        return None
    logger = run_logger()
    if not isinstance(prepared.target.engine, Engine):  # a dry run's pinned connection
        table.post_load = {"skipped": SKIPPED_IN_DRY_RUN}
        logger.info("%s: %s", job.table, SKIPPED_IN_DRY_RUN)
        return None
    outcome = runner.validate(_target_table(prepared, job.table))
    table.post_load = outcome.to_json()
    for warning in outcome.warnings:
        logger.warning("%s after load: %s", job.table, warning)
    table.warnings.extend(outcome.warnings[: max(0, 20 - len(table.warnings))])
    if runner.gates or outcome.failures:
        result = gate_result(outcome)
        summary.gates.append(result)
        logger.info("gate %s", result.message)
        if not result.passed:
            raise GateStop([result], gates.on_gate_failure)
    return outcome


def gate_result(outcome: PostLoadOutcome) -> GateResult:
    """The post-load gate of one table, worded like the other gates."""
    checked = len(outcome.outcomes)
    if outcome.passed:
        figure = f"{checked} expectation(s) on the loaded table passed"
        message = f"{outcome.table}: {figure}"
    else:
        figure = "; ".join(outcome.failures)
        message = f"{outcome.table}: expectation failed after load: {figure}"
    return GateResult(
        table=outcome.table,
        gate=GATE,
        passed=outcome.passed,
        figure=figure,
        threshold="every `severity: batch` expectation on the loaded table passes",
        message=message,
    )


def _target_table(prepared: Prepared, table: str) -> TargetTable:
    name = prepared.project.spec.target
    options = prepared.project.connection_options(name)
    return TargetTable(url=str(options["url"]), table=table, schema=prepared.target.schema)
