"""Benchmark: GX validation time as a ratio of load time, 8 expectations, PostgreSQL.

    python -m bench.validation [--rows 1000000] [--batch 50000]

Validates mapped batches with `ferryman.validations.gx_runner.SuiteRunner` (what every run does
before loading) and loads the same batches through `ferryman.flows.batch.write.write_rows` (insert,
journal on), in the same run. Aim (issue 4): validation < 0.5 x load. About 1% of the
rows break one row-level expectation, so GX is asked for failing rows in every batch.

GX costs a fixed few milliseconds per expectation and pass whatever the batch size (it
builds its metric graph each time), so the ratio depends on the batch size: measured on the
shared 2-core machine, 0.30-0.36x with batches of 50,000 (0.81-0.98x before issue 4's
changes), but 1.8-1.9x with batches of 5,000 (2.2-2.3x before). Tables with suites
validate faster per row with a larger `batch_size`.
"""

from __future__ import annotations

import argparse
import secrets
import sys
import time

import psycopg
import pyarrow as pa
from pydantic import SecretStr

from bench.journal import SCHEMA, _batch
from ferryman.connectors.base import ROW_POSITION, TableSchema
from ferryman.connectors.sql.options import SqlOptions
from ferryman.connectors.sql.target import SqlTarget
from ferryman.flows.batch.write import write_rows
from ferryman.flows.ledger.journal import Journal
from ferryman.flows.ledger.store import Ledger
from ferryman.mappings.compile import ROW_INDEX
from ferryman.validations.gx_runner import SuiteRunner
from ferryman.validations.suites import ExpectationSpec, SuiteSpec

EXPECTATIONS = [
    ("expect_column_values_to_not_be_null", {"column": "id"}),
    ("expect_column_values_to_not_be_null", {"column": "name"}),
    (
        "expect_column_values_to_match_regex",
        {"column": "email", "regex": r"^c\d{1,6}@example\.com$"},
    ),
    ("expect_column_values_to_be_in_set", {"column": "status", "value_set": ["active", "closed"]}),
    ("expect_column_values_to_be_between", {"column": "amount", "min_value": 0, "max_value": 1000}),
    (
        "expect_column_value_lengths_to_be_between",
        {"column": "name", "min_value": 1, "max_value": 60},
    ),
    ("expect_column_values_to_be_between", {"column": "score", "min_value": 0}),
    ("expect_column_values_to_not_be_null", {"column": "created"}),
]


def _mapped(start: int, n: int) -> pa.Table:
    t = _batch(start, n)
    # ~1% of rows break the email rule, as dirty legacy data would
    emails = [e if i % 100 else "not-an-email" for i, e in enumerate(t.column("email").to_pylist())]
    t = t.set_column(t.schema.get_field_index("email"), "email", pa.array(emails))
    t = t.append_column(ROW_POSITION, pa.array([f"SRC row {start + i}" for i in range(n)]))
    return t.append_column(ROW_INDEX, pa.array(range(n), pa.int32()))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.validation")
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--batch", type=int, default=50_000)
    parser.add_argument("--url", default="postgresql+psycopg://postgres@127.0.0.1:5432/test")
    args = parser.parse_args(argv)
    suite = SuiteSpec(
        name="bench",
        expectations=[ExpectationSpec(type=t, kwargs=k, severity="row") for t, k in EXPECTATIONS],
    )
    runner = SuiteRunner([suite])
    schema = f"bench_{secrets.token_hex(4)}"
    dsn = args.url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    target = SqlTarget("bench", SqlOptions(url=SecretStr(args.url), schema=schema))
    validate_s = load_s = 0.0
    rejected = 0
    try:
        ledger = Ledger(target)
        ledger.install()
        journal = Journal(ledger, target)
        with target.begin() as conn:
            target.ensure_table(conn, TableSchema("t", SCHEMA.columns, SCHEMA.primary_key))
        for no, start in enumerate(range(0, args.rows, args.batch)):
            mapped = _mapped(start, min(args.batch, args.rows - start))
            t0 = time.perf_counter()
            outcome = runner.validate(mapped)
            validate_s += time.perf_counter() - t0
            rejected += len(outcome.rejects)
            rows = mapped.drop_columns([ROW_POSITION, ROW_INDEX])
            t0 = time.perf_counter()
            with target.begin() as conn:
                write_rows(
                    conn,
                    target,
                    journal,
                    run_id="bench",
                    table="t",
                    mode="insert",
                    key=["id"],
                    batch_no=no,
                    rows=rows,
                )
            load_s += time.perf_counter() - t0
    finally:
        target.close()
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA "{schema}" CASCADE')
    print(
        f"{args.rows:,} rows, batches of {args.batch:,}, {len(EXPECTATIONS)} expectations,"
        f" PostgreSQL; {rejected:,} row rejects"
    )
    print(f"load (insert, journal on)  {load_s:8.2f} s   (baseline)")
    print(
        f"GX validation              {validate_s:8.2f} s   {validate_s / load_s:5.2f}x the load"
        " (aim < 0.5)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
