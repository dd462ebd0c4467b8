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

import base64
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from ferryman.codec import decode
from ferryman.connectors.arrow_values import typed_array
from ferryman.flows.ledger.aggregates import Aggregates, column_aggregates, differences, merge
from ferryman.flows.ledger.checkpoint import ABSENT
from ferryman.flows.ledger.fingerprint import arrow_row_hashes
from ferryman.flows.ledger.journal import SNAPSHOT_BATCH, Entry, Journal, _schema
from ferryman.flows.ledger.store import LedgerState, RunRecord
from ferryman.flows.project.session import TargetSession

CHUNK = 100_000
"""Keys per round trip: their rows are read (straight into Arrow), hashed and compared
together, so memory is bounded by a chunk's rows, not the table's."""
DENSE = 2
"""A chunk of integer keys is read as one key range when the range is at most DENSE times
as long as the chunk (rows in it that the run did not write are left out)."""
SHOWN = 20
_FIRST, _HASH, _ROW = "ferryman$first", "ferryman$hash", "ferryman$row"


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
    with target.connect() as conn:
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


@dataclass
class _Written:
    """What the run last wrote, by key, from the journal: the key columns, the schema the
    rows were written (and hashed) with, and one row per key (the first time the run wrote
    it, the hash of the last time), kept as Arrow and numpy rather than a Python object
    per key."""

    key: list[str]
    schema: pa.Schema
    keys: pa.Table
    """The key columns, _FIRST (write number of its first write), _HASH (its last hash)."""
    writes: list[Entry]
    starts: npt.NDArray[np.int64]
    """Write number of each entry's first row: a write number back to its entry."""
    rewritten: int

    def label(self, first: int) -> str:
        """The key of a write, worded as the journal holds it (`item_id=5`)."""
        i = int(np.searchsorted(self.starts, first, side="right")) - 1
        entry, at = self.writes[i], first - int(self.starts[i])
        if entry.op == "insert":
            values = tuple(decode(column[at]) for column in entry.payload["key_values"])
        else:
            row = entry.payload["rows"][at]
            values = tuple(decode(row[c]) for c in entry.payload["key"])
        return ", ".join(f"{c}={v!r}" for c, v in zip(self.key, values, strict=True))


def _written(entries: Sequence[Entry]) -> _Written | None:
    """Every key the run inserted or updated, with the hash of the row as it last wrote it,
    and how many writes hit a key already written."""
    writes = [
        e
        for e in sorted(entries, key=lambda x: (x.batch_no, x.seq))
        if e.op in ("insert", "update")
    ]
    if not writes:
        return None
    key, schema = writes[-1].payload["key"], _schema(writes[-1].payload["schema"])
    raw: dict[str, list[Any]] = {c: [] for c in key}
    hashes, starts, total = [], [], 0
    for e in writes:
        columns = _key_columns(e)
        written = np.frombuffer(base64.b64decode(e.payload["hashes"]), dtype="<u8")
        for c in key:
            if len(columns[c]) != len(written):
                raise ValueError(
                    f"journal of {e.op} batch {e.batch_no}: {len(columns[c]):,} keys but"
                    f" {len(written):,} row hashes; the journal is damaged"
                )
            raw[c].extend(columns[c])
        hashes.append(written)
        starts.append(total)
        total += len(written)
    every_hash = np.concatenate(hashes).astype(np.uint64)
    table = pa.table(
        {
            **{c: _key_array(raw[c], schema.field(c).type) for c in key},
            _FIRST: np.arange(total, dtype=np.int64),
            _HASH: every_hash,
        }
    )
    unique = table.group_by(key, use_threads=False).aggregate([(_FIRST, "min"), (_FIRST, "max")])
    if unique.num_rows < total:  # keys written more than once: the last write counts
        last = unique.column(f"{_FIRST}_max").to_numpy()
        table = unique.select(key).append_column(_FIRST, unique.column(f"{_FIRST}_min"))
        table = table.append_column(_HASH, pa.array(every_hash[last], pa.uint64()))
    return _Written(key, schema, table, writes, np.array(starts, np.int64), total - unique.num_rows)


def _key_columns(e: Entry) -> dict[str, list[Any]]:
    """An entry's key values by column, as JSON (tagged where not int or text)."""
    if e.op == "insert":
        return dict(zip(e.payload["key"], e.payload["key_values"], strict=True))
    return {c: [r[c] for r in e.payload["rows"]] for c in e.payload["key"]}


def _key_array(values: list[Any], t: pa.DataType) -> pa.Array:
    if not (pa.types.is_integer(t) or pa.types.is_string(t) or pa.types.is_large_string(t)):
        values = [decode(v) for v in values]  # codec tags: decimals, dates, bytes
    return typed_array(values, t)


def _chunks(w: _Written) -> Iterator[tuple[pa.Table, tuple[int, int] | None]]:
    """The keys in chunks of CHUNK, each with the key range to read it by when the key is
    one integer column and the chunk fills at least 1/DENSE of its range (else None: read
    by the keys themselves)."""
    integer = len(w.key) == 1 and pa.types.is_integer(w.schema.field(w.key[0]).type)
    keys = w.keys.sort_by(w.key[0] if integer else _FIRST)
    for i in range(0, keys.num_rows, CHUNK):
        part = keys.slice(i, CHUNK)
        span = None
        if integer:
            low, high = part.column(0)[0].as_py(), part.column(0)[-1].as_py()
            if high - low + 1 <= DENSE * part.num_rows:
                span = (low, high)
        yield part, span


def _compare_rows(
    rec: TableReconciliation, conn: Any, session: TargetSession, entries: Sequence[Entry]
) -> None:
    """Read the rows the run wrote back from the target in chunks, hash them as written,
    compare with the journal by key, add up their aggregates; name the first SHOWN keys
    (in the order the run first wrote them) that are missing or differ."""
    w = _written(entries)
    if w is None:
        return
    rec.rewritten = w.rewritten
    shown = np.zeros(0, np.int64), np.zeros(0, bool)  # first writes, and whether missing
    for part, span in _chunks(w):
        current = _read(conn, session, rec.table, w, part, span)
        missing, differing = _compare_chunk(rec, w, part, span, current)
        firsts = np.concatenate([shown[0], missing, differing])
        kinds = np.concatenate(
            [shown[1], np.ones(len(missing), bool), np.zeros(len(differing), bool)]
        )
        keep = np.argsort(firsts, kind="stable")[:SHOWN]
        shown = firsts[keep], kinds[keep]
    for first, gone in zip(shown[0].tolist(), shown[1].tolist(), strict=True):
        what = "missing from the target" if gone else "differs from what the run wrote"
        rec.rows_differing.append(f"{rec.table} {w.label(first)}: {what}")


def _read(
    conn: Any,
    session: TargetSession,
    table: str,
    w: _Written,
    part: pa.Table,
    span: tuple[int, int] | None,
) -> pa.Table:
    """The target's rows for a chunk of keys (by its key range when it has one), as Arrow
    of the schema the run wrote."""
    if span is None:
        return session.target.fetch_arrow_by_keys(conn, table, w.key, part.select(w.key), w.schema)
    return session.target.fetch_arrow_range(conn, table, w.key[0], *span, w.schema)


def _compare_chunk(
    rec: TableReconciliation,
    w: _Written,
    part: pa.Table,
    span: tuple[int, int] | None,
    current: pa.Table,
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """One chunk of keys and the target's rows for it: the first writes of the keys
    missing from the target, and of those whose row differs."""
    rows = current.select(w.key).append_column(_ROW, pa.array(np.arange(current.num_rows)))
    joined = part.join(rows, keys=w.key, join_type="left outer", use_threads=False)
    absent = joined.column(_ROW).is_null()
    missing = joined.filter(absent).column(_FIRST).to_numpy()
    found = joined.filter(pc.invert(absent))
    at = found.column(_ROW).to_numpy()
    if span is not None:  # rows in the range that no key of the run names are not its rows
        used = np.unique(at)
        current = current.take(pa.array(used))
        at = np.searchsorted(used, at)
    hashes = arrow_row_hashes(current)
    differs = hashes[at] != found.column(_HASH).to_numpy()
    rec.rows_checked += current.num_rows
    rec.aggregates_target = merge(rec.aggregates_target, column_aggregates(current))
    return missing, np.unique(found.column(_FIRST).to_numpy()[differs])
