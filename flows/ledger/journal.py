"""The journal: what undoes each batch, written in the batch's own transaction.

One journal entry per batch and operation (not per row, so an `insert` load pays one small
extra row per batch):
- `insert`: the keys the batch inserted, with the hash of each row as written;
- `update`: the before-image of every row the batch changed, with the after-image hash;
- `delete`: for `replace`, the previous contents of the table (batch -1, taken once before
  the first batch, in chunks).
Undo replays a batch's entries in reverse. The after-image hashes let rollback find rows
someone else changed since the run, before it changes anything.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from ferryman.codec import decode, encode
from ferryman.connectors.base import Target
from ferryman.flows.ledger.fingerprint import arrow_row_hashes, rows_to_arrow
from ferryman.flows.ledger.store import Ledger

SNAPSHOT_BATCH = -1


@dataclass(frozen=True)
class Entry:
    batch_no: int
    seq: int
    op: str
    payload: dict[str, Any]

    def keys(self) -> list[tuple[Any, ...]]:
        if self.op == "insert":
            columns = [[decode(v) for v in c] for c in self.payload["key_values"]]
            return list(zip(*columns, strict=True))
        key_cols = self.payload["key"]
        return [tuple(decode(r[c]) for c in key_cols) for r in self.payload["rows"]]

    def rows(self) -> list[dict[str, Any]]:
        return [{c: decode(v) for c, v in r.items()} for r in self.payload["rows"]]


class Journal:
    """Writes and replays journal entries through the target's own connection."""

    def __init__(self, ledger: Ledger, target: Target) -> None:
        self.table = ledger.journal
        self.target = target

    def _write(
        self,
        conn: Connection,
        run_id: str,
        table: str,
        batch_no: int,
        seq: int,
        op: str,
        payload: dict[str, Any],
    ) -> None:
        conn.execute(
            self.table.insert().values(
                run_id=run_id,
                table_name=table,
                batch_no=batch_no,
                seq=seq,
                op=op,
                payload=json.dumps(payload, separators=(",", ":"), ensure_ascii=False),
            )
        )

    def record_inserts(
        self,
        conn: Connection,
        run_id: str,
        table: str,
        batch_no: int,
        seq: int,
        key: Sequence[str],
        rows: pa.Table,
    ) -> None:
        """The keys a batch inserted, with a hash of each row as written."""
        if rows.num_rows == 0:
            return
        self._write(
            conn,
            run_id,
            table,
            batch_no,
            seq,
            "insert",
            {
                **_after_image(key, rows),
                "key_values": [_column_values(rows.column(c)) for c in key],
            },
        )

    def record_updates(
        self,
        conn: Connection,
        run_id: str,
        table: str,
        batch_no: int,
        seq: int,
        key: Sequence[str],
        before: Sequence[dict[str, Any]],
        after: pa.Table,
    ) -> None:
        """The before-image of every row a batch changed, with the after-image hashes."""
        if not before:
            return
        self._write(
            conn,
            run_id,
            table,
            batch_no,
            seq,
            "update",
            {
                **_after_image(key, after),
                "rows": [{c: encode(v) for c, v in r.items()} for r in before],
            },
        )

    def record_snapshot(
        self,
        conn: Connection,
        run_id: str,
        table: str,
        key: Sequence[str],
        columns: Sequence[str],
        chunks: Iterator[list[tuple[Any, ...]]],
    ) -> int:
        """The previous contents of a `replace` table, before its first batch."""
        count = 0
        for seq, chunk in enumerate(chunks):
            rows = [{c: encode(v) for c, v in zip(columns, r, strict=True)} for r in chunk]
            self._write(
                conn,
                run_id,
                table,
                SNAPSHOT_BATCH,
                seq,
                "delete",
                {"key": list(key), "columns": list(columns), "rows": rows},
            )
            count += len(rows)
        return count

    def entries(
        self, conn: Connection, run_id: str, table: str, batch_no: int | None = None
    ) -> list[Entry]:
        j = self.table
        q = sa.select(j.c.batch_no, j.c.seq, j.c.op, j.c.payload).where(
            (j.c.run_id == run_id) & (j.c.table_name == table)
        )
        if batch_no is not None:
            q = q.where(j.c.batch_no == batch_no)
        rows = conn.execute(q.order_by(j.c.batch_no, j.c.seq)).all()
        return [Entry(r[0], r[1], r[2], json.loads(r[3])) for r in rows]

    def undo(self, conn: Connection, table: str, entries: Sequence[Entry]) -> None:
        """Replay entries backwards: delete what was inserted, restore what was changed or
        deleted. Runs inside the caller's transaction."""
        for e in sorted(entries, key=lambda x: (x.batch_no, x.seq), reverse=True):
            key = e.payload["key"]
            if e.op == "insert":
                self.target.delete_keys(conn, table, key, e.keys())
            elif e.op == "update":
                self.target.update_rows(conn, table, key, e.rows())
            elif e.op == "delete":
                self.target.insert_rows(conn, table, e.rows())

    def conflicts(
        self, conn: Connection, table: str, entries: Sequence[Entry], limit: int = 20
    ) -> list[str]:
        """Keys whose row is no longer what the run last wrote (changed or deleted since)."""
        expected: dict[tuple[Any, ...], int] = {}
        key: list[str] = []
        schema: pa.Schema | None = None
        for e in sorted(entries, key=lambda x: (x.batch_no, x.seq)):
            if e.op in ("insert", "update"):
                key, schema = e.payload["key"], _schema(e.payload["schema"])
                hashes = _unpack(e.payload["hashes"])
                expected.update(zip(e.keys(), hashes, strict=True))
        if not expected or schema is None:
            return []
        found: list[str] = []
        keys = list(expected)
        for i in range(0, len(keys), 5000):
            part = keys[i : i + 5000]
            fetched = self.target.fetch_by_keys(conn, table, key, part)
            current = rows_to_arrow(fetched, schema)
            now = dict(
                zip(
                    (tuple(r[c] for c in key) for r in fetched),
                    arrow_row_hashes(current).tolist(),
                    strict=True,
                )
            )
            for k in part:
                label = ", ".join(f"{c}={v!r}" for c, v in zip(key, k, strict=True))
                if k not in now:
                    found.append(f"{table} {label}: deleted since the run")
                elif now[k] != expected[k]:
                    found.append(f"{table} {label}: changed since the run")
                if len(found) >= limit:
                    return found
        return found


def _column_values(column: pa.ChunkedArray) -> list[Any]:
    """A key column as JSON values; ints and strings as they are (the common, fast case)."""
    values = column.to_pylist()
    t = column.type
    if pa.types.is_integer(t) or pa.types.is_string(t) or pa.types.is_large_string(t):
        return values
    return [encode(v) for v in values]


def _after_image(key: Sequence[str], rows: pa.Table) -> dict[str, Any]:
    """What identifies the rows as written: their schema and one hash per row."""
    return {
        "key": list(key),
        "columns": rows.column_names,
        "schema": base64.b64encode(rows.schema.serialize().to_pybytes()).decode("ascii"),
        "hashes": base64.b64encode(arrow_row_hashes(rows).astype("<u8").tobytes()).decode("ascii"),
    }


def _schema(text: str) -> pa.Schema:
    return pa.ipc.read_schema(pa.py_buffer(base64.b64decode(text)))


def _unpack(text: str) -> list[int]:
    return np.frombuffer(base64.b64decode(text), dtype="<u8").tolist()
