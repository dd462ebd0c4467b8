"""Writing a batch's clean rows in its write mode, journaling what undoes it.

`insert` and `replace` insert every row (keys already in the table were quarantined
before). `upsert` inserts new keys, updates rows whose values differ (keeping their
before-image), and leaves identical rows alone: rerunning the same input changes nothing.
How is the target's business (`Target.upsert`): one statement where the engine can
(PostgreSQL, a unique index on the key), else fetch the rows with those keys and compare.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pyarrow as pa
from sqlalchemy.engine import Connection

from ferryman.connectors.base import Target
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
    target: Target,
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
    target: Target,
    journal: Journal,
    run_id: str,
    table: str,
    key: list[str],
    batch_no: int,
    rows: pa.Table,
) -> WriteCounts:
    done = target.upsert(conn, table, key, rows)
    new, changed = done.inserted, done.updated
    if new:
        inserted = rows.take(pa.array(new, pa.int64()))
        journal.record_inserts(conn, run_id, table, batch_no, 0, key, inserted)
    if changed:
        after = rows.take(pa.array(changed, pa.int64()))
        journal.record_updates(conn, run_id, table, batch_no, 1, key, done.before, after)
    return WriteCounts(
        inserted=len(new),
        updated=len(changed),
        unchanged=rows.num_rows - len(new) - len(changed),
        written=rows.take(pa.array(sorted(new + changed), pa.int64())),
    )
