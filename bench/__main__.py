"""Benchmark: the demo migration into PostgreSQL, as a ratio of a bare COPY of the same
clean rows measured in the same run.

    python -m bench [--customers 20000] [--url postgresql+psycopg://postgres@127.0.0.1/test]

The baseline is the cheapest possible load of the result: `COPY ... TO STDOUT` of each
loaded table, then `COPY ... FROM STDIN` into an empty copy of it (what `psql \\copy` does).
ferryman's time includes reading the legacy SQLite, mapping, GX validation, key and
parent checks, quarantine and the ledger. Prefect's server start is reported apart.
"""

from __future__ import annotations

import argparse
import os
import secrets
import shutil
import sys
import tempfile
import time
from pathlib import Path

import psycopg

from ferryman.flows.project.environment import quiet_environment

ROOT = Path(__file__).resolve().parents[1]


def _copy_baseline(dsn: str, schema: str, tables: list[str]) -> dict[str, float]:
    out = {}
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(f'SET search_path TO "{schema}"')
        for table in tables:
            buf = bytearray()
            with conn.cursor() as cur, cur.copy(f'COPY "{table}" TO STDOUT') as copy:
                for chunk in copy:
                    buf += chunk
            conn.execute(f'CREATE TABLE "bl_{table}" (LIKE "{table}" INCLUDING ALL)')
            start = time.perf_counter()
            with conn.cursor() as cur, cur.copy(f'COPY "bl_{table}" FROM STDIN') as copy:
                copy.write(bytes(buf))
            out[table] = time.perf_counter() - start
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n")[0])
    parser.add_argument("--customers", type=int, default=20_000)
    parser.add_argument("--url", default="postgresql+psycopg://postgres@127.0.0.1:5432/test")
    args = parser.parse_args(argv)
    quiet_environment(os.environ)
    from demo.generate import generate
    from ferryman.flows.prefect_flows import migrate

    work = Path(tempfile.mkdtemp(prefix="ferryman-bench-"))
    schema = f"bench_{secrets.token_hex(4)}"
    dsn = args.url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    try:
        generate(work / "legacy", customers=args.customers, seed=42)
        project = work / "project"
        shutil.copytree(ROOT / "examples" / "crm", project, ignore=shutil.ignore_patterns(".demo"))
        os.environ["DEMO_LEGACY_URL"] = f"sqlite:///{work / 'legacy' / 'crm.db'}"
        os.environ["DEMO_EXPORTS"] = str(work / "legacy" / "exports")
        os.environ["DEMO_TARGET_URL"] = f"{args.url}?options=-csearch_path%3D{schema}"
        started = time.perf_counter()
        summary = migrate(str(project))
        total = time.perf_counter() - started
        tables = list(summary["tables"])
        baseline = _copy_baseline(dsn, schema, tables)
    finally:
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA "{schema}" CASCADE')
        shutil.rmtree(work, ignore_errors=True)
    print(
        f"demo migration, {args.customers} customers, PostgreSQL; baseline = bare COPY"
        " of the loaded rows, same run"
    )
    print(f"{'table':<12} {'rows':>8} {'ferryman s':>11} {'COPY s':>8} {'ratio':>7}")
    for name, t in summary["tables"].items():
        ratio = t["seconds"] / baseline[name] if baseline[name] else float("nan")
        print(
            f"{name:<12} {t['loaded']:>8} {t['seconds']:>11.2f} {baseline[name]:>8.3f}"
            f" {ratio:>6.1f}x"
        )
    flows_s = sum(t["seconds"] for t in summary["tables"].values())
    copy_s = sum(baseline.values())
    print(f"{'all tables':<12} {'':>8} {flows_s:>11.2f} {copy_s:>8.3f} {flows_s / copy_s:>6.1f}x")
    print(f"whole flow incl. Prefect start and ledger: {total:.1f}s")
    return 0 if summary["state"] == "succeeded" else 1


if __name__ == "__main__":
    sys.exit(main())
