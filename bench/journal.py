"""Benchmark: what the journal costs, and how long a rollback takes, on PostgreSQL.

    python -m bench.journal [--rows 1000000] [--batch 50000] [--url postgresql+psycopg://...]

Loads the same rows three times into fresh tables through ferryman's write path
(`ferryman.flows.batch.write.write_rows`, `insert` mode, one transaction per batch): without the
journal,
with it, and then rolls the journaled load back batch by batch (`Journal.undo`). Prints
ratios measured in the same run: load with journal / without (aim: < 1.15) and rollback /
load (aim: <= 1.0).
"""

from __future__ import annotations

import argparse
import datetime as dt
import decimal
import secrets
import sys
import time
from typing import Any

import psycopg
import pyarrow as pa
from pydantic import SecretStr

from ferryman.connectors.base import ColumnSchema, TableSchema
from ferryman.connectors.sql.options import SqlOptions
from ferryman.connectors.sql.target import SqlTarget
from ferryman.flows.batch.write import write_rows
from ferryman.flows.ledger.journal import Journal
from ferryman.flows.ledger.store import Ledger

SCHEMA = TableSchema(
    name="t",
    columns=(
        ColumnSchema("id", pa.int64(), nullable=False),
        ColumnSchema("name", pa.string(), max_length=60),
        ColumnSchema("email", pa.string(), max_length=120),
        ColumnSchema("status", pa.string(), max_length=12),
        ColumnSchema("amount", pa.decimal128(12, 2)),
        ColumnSchema("created", pa.date32()),
        ColumnSchema("score", pa.float64()),
        ColumnSchema("active", pa.bool_()),
    ),
    primary_key=("id",),
)


def _batch(start: int, n: int) -> pa.Table:
    ids = list(range(start, start + n))
    base = dt.date(2000, 1, 1)
    return pa.table(
        {
            "id": pa.array(ids, pa.int64()),
            "name": [f"Customer {i}" for i in ids],
            "email": [f"c{i}@example.com" for i in ids],
            "status": ["active" if i % 3 else "closed" for i in ids],
            "amount": pa.array(
                [decimal.Decimal(i % 100000) / 100 for i in ids], pa.decimal128(12, 2)
            ),
            "created": pa.array([base + dt.timedelta(days=i % 9000) for i in ids], pa.date32()),
            "score": [i / 7 for i in ids],
            "active": [bool(i % 2) for i in ids],
        }
    )


class _NoJournal(Journal):
    def record_inserts(self, *args: Any, **kwargs: Any) -> None:
        return None


def _load(target: SqlTarget, journal: Journal, table: str, rows: int, batch: int) -> float:
    elapsed = 0.0
    for no, start in enumerate(range(0, rows, batch)):
        data = _batch(start, min(batch, rows - start))  # built outside the timing
        t0 = time.perf_counter()
        with target.begin() as conn:
            write_rows(
                conn,
                target,
                journal,
                run_id="bench",
                table=table,
                mode="insert",
                key=["id"],
                batch_no=no,
                rows=data,
            )
        elapsed += time.perf_counter() - t0
    return elapsed


def _rollback(target: SqlTarget, journal: Journal, table: str) -> float:
    t0 = time.perf_counter()
    with target.connect() as conn:
        batches = sorted({e.batch_no for e in journal.entries(conn, "bench", table)}, reverse=True)
    for no in batches:
        with target.begin() as conn:
            journal.undo(conn, table, journal.entries(conn, "bench", table, no))
    return time.perf_counter() - t0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.journal")
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--batch", type=int, default=50_000)
    parser.add_argument("--url", default="postgresql+psycopg://postgres@127.0.0.1:5432/test")
    args = parser.parse_args(argv)
    schema = f"bench_{secrets.token_hex(4)}"
    dsn = args.url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    target = SqlTarget("bench", SqlOptions(url=SecretStr(args.url), schema=schema))
    try:
        ledger = Ledger(target)
        ledger.install()
        times = {}
        for name, journal in (
            ("without journal", _NoJournal(ledger, target)),
            ("with journal", Journal(ledger, target)),
        ):
            table = "t_plain" if name.startswith("without") else "t_journal"
            with target.begin() as conn:
                target.ensure_table(conn, TableSchema(table, SCHEMA.columns, SCHEMA.primary_key))
            times[name] = _load(target, journal, table, args.rows, args.batch)
        times["rollback"] = _rollback(target, Journal(ledger, target), "t_journal")
        with target.begin() as conn:
            left = target.count(conn, "t_journal")
    finally:
        target.close()
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA "{schema}" CASCADE')
    plain, journaled, undo = times["without journal"], times["with journal"], times["rollback"]
    print(f"{args.rows:,} rows, batches of {args.batch:,}, PostgreSQL, insert mode")
    print(f"load without journal  {plain:8.2f} s   (baseline)")
    print(
        f"load with journal     {journaled:8.2f} s   {journaled / plain:5.2f}x baseline"
        f"  (journal overhead {100 * (journaled / plain - 1):+.1f}%)"
    )
    print(
        f"rollback              {undo:8.2f} s   {undo / journaled:5.2f}x the journaled load"
        f"  ({left} rows left)"
    )
    return 0 if left == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
