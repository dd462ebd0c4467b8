"""Rollback: undo a run (or its batches after N), table by table in reverse load order,
batch by batch in reverse, each batch's undo in ONE transaction with its ledger mark, so a
killed rollback continues where it stopped when run again.

After a whole run is rolled back, every table it touched is compared with the fingerprint
recorded when the run started; the rollback says they match, or fails loudly.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ferryman.flows.batch.faults import fault_point
from ferryman.flows.batch.keymap import SqlKeyMap
from ferryman.flows.ledger.checkpoint import ABSENT, table_fingerprint
from ferryman.flows.ledger.journal import SNAPSHOT_BATCH, Journal
from ferryman.flows.ledger.locks import TableLocks
from ferryman.flows.ledger.store import Ledger, LedgerState, RunRecord
from ferryman.flows.ops.runlog import run_logger
from ferryman.flows.project.session import TargetSession, UsageError, open_session, run_for_action


class RollbackConflict(Exception):
    """Rows the run wrote were changed by someone else since; nothing was rolled back."""


class RollbackMismatch(Exception):
    """After rolling back, a table does not match its fingerprint from the run's start."""


@dataclass
class RollbackSummary:
    run_id: str
    state: str = "rolling_back"
    to_batch: int | None = None
    tables: dict[str, dict[str, Any]] = field(default_factory=dict)
    verified: bool = False
    message: str = ""

    def to_json(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "state": self.state,
            "to_batch": self.to_batch,
            "verified": self.verified,
            "message": self.message,
            "tables": self.tables,
        }


def _check_allowed(ledger: Ledger, run: RunRecord) -> None:
    if run.state == "rolled_back":
        raise UsageError(f"run {run.run_id} is already rolled back; nothing to do")
    if run.mode != "run":
        raise UsageError(f"run {run.run_id} is a {run.mode}; only runs can be rolled back")
    later = LedgerState(ledger).later_runs(run.run_id, run.tables)
    if later:
        names = ", ".join(f"{r.run_id} ({r.state})" for r in later)
        raise UsageError(
            f"later runs changed the same tables and still stand: {names}. Roll them back"
            " first, newest first"
        )


def prepare_rollback(project_dir: Path, run_id: str) -> tuple[TargetSession, RunRecord]:
    prepared = open_session(project_dir)
    try:
        run = run_for_action(prepared.project, prepared.target, run_id, "rollback")
        _check_allowed(prepared.ledger, run)
    except BaseException:
        prepared.close()
        raise
    return prepared, run


def rollback_run(
    project_dir: Path, run_id: str, to_batch: int | None = None, force: bool = False
) -> dict[str, Any]:
    """Undo run `run_id` (or only its batches numbered above `to_batch`)."""
    prepared, run = prepare_rollback(project_dir, run_id)
    try:
        return undo_run(prepared, run, to_batch, force).to_json()
    finally:
        prepared.close()


def undo_run(
    prepared: TargetSession, run: RunRecord, to_batch: int | None, force: bool
) -> RollbackSummary:
    logger = run_logger()
    ledger, target = prepared.ledger, prepared.target
    state, journal, locks = LedgerState(ledger), Journal(ledger, target), TableLocks(ledger)
    tables = [t for t in reversed(run.tables) if _exists(prepared, t)]
    for message in locks.acquire(run.run_id, run.tables, "rollback"):
        logger.warning(message)
    summary = RollbackSummary(run.run_id, to_batch=to_batch)
    try:
        pending = {t: _pending_batches(ledger, run.run_id, t, to_batch) for t in tables}
        if not force:
            _refuse_conflicts(prepared, journal, run.run_id, pending)
        state.set_run_state(run.run_id, "rolling_back")
        for table in tables:
            undone = 0
            for batch_no in pending[table]:
                _undo_batch(prepared, journal, state, run.run_id, table, batch_no)
                undone += 1
            summary.tables[table] = {"batches_undone": undone}
            if to_batch is None:
                summary.tables[table]["snapshot_restored"] = _restore_snapshot(
                    prepared, journal, state, run.run_id, table
                )
        if to_batch is None:
            _verify(prepared, state, run, summary)
        else:
            summary.state = "partially_rolled_back"
            summary.message = f"batches after {to_batch} undone; earlier batches stay"
    finally:
        if summary.state != "rolling_back":
            state.set_run_state(run.run_id, summary.state)
        locks.release(run.run_id)
    logger.info("rollback of %s: %s. %s", run.run_id, summary.state, summary.message)
    return summary


def _exists(prepared: TargetSession, table: str) -> bool:
    with prepared.target.engine.connect() as conn:
        return prepared.target.has_table(conn, table)


def _pending_batches(ledger: Ledger, run_id: str, table: str, to_batch: int | None) -> list[int]:
    """Committed batches still to undo, newest first."""
    floor = -1 if to_batch is None else to_batch
    return sorted(
        (
            b.batch_no
            for b in ledger.batches_of(run_id, table)
            if b.state == "committed" and b.batch_no > floor
        ),
        reverse=True,
    )


def _refuse_conflicts(
    prepared: TargetSession, journal: Journal, run_id: str, pending: dict[str, list[int]]
) -> None:
    problems: list[str] = []
    with prepared.target.engine.connect() as conn:
        for table, batches in pending.items():
            wanted = set(batches)
            entries = [e for e in journal.entries(conn, run_id, table) if e.batch_no in wanted]
            problems.extend(journal.conflicts(conn, table, entries))
    if problems:
        raise RollbackConflict(
            "rows this run wrote were changed since; rolling back would overwrite those"
            f" changes: {'; '.join(problems[:20])}. Nothing was rolled back. Inspect them, or"
            " pass --force to roll back anyway"
        )


def _undo_batch(
    prepared: TargetSession,
    journal: Journal,
    state: LedgerState,
    run_id: str,
    table: str,
    batch_no: int,
) -> None:
    with prepared.target.begin() as conn:
        journal.undo(conn, table, journal.entries(conn, run_id, table, batch_no))
        # The surrogate keys this batch assigned go with its rows, in the same transaction.
        SqlKeyMap(state.ledger).forget_batch(conn, run_id, table, batch_no)
        state.mark_batch_rolled_back(conn, run_id, table, batch_no)
        fault_point("rollback_before_commit", table, batch_no)
    fault_point("rollback_after_commit", table, batch_no)


def _restore_snapshot(
    prepared: TargetSession, journal: Journal, state: LedgerState, run_id: str, table: str
) -> int:
    """Put back what `replace` emptied (once: the table state says if it was done)."""
    states = {t["table_name"]: t["state"] for t in state.table_states(run_id)}
    restored = 0
    with prepared.target.begin() as conn:
        if states.get(table) != "rolled_back":
            entries = journal.entries(conn, run_id, table, SNAPSHOT_BATCH)
            journal.undo(conn, table, entries)
            restored = sum(len(e.payload["rows"]) for e in entries)
            state.set_table_state(conn, run_id, table, "rolled_back")
    return restored


def _verify(
    prepared: TargetSession, state: LedgerState, run: RunRecord, summary: RollbackSummary
) -> None:
    """Compare every table with its fingerprint from the run's start; drop tables the run
    created (they did not exist before it)."""
    mismatches = []
    for table in run.tables:
        before = state.fingerprint_of(run.run_id, table, "start")
        if before is None:
            mismatches.append(f"{table}: no start fingerprint recorded")
            continue
        if before[0] == ABSENT and _exists(prepared, table):
            with prepared.target.begin() as conn:
                if prepared.target.count(conn, table) == 0:
                    prepared.target.drop_table(conn, table)
        now = table_fingerprint(prepared.target, table)
        summary.tables.setdefault(table, {})["fingerprint"] = str(now)
        if (now.rows, now.digest) != before:
            mismatches.append(
                f"{table}: now {now}, at the run's start {before[0]} rows, hash {before[1]:016x}"
            )
    left = SqlKeyMap(state.ledger).count_of_run(run.run_id)
    if left:
        # Fingerprints cover the target tables only; the key map is checked here.
        mismatches.append(f"ferryman_keymap: {left} surrogate key(s) assigned by the run remain")
    if mismatches:
        summary.state = "partially_rolled_back"
        raise RollbackMismatch(
            "rolled back, but these tables do not match their state before the run: "
            + "; ".join(mismatches)
        )
    summary.state, summary.verified = "rolled_back", True
    summary.message = (
        f"every table the run touched ({', '.join(run.tables)}) is exactly as"
        " before it: fingerprints match"
    )
