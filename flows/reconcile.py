"""Reconciliation: does the target hold what the run says it loaded?

Per table of a run, from the ledger and the journal only (the source is not read again):
- accounting: rows read = loaded + quarantined + filtered, summed over committed batches;
- counts: the target's row count = rows there before the run (start fingerprint; none for
  `replace`) + rows the run inserted;
- rows: every row the run inserted or updated, fetched by key and hashed as written,
  compared with its journaled after-image hash (order-independent: by key), naming the
  first keys that differ;
- aggregates: count, null count, sum, min and max per column of the rows the batches wrote
  (kept in each batch's ledger row) against the same figures over the target's rows with
  those keys.
Each difference counts as drift; `max_drift` (default 0) is a gate.

A key written twice by one run (an `upsert` whose source repeats it in two batches) counts
twice in the batches' aggregates and once in the target's; aggregates are then not
compared for that table (the report says why), the row hashes still are.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from flows.aggregates import Aggregates, column_aggregates, differences, merge
from flows.checkpoint import ABSENT
from flows.fingerprint import arrow_row_hashes, rows_to_arrow
from flows.journal import SNAPSHOT_BATCH, Entry, Journal, _schema, _unpack
from flows.ledger import LedgerState, RunRecord
from flows.runner import TargetSession

CHUNK = 5000
SHOWN = 20


@dataclass
class TableReconciliation:
    table: str
    mode: str = "insert"
    read: int = 0
    loaded: int = 0
    quarantined: int = 0
    filtered: int = 0
    rows_before: int = 0
    inserted: int = 0
    target_rows: int | None = None
    rows_checked: int = 0
    rows_differing: list[str] = field(default_factory=list)
    aggregates_loaded: Aggregates = field(default_factory=dict)
    aggregates_target: Aggregates = field(default_factory=dict)
    rewritten: int = 0
    """Journaled writes of a key the run had already written (upsert across batches)."""
    superseded_by: list[str] = field(default_factory=list)
    """Later runs (a replay, a rerun) that changed this table since and still stand: the
    target no longer holds only this run's result, so only the accounting is checked."""

    @property
    def expected_rows(self) -> int:
        return self.inserted if self.mode == "replace" else self.rows_before + self.inserted

    def drift(self) -> list[str]:
        """Every difference found, worded for the person who has to look into it."""
        found = []
        if self.read != self.loaded + self.quarantined + self.filtered:
            found.append(
                f"{self.table}: read {self.read:,} != loaded {self.loaded:,} + quarantined"
                f" {self.quarantined:,} + filtered {self.filtered:,}"
            )
        if self.superseded_by:
            return found
        if self.target_rows is None:
            found.append(f"{self.table}: the table is missing from the target")
        elif self.target_rows != self.expected_rows:
            why = f"{self.inserted:,} inserted by the run"
            if self.mode != "replace" and self.rows_before:
                why = f"{self.rows_before:,} before the run + {why}"
            found.append(
                f"{self.table}: target holds {self.target_rows:,} rows, expected"
                f" {self.expected_rows:,} ({why})"
            )
        found.extend(self.rows_differing)
        if not self.rewritten:
            found.extend(differences(self.table, self.aggregates_loaded, self.aggregates_target))
        return found

    @property
    def note(self) -> str | None:
        if self.superseded_by:
            later = ", ".join(self.superseded_by)
            return (
                f"changed since by later run(s) {later}, which still stand: only the"
                f" accounting is checked here; reconcile the latest (`ferryman reconcile"
                f" {self.superseded_by[-1]}`)"
            )
        if not self.rewritten:
            return None
        return (
            f"aggregates not compared: the run wrote {self.rewritten:,} key(s) more than once"
            " (upsert); the batches' figures count them each time, the target once"
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "table": self.table,
            "read": self.read,
            "loaded": self.loaded,
            "quarantined": self.quarantined,
            "filtered": self.filtered,
            "rows_before": self.rows_before,
            "inserted": self.inserted,
            "expected_rows": self.expected_rows,
            "target_rows": self.target_rows,
            "rows_checked": self.rows_checked,
            "drift": self.drift(),
            "note": self.note,
            "aggregates": {"loaded": self.aggregates_loaded, "target": self.aggregates_target},
        }


def reconcile_run(
    session: TargetSession, run: RunRecord, tables: Sequence[str] | None = None
) -> list[TableReconciliation]:
    """Reconcile every table of `run` (or the ones named) against the target."""
    state = LedgerState(session.ledger)
    modes = {t["table_name"]: t["mode"] for t in state.table_states(run.run_id)}
    out = []
    for t in run.tables:
        if tables is not None and t not in tables:
            continue
        rec = _table(session, run.run_id, t, modes.get(t, "insert"))
        rec.superseded_by = [r.run_id for r in state.later_runs(run.run_id, [t])]
        out.append(rec)
    return out


def _table(session: TargetSession, run_id: str, table: str, mode: str) -> TableReconciliation:
    rec = TableReconciliation(table=table, mode=mode)
    committed = [
        b
        for b in session.ledger.batches_of(run_id, table)
        if b.batch_no >= 0 and b.state == "committed"
    ]
    for b in committed:
        rec.read += b.read
        rec.loaded += b.loaded
        rec.quarantined += b.quarantined
        rec.filtered += b.filtered
        rec.inserted += b.inserted
        if b.aggregates:
            rec.aggregates_loaded = merge(rec.aggregates_loaded, b.aggregates)
    start = LedgerState(session.ledger).fingerprint_of(run_id, table, "start")
    rec.rows_before = 0 if start is None or start[0] == ABSENT else start[0]
    target, journal = session.target, Journal(session.ledger, session.target)
    wanted = {b.batch_no for b in committed}
    with target.engine.connect() as conn:
        if not target.has_table(conn, table):
            return rec
        rec.target_rows = target.count(conn, table)
        entries = [
            e
            for e in journal.entries(conn, run_id, table)
            if e.batch_no != SNAPSHOT_BATCH and e.batch_no in wanted
        ]
        _compare_rows(rec, conn, session, entries)
    return rec


def _expected(
    entries: Sequence[Entry],
) -> tuple[dict[tuple[Any, ...], int], list[str], Any, int]:
    """Key -> hash of the row as the run last wrote it, the key columns, the schema, and
    how many writes hit a key already written."""
    expected: dict[tuple[Any, ...], int] = {}
    key: list[str] = []
    schema = None
    writes = 0
    for e in sorted(entries, key=lambda x: (x.batch_no, x.seq)):
        if e.op in ("insert", "update"):
            key, schema = e.payload["key"], _schema(e.payload["schema"])
            keys = e.keys()
            writes += len(keys)
            expected.update(zip(keys, _unpack(e.payload["hashes"]), strict=True))
    return expected, key, schema, writes - len(expected)


def _compare_rows(
    rec: TableReconciliation, conn: Any, session: TargetSession, entries: Sequence[Entry]
) -> None:
    expected, key, schema, rec.rewritten = _expected(entries)
    if not expected or schema is None:
        return
    keys = list(expected)
    for i in range(0, len(keys), CHUNK):
        part = keys[i : i + CHUNK]
        fetched = session.target.fetch_by_keys(conn, rec.table, key, part)
        current = rows_to_arrow(fetched, schema)
        rec.rows_checked += current.num_rows
        rec.aggregates_target = merge(rec.aggregates_target, column_aggregates(current))
        hashes = arrow_row_hashes(current) if current.num_rows else np.zeros(0, np.uint64)
        now = dict(zip((tuple(r[c] for c in key) for r in fetched), hashes.tolist(), strict=True))
        for k in part:
            if len(rec.rows_differing) >= SHOWN:
                continue  # keep counting rows and aggregates; name only the first ones
            label = ", ".join(f"{c}={v!r}" for c, v in zip(key, k, strict=True))
            if k not in now:
                rec.rows_differing.append(f"{rec.table} {label}: missing from the target")
            elif now[k] != expected[k]:
                rec.rows_differing.append(f"{rec.table} {label}: differs from what the run wrote")
