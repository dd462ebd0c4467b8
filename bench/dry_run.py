"""Benchmark: a dry run's wall time as a ratio of the real run's, same input, same target.

    python -m bench.dry_run [--rows 1000000] [--batch 50000] [--url postgresql+psycopg://...]

Writes a clean CSV of `rows` rows (8 typed columns), builds a one-spec project reading it,
then, into one fresh PostgreSQL schema: `ferryman plan` (the dry run: load, then roll
back, fingerprints before and after) and `ferryman run` (the real run). Both are the
Prefect flows the CLI calls, timed end to end in this process. The dry run goes first, so
both start from the same empty schema. Aim: dry / real <= 1.2.
"""

from __future__ import annotations

import argparse
import csv
import os
import secrets
import sys
import tempfile
import time
from pathlib import Path

import psycopg

ADMIN = "postgresql://postgres@127.0.0.1:5432/test"

SPEC = """
target: items
source: {connection: files, file: items.csv}
key: [id]
fields:
  id: {from: id, type: bigint}
  name: {from: name, type: string(60)}
  email: {from: email, type: string(120)}
  status: {from: status, type: string(12)}
  amount: {from: amount, type: "decimal(12,2)"}
  created: {from: created, type: date}
  score: {from: score, type: float}
  active: {from: active, type: boolean}
"""


def _write_csv(path: Path, rows: int) -> None:
    with path.open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["id", "name", "email", "status", "amount", "created", "score", "active"])
        for i in range(rows):
            w.writerow(
                [
                    i,
                    f"Customer {i}",
                    f"c{i}@example.com",
                    "active" if i % 3 else "closed",
                    f"{i % 100000 / 100:.2f}",
                    f"{2000 + i % 25}-{1 + i % 12:02d}-{1 + i % 28:02d}",
                    f"{i / 7:.6f}",
                    "true" if i % 2 else "false",
                ]
            )


def _project(root: Path, url: str, schema: str, batch: int) -> Path:
    (root / "mappings" / "specs").mkdir(parents=True)
    (root / "ferryman.yaml").write_text(
        "name: bench-dry-run\nconnections:\n"
        f"  files: {{kind: csv, path: {root / 'data'}}}\n"
        f"  target: {{kind: sql, url: '{url}', schema: {schema}}}\n"
        f"defaults: {{batch_size: {batch}}}\nreports: {root / 'reports'}\n"
    )
    (root / "mappings" / "specs" / "items.yaml").write_text(SPEC)
    return root


def _warm_up() -> None:
    from prefect import flow

    @flow(name="bench-warm-up")
    def warm_up() -> None:
        return None

    warm_up()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--batch", type=int, default=50_000)
    parser.add_argument("--url", default=ADMIN, help="PostgreSQL database (admin) URL")
    args = parser.parse_args(argv)

    from ferryman.flows.prefect_flows import dry_run, migrate
    from ferryman.flows.project.environment import quiet_environment

    quiet_environment(os.environ)
    schema = f"bench_dry_{secrets.token_hex(4)}"
    with psycopg.connect(args.url, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    try:
        with tempfile.TemporaryDirectory() as tmp:
            root = _project(Path(tmp) / "project", args.url, schema, args.batch)
            (root / "data").mkdir()
            _write_csv(root / "data" / "items.csv", args.rows)
            _warm_up()  # Prefect's temporary server starts with the first flow: not timed
            t0 = time.perf_counter()
            plan = dry_run(str(root))
            dry = time.perf_counter() - t0
            t0 = time.perf_counter()
            real = migrate(str(root))
            run = time.perf_counter() - t0
    finally:
        with psycopg.connect(args.url, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA "{schema}" CASCADE')
    p, r = plan["tables"]["items"], real["tables"]["items"]
    same = (p["would_insert"], p["quarantined"]) == (r["inserted"], r["quarantined"])
    print(f"rows {args.rows:,}, batches of {args.batch:,}, PostgreSQL")
    print(f"  real run   {run:8.2f} s  (inserted {r['inserted']:,})")
    print(f"  dry run    {dry:8.2f} s  (would insert {p['would_insert']:,}; counts equal: {same})")
    print(f"  dry / real {dry / run:8.2f}   (aim <= 1.2)")
    print(f"  target unchanged after the dry run: {plan['target_unchanged']}")
    return 0 if same and plan["target_unchanged"] else 1


if __name__ == "__main__":
    sys.exit(main())
