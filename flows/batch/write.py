"""Writing a batch's clean rows in its write mode, journaling what undoes it.

`insert` and `replace` insert every row (keys already in the table were quarantined
before). `upsert` inserts new keys, updates rows whose values differ (keeping their
before-image), and leaves identical rows alone: rerunning the same input changes nothing.
On PostgreSQL (a unique index on the key) the target does it in one statement from a
staging table; elsewhere the rows with those keys are fetched and compared by row hash.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa
from sqlalchemy.engine import Connection

from ferryman.connectors.sql.target import SqlTarget
from ferryman.flows.ledger.fingerprint import arrow_row_hashes, rows_to_arrow
from ferryman.flows.ledger.journal import Journal


@dataclass(frozen=True)
class WriteCounts:
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    written: pa.Table | None = field(default=None, compare=False)
    """The rows inserted or updated (not the unchanged ones), as written."""

    @property
    def loaded(self) -> int:
        return self.inserted + self.updated + self.unchanged


def write_rows(
    conn: Connection,
    target: SqlTarget,
    journal: Journal,
    *,
    run_id: str,
    table: str,
    mode: str,
    key: list[str],
    batch_no: int,
    rows: pa.Table,
) -> WriteCounts:
    if rows.num_rows == 0:
        return WriteCounts()
    if mode != "upsert":
        target.insert(conn, table, rows)
        journal.record_inserts(conn, run_id, table, batch_no, 0, key, rows)
        return WriteCounts(inserted=rows.num_rows, written=rows)
    return _upsert(conn, target, journal, run_id, table, key, batch_no, rows)


def _upsert(
    conn: Connection,
    target: SqlTarget,
    journal: Journal,
    run_id: str,
    table: str,
    key: list[str],
    batch_no: int,
    rows: pa.Table,
) -> WriteCounts:
    if target.stages_upserts(conn, table, key):
        # PostgreSQL: one INSERT ... ON CONFLICT from a staging table, before-images back
        done = target.upsert(conn, table, key, rows)
        new, changed, before = done.inserted, done.updated, done.before
    else:
        new, changed, before = _upsert_by_comparison(conn, target, table, key, rows)
    if new:
        inserted = rows.take(pa.array(new, pa.int64()))
        journal.record_inserts(conn, run_id, table, batch_no, 0, key, inserted)
    if changed:
        after = rows.take(pa.array(changed, pa.int64()))
        journal.record_updates(conn, run_id, table, batch_no, 1, key, before, after)
    return WriteCounts(
        inserted=len(new),
        updated=len(changed),
        unchanged=rows.num_rows - len(new) - len(changed),
        written=rows.take(pa.array(sorted(new + changed), pa.int64())),
    )


def _upsert_by_comparison(
    conn: Connection, target: SqlTarget, table: str, key: list[str], rows: pa.Table
) -> tuple[list[int], list[int], list[dict[str, Any]]]:
    """Fetch the rows with these keys, compare row hashes, insert the new rows and update
    the changed ones. Returns the new rows, the changed rows and their before-images."""
    keys = [tuple(r[k] for k in key) for r in rows.select(key).to_pylist()]
    existing = {tuple(r[k] for k in key): r for r in target.fetch_by_keys(conn, table, key, keys)}
    present = [i for i, k in enumerate(keys) if k in existing]
    new = [i for i, k in enumerate(keys) if k not in existing]
    changed: list[int] = []
    if present:
        incoming = rows.take(pa.array(present, pa.int64()))
        old = rows_to_arrow([existing[keys[i]] for i in present], rows.schema)
        differs = arrow_row_hashes(incoming) != arrow_row_hashes(old)
        changed = [i for i, d in zip(present, differs.tolist(), strict=True) if d]
    if new:
        target.insert(conn, table, rows.take(pa.array(new, pa.int64())))
    if changed:
        target.update_rows(conn, table, key, rows.take(pa.array(changed, pa.int64())).to_pylist())
    return new, changed, [existing[keys[i]] for i in changed]
