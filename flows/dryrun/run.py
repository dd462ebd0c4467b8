"""`ferryman plan` / `ferryman run --dry-run`: the whole path against the live target, with
every write undone, and proof that nothing changed.

The dry run is the real run's code (`ferryman.flows.ops.run.execute`), loading through the
target pinned (`Target.pinned`): one connection, one outer transaction that is rolled back
at the end, a savepoint per batch. Its counts are therefore what the real run would do,
not an estimate. Around it, through a separate connection, the target's state is captured
before and after (`ferryman.flows.dryrun.target_state`): any difference fails the dry run
loudly, and sequence counters the rollback could not restore are put back.

It records nothing in the control tables (they are written inside the rolled-back
transaction like everything else) except, unless switched off, an entry in
`ferryman_dry_runs` (`ferryman.flows.dryrun.history`).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from ferryman.connectors.base import PinnedTarget, Target
from ferryman.flows.dryrun.history import DryRunHistory
from ferryman.flows.dryrun.report import DryRunSummary, TablePlan, publish_artifact, write_report
from ferryman.flows.dryrun.target_state import (
    capture,
    differences,
    moved_counters,
    restore_counters,
    watched_tables,
)
from ferryman.flows.ledger.journal import SNAPSHOT_BATCH, Journal
from ferryman.flows.ledger.store import PREFIX
from ferryman.flows.ops.report import RunSummary
from ferryman.flows.ops.run import RunFailed, TableLoader, execute, stream_table
from ferryman.flows.ops.runlog import run_logger
from ferryman.flows.project.config import load_project
from ferryman.flows.project.plan import load_plan
from ferryman.flows.project.session import Prepared, new_run_id, open_target, prepare

SAMPLES_PER_TABLE = 5


def plan_run(
    project_dir: Path,
    tables: list[str] | None = None,
    batch_size: int | None = None,
    history: bool | None = None,
    load_table: TableLoader = stream_table,
) -> DryRunSummary:
    """Run the migration against the live target and undo every write: what would be
    inserted, updated, deleted, quarantined, the DDL, the gates, and proof that the target
    is unchanged. `history` (default: the project's `dry_run.history`) keeps an entry in
    ferryman_dry_runs."""
    logger = run_logger()
    started = time.perf_counter()
    project = load_project(project_dir)
    keep_history = project.spec.dry_run.history if history is None else history
    observer = open_target(project)
    try:
        observer.ping()
        log = DryRunHistory(observer)
        for message in log.recover():
            logger.warning("%s", message)
        plan = load_plan(project, tables or [])
        watched = watched_tables(observer, plan.tables)
        before = capture(observer, watched)
        run_id = f"dry-{new_run_id()}"
        if keep_history:
            log.start(run_id, project.spec.name, plan.tables, before)
        logger.info("dry run %s: %d table(s) fingerprinted before", run_id, len(watched))
        summary = _dry_execute(project_dir, tables, batch_size, run_id, load_table)
        summary.history = keep_history
        summary.watched_tables = watched
        after = capture(observer, watched)
        summary.differences = differences(before, after)
        moved = moved_counters(before, after)
        summary.counters_moved = {k: list(v) for k, v in moved.items()}
        if moved and not summary.differences:
            summary.counters_not_restored = restore_counters(observer, moved)
        summary.seconds = time.perf_counter() - started
        summary.report_path = str(write_report(project.reports_dir, summary))
        if keep_history:
            log.finish(run_id, _history_state(summary), _outcome(summary), summary.to_json())
    finally:
        observer.close()
    publish_artifact(summary)
    if summary.differences:
        logger.error("dry run %s CHANGED the target: %s", run_id, "; ".join(summary.differences))
    return summary


def _dry_execute(
    project_dir: Path,
    tables: list[str] | None,
    batch_size: int | None,
    run_id: str,
    load_table: TableLoader,
) -> DryRunSummary:
    """The real run's code through a pinned, never-committed connection."""
    load_started = time.perf_counter()
    prepared = prepare(project_dir, tables, batch_size, pin=True)
    pinned = prepared.target
    assert isinstance(pinned, PinnedTarget)
    try:
        try:
            run = execute(prepared, run_id, resuming=False, publish=False, load_table=load_table)
        except RunFailed as failed:
            run = failed.summary
        load_seconds = time.perf_counter() - load_started
        summary = DryRunSummary.of(run, {j.table: j.spec.mode for j in prepared.jobs})
        summary.load_seconds = load_seconds
        _add_details(prepared, run, summary)
        summary.ddl, summary.control_tables = _planned_ddl(pinned)
    finally:
        prepared.close()  # rolls the whole dry run back
    return summary


def _planned_ddl(pinned: PinnedTarget) -> tuple[list[str], list[str]]:
    """The DDL of user tables as the real run would send it, and the control tables the
    run would create (missing in this target)."""
    planned = pinned.planned_ddl
    ddl = [d.statement for d in planned if not d.table.startswith(PREFIX)]
    control = [d.table for d in planned if d.table.startswith(PREFIX) and d.kind == "table"]
    return ddl, control


def _add_details(prepared: Prepared, run: RunSummary, summary: DryRunSummary) -> None:
    """Update samples and `replace` deletions, read inside the dry run's transaction."""
    journal = Journal(prepared.ledger, prepared.target)
    jobs = {j.table: j for j in prepared.jobs}
    for plan in summary.tables:
        job = jobs.get(plan.table)
        if job is None:
            continue
        with prepared.target.connect() as conn:
            if plan.would_update:
                plan.samples = _update_samples(prepared.target, conn, journal, run.run_id, plan)
            if job.spec.mode == "replace":
                _replace_counts(prepared.target, conn, journal, run.run_id, plan)


def _update_samples(
    target: Target, conn: Any, journal: Journal, run_id: str, plan: TablePlan
) -> list[dict[str, Any]]:
    samples: list[dict[str, Any]] = []
    for entry in journal.entries(conn, run_id, plan.table):
        if entry.op != "update":
            continue
        key = list(entry.payload["key"])
        for before in entry.rows()[: SAMPLES_PER_TABLE - len(samples)]:
            k = tuple(before[c] for c in key)
            now = target.fetch_by_keys(conn, plan.table, key, [k])
            after = now[0] if now else {}
            changes = {
                c: [v, after.get(c)]
                for c, v in before.items()
                if c not in key and after.get(c) != v
            }
            samples.append({"key": dict(zip(key, k, strict=True)), "changes": changes})
        if len(samples) >= SAMPLES_PER_TABLE:
            break
    return samples


def _replace_counts(
    target: Target, conn: Any, journal: Journal, run_id: str, plan: TablePlan
) -> None:
    """A replace empties the table first: say how many rows it holds today, and how many
    of their keys the new contents no longer have (the rows that would really go)."""
    import pyarrow as pa

    gone = 0
    for entry in journal.entries(conn, run_id, plan.table, SNAPSHOT_BATCH):
        keys = entry.keys()
        plan.replaced += len(keys)
        key = list(entry.payload["key"])
        if not keys:
            continue
        columns = {c: [k[i] for k in keys] for i, c in enumerate(key)}
        present = target.existing_keys(conn, plan.table, key, pa.table(columns))
        gone += len(keys) - present.num_rows
    plan.would_delete = gone


def _history_state(summary: DryRunSummary) -> str:
    if summary.differences:
        return "changed_target"
    return summary.state


def _outcome(summary: DryRunSummary) -> str:
    from ferryman.flows.dryrun.report import proof_text

    return proof_text(summary)
