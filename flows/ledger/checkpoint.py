"""Run bookkeeping around the batches, without Prefect: start fingerprints, `replace`
snapshots, where a resumed table continues, checking committed batches really are in the
target, and the per-table summary as the ledger (not this process's memory) records it."""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa

from ferryman.connectors.base import Position
from ferryman.flows.batch.load import TableJob
from ferryman.flows.dryrun.target_state import ABSENT, table_fingerprint
from ferryman.flows.ledger.fingerprint import Fingerprint
from ferryman.flows.ledger.journal import SNAPSHOT_BATCH, Journal
from ferryman.flows.ledger.store import LedgerState
from ferryman.flows.ops.report import TableSummary
from ferryman.flows.project.session import Prepared

EXAMPLE_RULES = 10
EXAMPLES_PER_RULE = 3
"""Quarantine examples kept in the run summary: the first rows of the top rules."""


class ResumeError(Exception):
    """The ledger and the target disagree; resuming could lose or double rows."""


def record_start(prepared: Prepared, run_id: str) -> None:
    """Fingerprint every table the run will touch, and register them as pending."""
    state = LedgerState(prepared.ledger)
    prints = {
        job.table: Fingerprint(ABSENT, 0)
        if job.table in prepared.created
        else table_fingerprint(prepared.target, job.table)
        for job in prepared.jobs
    }
    with prepared.target.begin() as conn:
        for position, job in enumerate(prepared.jobs):
            fp = prints[job.table]
            state.record_fingerprint(conn, run_id, job.table, "start", fp.rows, fp.digest)
            state.set_table_state(
                conn,
                run_id,
                job.table,
                "pending",
                position=position,
                mode=job.spec.mode,
                key=job.spec.key,
            )


def prepare_replace(prepared: Prepared, run_id: str, job: TableJob) -> int:
    """Snapshot the table into the journal and empty it, in one transaction, once."""
    target, state = prepared.target, LedgerState(prepared.ledger)
    journal = Journal(prepared.ledger, target)
    with target.begin() as conn:
        columns = target.column_names(conn, job.table)
        key = target.primary_key(conn, job.table) or list(job.spec.key)
        saved = journal.record_snapshot(
            conn, run_id, job.table, key, columns, target.scan(conn, job.table)
        )
        target.delete_all(conn, job.table)
        state.set_table_state(conn, run_id, job.table, "prepared")
    return saved


STREAM = "__stream"
"""Key of a `more_sources` batch's position: {STREAM: i, "at": the stream's own value}.
The first stream's positions are stored as the source gives them."""


def stream_position(stream: int, position: Position) -> Position:
    if stream == 0:
        return position
    return Position(rows=position.rows, value={STREAM: stream, "at": position.value})


@dataclass(frozen=True)
class Continuation:
    """Where a table's load goes on: in stream `stream` (0 is `source:`, i the i-th of
    `more_sources`), after this position of it, with this batch number."""

    after: Position | None
    next_batch: int
    stream: int = 0


def continuation(prepared: Prepared, run_id: str, table: str) -> Continuation:
    batches = [b for b in prepared.ledger.batches_of(run_id, table) if b.batch_no >= 0]
    if not batches:
        return Continuation(None, 0)
    last = max(batches, key=lambda b: b.batch_no)
    value = last.end.value
    if isinstance(value, dict) and STREAM in value:
        inner = Position(rows=last.end.rows, value=value.get("at"))
        return Continuation(inner, last.batch_no + 1, int(value[STREAM]))
    return Continuation(last.end, last.batch_no + 1)


def verify_committed(prepared: Prepared, run_id: str, table: str) -> None:
    """Every row the ledger says this run wrote is in the target as written."""
    journal = Journal(prepared.ledger, prepared.target)
    with prepared.target.connect() as conn:
        if not prepared.target.has_table(conn, table):
            entries = []
        else:
            entries = [
                e for e in journal.entries(conn, run_id, table) if e.batch_no != SNAPSHOT_BATCH
            ]
        problems = journal.conflicts(conn, table, entries) if entries else []
    if problems:
        raise ResumeError(
            f"{table}: the ledger says these rows were committed, but the target does not hold"
            f" them as written: {'; '.join(problems[:5])}. Resuming could lose or double rows;"
            f" inspect the table, or `ferryman rollback {run_id}` and run again"
        )


def summarise(
    prepared: Prepared, run_id: str, job: TableJob, seconds: float, warnings: list[str]
) -> TableSummary:
    """The table's counts as the ledger holds them: right after a resume too."""
    source = " then ".join(j.source.describe(j.stream) for j in job.streams)
    summary = TableSummary(table=job.table, source=source)
    for b in prepared.ledger.batches_of(run_id, job.table):
        if b.batch_no < 0 or b.state != "committed":
            continue
        summary.read += b.read
        summary.loaded += b.loaded
        summary.quarantined += b.quarantined
        summary.filtered += b.filtered
        summary.inserted += b.inserted
        summary.updated += b.updated
        summary.unchanged += b.unchanged
        summary.batches += 1
    q = prepared.ledger.quarantine
    with prepared.target.connect() as conn:
        rules = conn.execute(
            sa.select(q.c.rule, sa.func.count())
            .where((q.c.run_id == run_id) & (q.c.table_name == job.table))
            .group_by(q.c.rule)
        ).all()
        summary.rules = {r[0]: int(r[1]) for r in rules}
        for rule in sorted(summary.rules, key=lambda r: -summary.rules[r])[:EXAMPLE_RULES]:
            rows = conn.execute(
                sa.select(q.c.source_position, q.c.column_name, q.c.raw_value, q.c.message)
                .where((q.c.run_id == run_id) & (q.c.table_name == job.table) & (q.c.rule == rule))
                .order_by(q.c.id)
                .limit(EXAMPLES_PER_RULE)
            ).all()
            summary.examples[rule] = [
                {"position": r[0], "column": r[1], "value": r[2], "message": r[3]} for r in rows
            ]
    summary.seconds = seconds
    summary.warnings = warnings[:20]
    return summary
