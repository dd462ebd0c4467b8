"""A run and its resumption, without Prefect: tables in dependency order, each table's
batches in order from where its checkpoint says, every batch through `process_batch`.

How a table's batches are driven is handed in (`TableLoader`): the Prefect flows of
`ferryman.flows.prefect_flows` make each table a subflow and each batch a task (retries,
logs, artifacts); `stream_table` with `load_batch_here` runs them in this process, for
tests and scripts.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

from ferryman.connectors.base import Batch, Position
from ferryman.flows.batch.load import BatchOutcome, GateFailed, TableJob, process_batch
from ferryman.flows.ledger.checkpoint import (
    continuation,
    prepare_replace,
    record_start,
    stream_position,
    summarise,
    verify_committed,
)
from ferryman.flows.ledger.locks import TableLocks
from ferryman.flows.ledger.store import LedgerState
from ferryman.flows.ops.gates import (
    ROLLBACK,
    GateStop,
    TableGates,
    batch_expectation,
    drift,
    resolve,
)
from ferryman.flows.ops.gates import quarantine_share as share_gate
from ferryman.flows.ops.post_load import check_after_load
from ferryman.flows.ops.reconcile import reconcile_run
from ferryman.flows.ops.report import RunSummary, TableSummary, publish_artifact, write_report
from ferryman.flows.ops.rollback import undo_run
from ferryman.flows.ops.runlog import flow_run_id, run_logger
from ferryman.flows.project.session import (
    Prepared,
    TargetSession,
    new_run_id,
    prepare,
    prepare_resume,
)
from ferryman.flows.project.tables import create_indexes

BatchLoader = Callable[[Prepared, TableJob, str, Batch, int], BatchOutcome]
"""Loads one batch: (prepared, job, run id, batch, batch number) -> its outcome."""

TableLoader = Callable[[Prepared, TableJob, str, "Position | None", int, int], list[str]]
"""Loads one table's batches: (prepared, job, run id, continue after, first batch number,
first stream) -> the warnings of its batches."""


class RunFailed(Exception):
    """The run stopped (error or gate); carries the summary written to the ledger."""

    def __init__(self, summary: RunSummary) -> None:
        self.summary = summary
        super().__init__(summary.error or summary.state)


def load_batch_here(
    prepared: Prepared, job: TableJob, run_id: str, batch: Batch, number: int
) -> BatchOutcome:
    """One batch in this process (no Prefect task around it)."""
    return process_batch(job, prepared.target, prepared.ledger, run_id, batch, number)


def stream_table(
    prepared: Prepared,
    job: TableJob,
    run_id: str,
    after: Position | None,
    first_batch: int,
    first_stream: int = 0,
    load: BatchLoader = load_batch_here,
) -> list[str]:
    """Stream one table through the path, one `load` per batch, from `after` on (in
    stream `first_stream`; then the spec's further streams, numbering batches on).
    Returns the warnings of its batches (counts are in the ledger)."""
    warnings: list[str] = []
    number = first_batch
    for index, stream_job in enumerate(job.streams):
        if index < first_stream:
            continue
        start = after if index == first_stream else None
        for batch in stream_job.source.read_batches(
            stream_job.stream, stream_job.batch_size, after=start
        ):
            if index:
                batch = replace(
                    batch,
                    start=stream_position(index, batch.start),
                    end=stream_position(index, batch.end),
                )
            outcome = load(prepared, stream_job, run_id, batch, number)
            _log_batch(stream_job.table, number, outcome)
            warnings.extend(outcome.warnings[:5])
            number += 1
    return warnings


def _log_batch(table: str, number: int, outcome: BatchOutcome) -> None:
    logger = run_logger()
    logger.info(
        "%s batch %d: read %d, loaded %d (inserted %d, updated %d, unchanged %d),"
        " quarantined %d, filtered %d (%.2fs)",
        table,
        number,
        outcome.read,
        outcome.loaded,
        outcome.inserted,
        outcome.updated,
        outcome.unchanged,
        outcome.quarantined,
        outcome.filtered,
        outcome.seconds,
    )
    for w in outcome.warnings:
        logger.warning("%s batch %d: %s", table, number, w)


def run_project(
    project_dir: Path,
    tables: list[str] | None = None,
    batch_size: int | None = None,
    load_table: TableLoader = stream_table,
) -> dict[str, Any]:
    """Migrate every table of the project (or the ones named) into its target; returns the
    run summary (also written as JSON and HTML reports, and published as a Prefect
    artifact when run inside a flow). Raises on a bad spec before anything is touched."""
    prepared = prepare(project_dir, tables, batch_size)
    try:
        return execute(prepared, new_run_id(), resuming=False, load_table=load_table).to_json()
    finally:
        prepared.close()


def resume_run(
    project_dir: Path, run_id: str, force: bool = False, load_table: TableLoader = stream_table
) -> dict[str, Any]:
    """Continue a failed or killed run after its last committed batch, with the same spec
    versions: no row twice, no row lost."""
    prepared = prepare_resume(project_dir, run_id, force)
    try:
        return execute(prepared, run_id, resuming=True, load_table=load_table).to_json()
    finally:
        prepared.close()


def execute(
    prepared: Prepared,
    run_id: str,
    resuming: bool,
    publish: bool = True,
    load_table: TableLoader = stream_table,
) -> RunSummary:
    """Load every job; `publish=False` (a dry run) writes no report or artifact and never
    rolls back after a gate (the caller discards everything anyway)."""
    logger = run_logger()
    flow_run = flow_run_id()
    plan, ledger = prepared.plan, prepared.ledger
    locks = TableLocks(ledger)
    for message in locks.acquire(run_id, plan.tables, "run"):
        logger.warning(message)
    state = LedgerState(ledger)
    if resuming:
        state.set_run_state(run_id, "running")
        logger.info("resuming run %s", run_id)
    else:
        ledger.start_run(
            run_id, "run", prepared.project.spec.name, plan.digest(), plan.tables, flow_run
        )
        record_start(prepared, run_id)
        logger.info(
            "run %s: %d table(s) in order %s", run_id, len(plan.tables), " -> ".join(plan.tables)
        )
    summary = RunSummary(
        run_id=run_id,
        project=prepared.project.spec.name,
        target=prepared.target.describe(),
        flow_run_id=flow_run,
    )
    failure: BaseException | None = None
    gates = {
        job.table: resolve(prepared.project.spec.gates, job.spec.gates) for job in prepared.jobs
    }
    action = "halt"
    try:
        for job in prepared.jobs:
            table_summary = _load_table(prepared, job, run_id, resuming, load_table)
            summary.tables.append(table_summary)
            _check_share(table_summary, gates[job.table], summary)
            check_after_load(prepared, job, table_summary, summary, gates[job.table])
        _reconcile(prepared, run_id, gates, summary)
        summary.state = "succeeded"
    except GateFailed as err:
        result = batch_expectation(err.table, err.batch_no, err.failures)
        summary.gates.append(result)
        summary.state, summary.error, failure = "stopped_by_gate", result.message, err
        action = gates[err.table].on_gate_failure
    except GateStop as err:
        summary.state, summary.error, failure = "stopped_by_gate", str(err), err
        action = err.action
    except Exception as err:  # noqa: BLE001 - recorded in the ledger, then re-raised below
        summary.state = "failed"
        summary.error = prepared.project.mask(f"{type(err).__name__}: {err}")
        failure = err
    finally:
        locks.release(run_id)
    summary.finish()
    if summary.state == "stopped_by_gate":
        summary.on_gate_failure = action
    ledger.finish_run(run_id, summary.state, summary.to_json(), summary.error)
    if summary.state == "stopped_by_gate" and action == ROLLBACK and publish:
        _roll_back_after_gate(prepared, run_id, summary)
        ledger.update_summary(run_id, summary.to_json())
    if publish:
        summary.report_path = str(write_report(prepared.project.reports_dir, summary))
        publish_artifact(summary)
    if failure is not None:
        # The flow run fails in Prefect too; the CLI reads the summary off the exception.
        raise RunFailed(summary) from failure
    return summary


def _check_share(table: TableSummary, gates: TableGates, summary: RunSummary) -> None:
    """The table's quarantined share against its gate, once its load is done."""
    if gates.max_quarantined_share is None:
        return
    result = share_gate(table.table, table.quarantined, table.read, gates.max_quarantined_share)
    summary.gates.append(result)
    run_logger().info("gate %s", result.message)
    if not result.passed:
        raise GateStop([result], gates.on_gate_failure)


def _reconcile(
    prepared: Prepared, run_id: str, gates: dict[str, TableGates], summary: RunSummary
) -> None:
    """Reconcile every table the run loaded; drift beyond `max_drift` stops the run."""
    session = TargetSession(prepared.project, prepared.target, prepared.ledger)
    run = prepared.ledger.get_run(run_id)
    assert run is not None
    failing = []
    for rec in reconcile_run(session, run, [t.table for t in summary.tables]):
        summary.reconciliation[rec.table] = rec.to_json()
        result = drift(rec.table, rec.drift(), gates[rec.table].max_drift)
        summary.gates.append(result)
        if not result.passed:
            failing.append(result)
    if failing:
        rollback = any(gates[r.table].on_gate_failure == ROLLBACK for r in failing)
        raise GateStop(failing, ROLLBACK if rollback else "halt")


def _roll_back_after_gate(prepared: Prepared, run_id: str, summary: RunSummary) -> None:
    """`on_gate_failure: rollback`: undo the run through the same code as `ferryman
    rollback`, and say how that went."""
    logger = run_logger()
    session = TargetSession(prepared.project, prepared.target, prepared.ledger)
    run = prepared.ledger.get_run(run_id)
    assert run is not None
    try:
        result = undo_run(session, run, None, force=False)
    except Exception as err:  # noqa: BLE001 - the gate already stopped the run; report both
        summary.gate_action = (
            f"automatic rollback did not complete: {prepared.project.mask(str(err))}."
            f" Inspect, then `ferryman rollback {run_id}` (--force to override conflicts)"
        )
        logger.exception("%s", summary.gate_action)
        return
    summary.gate_action = f"rolled back automatically: {result.message}"
    logger.warning("run %s %s", run_id, summary.gate_action)


def _load_table(
    prepared: Prepared, job: TableJob, run_id: str, resuming: bool, load_table: TableLoader
) -> TableSummary:
    logger = run_logger()
    started = time.perf_counter()
    state = LedgerState(prepared.ledger)
    table_state = {t["table_name"]: t["state"] for t in state.table_states(run_id)}
    current = table_state.get(job.table, "pending")
    warnings: list[str] = []
    if current != "done":
        if job.spec.mode == "replace" and current == "pending":
            saved = prepare_replace(prepared, run_id, job)
            logger.info("%s: replace: %d previous row(s) kept in the journal", job.table, saved)
        if resuming:
            verify_committed(prepared, run_id, job.table)
        cont = continuation(prepared, run_id, job.table)
        if cont.next_batch:
            logger.info(
                "%s: %d batch(es) already committed; continuing after source row %d",
                job.table,
                cont.next_batch,
                cont.after.rows if cont.after else 0,
            )
        warnings = load_table(prepared, job, run_id, cont.after, cont.next_batch, cont.stream)
        with prepared.target.begin() as conn:
            state.set_table_state(conn, run_id, job.table, "done")
    # Also when resuming a table already done: creating an index failed there, perhaps.
    for name in create_indexes(prepared.target, job.table, job.compiled.indexes()):
        logger.info("%s: index %s created", job.table, name)
    return summarise(prepared, run_id, job, time.perf_counter() - started, warnings)
