"""Writing a batch's clean rows in its write mode, journaling what undoes it.

`insert` and `replace` insert every row (keys already in the table were quarantined
before). `upsert` inserts new keys, updates rows whose values differ (keeping their
before-image), and leaves identical rows alone: rerunning the same input changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pyarrow as pa
from sqlalchemy.engine import Connection

from connectors.sql.target import SqlTarget
from flows.fingerprint import row_hash
from flows.journal import Journal


@dataclass(frozen=True)
class WriteCounts:
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0

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
    columns = rows.column_names
    records = rows.to_pylist()
    if mode != "upsert":
        target.insert(conn, table, rows)
        journal.record_inserts(conn, run_id, table, batch_no, 0, key, columns, records)
        return WriteCounts(inserted=len(records))
    return _upsert(conn, target, journal, run_id, table, key, batch_no, rows, records)


def _upsert(
    conn: Connection,
    target: SqlTarget,
    journal: Journal,
    run_id: str,
    table: str,
    key: list[str],
    batch_no: int,
    rows: pa.Table,
    records: list[dict[str, Any]],
) -> WriteCounts:
    columns = rows.column_names
    keys = [tuple(r[k] for k in key) for r in records]
    existing = {tuple(r[k] for k in key): r for r in target.fetch_by_keys(conn, table, key, keys)}
    new: list[int] = []
    before: list[dict[str, Any]] = []
    after: list[dict[str, Any]] = []
    unchanged = 0
    for i, (record, k) in enumerate(zip(records, keys, strict=True)):
        old = existing.get(k)
        if old is None:
            new.append(i)
        elif row_hash([old[c] for c in columns]) == row_hash([record[c] for c in columns]):
            unchanged += 1
        else:
            before.append(old)
            after.append(record)
    if new:
        target.insert(conn, table, rows.take(pa.array(new, pa.int64())))
        journal.record_inserts(
            conn, run_id, table, batch_no, 0, key, columns, [records[i] for i in new]
        )
    if after:
        target.update_rows(conn, table, key, after)
        journal.record_updates(conn, run_id, table, batch_no, 1, key, columns, before, after)
    return WriteCounts(inserted=len(new), updated=len(after), unchanged=unchanged)
