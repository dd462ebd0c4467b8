"""Benchmark: a real `ferryman run` loading a clean CSV into PostgreSQL, as a ratio of
`psql \\copy` of the same file into the same table, measured in the same run.

    python -m bench.pg_load [--rows 1000000] [--batch 50000] [--mode insert|upsert]
                            [--no-split] [--mariadb [URL]]

The file has 8 typed columns (bigint, text with commas, quotes and accents, text with
NULLs, numeric(12,2), double with NULLs, date, timestamptz, boolean). ferryman loads it
through a pass-through spec (one `type:` per field, NULL for an empty field) with the
journal on, as `ferryman run --json` in a child process: reading, mapping, key checks,
journal, ledger and the end-of-run reconciliation are all in its time. The baseline is
`psql -c "\\copy bl FROM 'file' CSV HEADER"` into an empty table of the same definition
(`LIKE t INCLUDING ALL`), psql's start included, best of 3. Both tables are then compared row by
row (`EXCEPT` both ways): the ratio only counts when they hold the same rows.

Ratios are baseline / ferryman (1.0 = as fast as psql; the goal for this pass-through
mapping is >= 0.8), for the whole `ferryman run` process and for the table's load alone
(its batches, without process start, Prefect and reconciliation). Unless `--no-split`,
the same load runs again in this process with timers around each stage, to show where
ferryman's time goes. The write path alone is also timed in both of PostgreSQL's COPY
formats (binary, pyarrow's CSV text) and, with `--mariadb`, in both of MariaDB's (LOAD
DATA LOCAL, executemany). `--mode upsert` loads the file once, then times a second run that
upserts the same rows (every row unchanged) against the first `\\copy` again.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import psycopg
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from ferryman.flows.project.environment import quiet_environment

ROOT = Path(__file__).resolve().parents[1]
NAMES = ["Müller, Hans", 'Zoë "Z" O\'Brien', "Nuñez", "plain", "a\\b"]

SPEC = """\
target: t
source:
  connection: files
  file: loads.csv
  null_markers: [""]
key: [id]
mode: {mode}
fields:
  id: {{from: id, type: bigint}}
  name: {{from: name, type: string(60)}}
  email: {{from: email, type: string(120)}}
  amount: {{from: amount, type: "decimal(12,2)"}}
  score: {{from: score, type: float}}
  created: {{from: created, type: date}}
  updated: {{from: updated, type: timestamptz}}
  active: {{from: active, type: boolean}}
"""


def _cents(ids: np.ndarray[Any, Any]) -> pa.Array:
    """Amounts with cents as text, negative ones too: -1000000.00 to 8999999.99."""
    cents = ((ids * 37) % 10**9) - 10**8
    sign = pa.array(np.where(cents < 0, "-", ""))
    whole = pc.cast(pa.array(np.abs(cents) // 100), pa.string())
    frac = pc.utf8_lpad(pc.cast(pa.array(np.abs(cents) % 100), pa.string()), 2, "0")
    return pc.binary_join_element_wise(sign, whole, ".", frac, "")


def write_csv(path: Path, rows: int) -> None:
    """A clean, deterministic CSV (header, RFC 4180 quoting, empty field = NULL)."""
    ids = np.arange(1, rows + 1, dtype=np.int64)
    names = pa.array(NAMES).take(pa.array(ids % len(NAMES)))
    base = np.datetime64("2000-01-01")
    created = (base + (ids % 9000).astype("timedelta64[D]")).astype("datetime64[D]")
    updated = np.datetime64("2020-01-01T00:00:00") + (ids * 7919).astype("timedelta64[s]")
    table = pa.table(
        {
            "id": ids,
            "name": pc.binary_join_element_wise(names, pc.cast(pa.array(ids), pa.string()), " "),
            "email": pc.if_else(
                pa.array(ids % 10 == 0),
                pa.scalar(None, pa.string()),
                pc.binary_join_element_wise(
                    "c", pc.cast(pa.array(ids), pa.string()), "@ex.com", ""
                ),
            ),
            "amount": _cents(ids),
            "score": pc.if_else(pa.array(ids % 7 == 0), None, pa.array(ids / 7.0)),
            "created": pa.array(created),
            "updated": pc.binary_join_element_wise(
                pc.strftime(pa.array(updated), format="%Y-%m-%dT%H:%M:%S"), "+00:00", ""
            ),
            "active": pa.array(ids % 3 == 0),
        }
    )
    pacsv.write_csv(table, path, pacsv.WriteOptions(quoting_style="needed"))


def make_project(work: Path, batch: int, mode: str) -> Path:
    project = work / "project"
    (project / "mappings" / "specs").mkdir(parents=True)
    (project / "ferryman.yaml").write_text(
        "name: pg-load-bench\nconnections:\n  files:\n    kind: csv\n"
        f"    path: {work / 'data'}\n    encoding: utf-8\n"
        "  target:\n    kind: sql\n    url: ${BENCH_TARGET_URL}\n"
        f"target: target\ndefaults:\n  batch_size: {batch}\nreports: {work / 'reports'}\n"
    )
    (project / "mappings" / "specs" / "t.yaml").write_text(SPEC.format(mode=mode))
    return project


def ferryman_run(project: Path, env: dict[str, str]) -> tuple[float, dict[str, Any]]:
    """`ferryman run --json` in a child process: its wall time and its JSON summary."""
    start = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-m", "ferryman.flows.cli", "run", "--project", str(project), "--json"],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        sys.stderr.write(proc.stderr[-4000:])
        raise SystemExit(f"ferryman run failed with exit code {proc.returncode}")
    summary: dict[str, Any] = json.loads(proc.stdout)
    return elapsed, summary


def psql_copy(dsn: str, schema: str, table: str, path: Path) -> tuple[float, str]:
    """`psql \\copy` of the file into `table` (already created): its wall time. Without
    psql (`apt-get install postgresql-client`), psycopg's COPY FROM STDIN of the same
    file, said so in the output."""
    psql = shutil.which("psql")
    if psql is None:
        start = time.perf_counter()
        with psycopg.connect(dsn) as conn, conn.cursor() as cur:
            conn.execute(f'SET search_path TO "{schema}"')
            with (
                cur.copy(f"COPY {table} FROM STDIN (FORMAT csv, HEADER)") as copy,
                path.open("rb") as fh,
            ):
                while chunk := fh.read(1 << 20):
                    copy.write(chunk)
        return time.perf_counter() - start, "psycopg COPY FROM STDIN (psql is not installed)"
    env = {**os.environ, "PGOPTIONS": f"-csearch_path={schema}"}
    command = f"\\copy {table} FROM '{path}' CSV HEADER"
    start = time.perf_counter()
    subprocess.run(
        [psql, "-X", "-q", "-v", "ON_ERROR_STOP=1", dsn, "-c", command], env=env, check=True
    )
    return time.perf_counter() - start, "psql \\copy"


def same_rows(conn: psycopg.Connection[Any], a: str, b: str) -> int:
    """Rows in one table and not the other, both ways (0 = the same rows)."""
    row = conn.execute(
        f"SELECT (SELECT count(*) FROM (TABLE {a} EXCEPT ALL TABLE {b}) x)"
        f" + (SELECT count(*) FROM (TABLE {b} EXCEPT ALL TABLE {a}) y)"
    ).fetchone()
    assert row is not None
    return int(row[0])


# --- the write path alone: binary COPY against pyarrow's CSV text COPY -----------------


def write_paths(dsn: str, schema: str, path: Path, batch: int, repeat: int = 2) -> dict[str, float]:
    """Seconds to COPY the file's typed rows (as the mapping hands them over) in batches,
    one transaction each, through each of the target's two COPY formats; best of `repeat`,
    alternating, each time into an empty table."""
    from pydantic import SecretStr

    from ferryman.connectors.sql import pgcopy
    from ferryman.connectors.sql.options import SqlOptions
    from ferryman.connectors.sql.target import SqlTarget

    data = _typed(path)
    url = (
        f"{dsn.replace('postgresql://', 'postgresql+psycopg://')}?options=-csearch_path%3D{schema}"
    )
    target = SqlTarget("bench", SqlOptions(url=SecretStr(url), schema=schema))
    best: dict[str, float] = {}
    try:
        with target.begin() as conn:
            conn.exec_driver_sql("CREATE TABLE w (LIKE t INCLUDING ALL)")
            oids = [target._pg_column_types(conn, "w")[c][0] for c in data.column_names]
        for _ in range(repeat):
            for name, binary in (("binary COPY", True), ("CSV COPY (pyarrow text)", False)):
                with target.begin() as conn:
                    conn.exec_driver_sql("TRUNCATE w")
                start = time.perf_counter()
                for i in range(0, data.num_rows, batch):
                    with target.begin() as conn:
                        pgcopy.copy_to(
                            conn, target._qualified("w"), data.slice(i, batch), oids, binary
                        )
                elapsed = time.perf_counter() - start
                best[name] = min(best.get(name, elapsed), elapsed)
    finally:
        target.close()
    return best


def _typed(path: Path) -> pa.Table:
    """The file's rows with the spec's types, as the mapping hands them to the target."""
    types = {
        "id": pa.int64(),
        "name": pa.string(),
        "email": pa.string(),
        "amount": pa.decimal128(12, 2),
        "score": pa.float64(),
        "created": pa.date32(),
        "updated": pa.timestamp("us", tz="UTC"),
        "active": pa.bool_(),
    }
    table = pacsv.read_csv(path, convert_options=pacsv.ConvertOptions(column_types=types))
    return table.combine_chunks()


def mariadb_paths(url: str, path: Path, batch: int) -> dict[str, float]:
    """The same typed rows into MariaDB through the target's two write paths (LOAD DATA
    LOCAL with its warning check, PyMySQL executemany), one transaction per batch."""
    import sqlalchemy as sa
    from pydantic import SecretStr

    from ferryman.connectors.base import ColumnSchema, TableSchema
    from ferryman.connectors.sql.options import SqlOptions
    from ferryman.connectors.sql.target import SqlTarget

    data = _typed(path)
    database = f"bench_{secrets.token_hex(4)}"
    admin = sa.create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f"CREATE DATABASE `{database}` CHARACTER SET utf8mb4")
    target = SqlTarget(
        "bench", SqlOptions(url=SecretStr(f"{url.rsplit('/', 1)[0]}/{database}?charset=utf8mb4"))
    )
    columns = tuple(
        ColumnSchema(f.name, f.type, nullable=f.name != "id", max_length=120)
        if pa.types.is_string(f.type)
        else ColumnSchema(f.name, f.type, nullable=f.name != "id")
        for f in data.schema
    )
    seconds: dict[str, float] = {}
    try:
        for name, load_data in (("LOAD DATA LOCAL", True), ("executemany INSERT", False)):
            table = "t_load" if load_data else "t_insert"
            with target.begin() as conn:
                target.ensure_table(conn, TableSchema(table, columns, ("id",)))
                if not target._may_load_data(conn) and load_data:
                    continue  # the server has local_infile off: nothing to compare
            target._load_data = load_data
            start = time.perf_counter()
            for i in range(0, data.num_rows, batch):
                with target.begin() as conn:
                    target.insert(conn, table, data.slice(i, batch))
            seconds[name] = time.perf_counter() - start
    finally:
        target.close()
        with admin.connect() as conn:
            conn.exec_driver_sql(f"DROP DATABASE `{database}`")
        admin.dispose()
    return seconds


# --- where the time goes (same load, in this process, with timers) ------------------------


class Stopwatch:
    def __init__(self) -> None:
        self.seconds: dict[str, float] = defaultdict(float)

    def wrap(self, owner: Any, name: str, stage: str) -> Callable[[], None]:
        original = getattr(owner, name)

        @functools.wraps(original)
        def timed(*args: Any, **kwargs: Any) -> Any:
            start = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                self.seconds[stage] += time.perf_counter() - start

        setattr(owner, name, timed)
        return lambda: setattr(owner, name, original)

    def wrap_generator(self, owner: Any, name: str, stage: str) -> Callable[[], None]:
        original = getattr(owner, name)

        @functools.wraps(original)
        def timed(*args: Any, **kwargs: Any) -> Iterator[Any]:
            it = iter(original(*args, **kwargs))
            while True:
                start = time.perf_counter()
                try:
                    item = next(it)
                except StopIteration:
                    return
                finally:
                    self.seconds[stage] += time.perf_counter() - start
                yield item

        setattr(owner, name, timed)
        return lambda: setattr(owner, name, original)


def split(project: Path) -> tuple[float, dict[str, float]]:
    """Run the load in this process with a timer around each stage."""
    import ferryman.flows.batch.load
    import ferryman.flows.ops.run
    from ferryman.connectors.csv.source import CsvSource
    from ferryman.connectors.sql.target import SqlTarget
    from ferryman.flows.ledger.journal import Journal
    from ferryman.flows.ledger.store import Ledger
    from ferryman.flows.prefect_flows import migrate
    from ferryman.mappings.compile import CompiledMapping

    watch = Stopwatch()
    undo = [
        watch.wrap_generator(CsvSource, "read_batches", "read (csv source)"),
        watch.wrap(CompiledMapping, "apply", "map (casts)"),
        watch.wrap(ferryman.flows.batch.load, "_duplicate_keys", "key checks"),
        watch.wrap(ferryman.flows.batch.load, "_missing_parents", "key checks"),
        watch.wrap(SqlTarget, "insert", "write (COPY)"),
        watch.wrap(SqlTarget, "upsert", "write (upsert)") if hasattr(SqlTarget, "upsert") else None,
        watch.wrap(Journal, "record_inserts", "journal"),
        watch.wrap(Journal, "record_updates", "journal"),
        watch.wrap(
            ferryman.flows.batch.load, "column_aggregates", "ledger (aggregates, batch row)"
        ),
        watch.wrap(Ledger, "record_batch", "ledger (aggregates, batch row)"),
        watch.wrap(Ledger, "record_quarantine", "ledger (aggregates, batch row)"),
        watch.wrap(ferryman.flows.ops.run, "reconcile_run", "reconciliation (end of run)"),
    ]
    start = time.perf_counter()
    try:
        summary = migrate(str(project))
    finally:
        for restore in undo:
            if restore is not None:
                restore()
    total = time.perf_counter() - start
    if summary["state"] != "succeeded":
        raise SystemExit(f"in-process run ended {summary['state']}: {summary.get('error')}")
    watch.seconds["load (table, all batches)"] = summary["tables"]["t"]["seconds"]
    return total, dict(watch.seconds)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.pg_load", description=__doc__)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--batch", type=int, default=50_000)
    parser.add_argument("--mode", choices=["insert", "upsert"], default="insert")
    parser.add_argument("--no-split", action="store_true", help="skip the in-process split")
    parser.add_argument("--url", default="postgresql+psycopg://postgres@127.0.0.1:5432/test")
    parser.add_argument(
        "--mariadb",
        metavar="URL",
        nargs="?",
        const="mysql+pymysql://root@127.0.0.1:3306/test",
        help="also time MariaDB's two write paths on the same rows",
    )
    args = parser.parse_args(argv)
    quiet_environment(os.environ)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # clean up when stopped
    work = Path(tempfile.mkdtemp(prefix="ferryman-pgload-"))
    schema = f"bench_{secrets.token_hex(4)}"
    dsn = args.url.replace("postgresql+psycopg://", "postgresql://")
    (work / "data").mkdir()
    csv_path = work / "data" / "loads.csv"
    write_csv(csv_path, args.rows)
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    os.environ["BENCH_TARGET_URL"] = f"{args.url}?options=-csearch_path%3D{schema}"
    try:
        project = make_project(work, args.batch, args.mode)
        ok = _compare(args, project, dsn, schema, csv_path)
        formats = write_paths(dsn, schema, csv_path, args.batch)
        print("the write path alone (same typed rows, same batches, best of 2):")
        for name, seconds in formats.items():
            print(f"  {name:<34} {seconds:8.2f} s")
        if args.mariadb:
            print("MariaDB, the same typed rows and batches through the target's two paths:")
            for name, seconds in mariadb_paths(args.mariadb, csv_path, args.batch).items():
                print(f"  {name:<34} {seconds:8.2f} s")
        if not args.no_split:
            with psycopg.connect(dsn, autocommit=True) as conn:
                conn.execute(f'DROP SCHEMA "{schema}" CASCADE')
                conn.execute(f'CREATE SCHEMA "{schema}"')
            if args.mode == "upsert":
                split(project)  # the first load; the split is of the upsert that follows
            in_process, stages = split(project)
            print(f"where the time goes (the same {args.mode} in-process, {in_process:.2f} s):")
            for name, seconds in sorted(stages.items(), key=lambda kv: -kv[1]):
                print(f"  {name:<34} {seconds:8.2f} s")
    finally:
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        shutil.rmtree(work, ignore_errors=True)
    return 0 if ok else 1


def _compare(args: argparse.Namespace, project: Path, dsn: str, schema: str, path: Path) -> bool:
    """The `ferryman run` child process against psql's \\copy; prints the ratios."""
    wall, summary = ferryman_run(project, dict(os.environ))
    if args.mode == "upsert":  # the timed run upserts the same rows again
        wall, summary = ferryman_run(project, dict(os.environ))
    table = summary["tables"]["t"]
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(f'SET search_path TO "{schema}"')
        conn.execute("CREATE TABLE bl (LIKE t INCLUDING ALL)")
        runs = []
        for _ in range(3):  # best of 3: the machine may be shared
            conn.execute("TRUNCATE bl")
            runs.append(psql_copy(dsn, schema, "bl", path))
        baseline, how = min(runs)
        differ = same_rows(conn, "t", "bl")
    run_s, load_s = float(summary.get("seconds", 0.0)), float(table["seconds"])
    print(
        f"{args.rows:,} rows, {path.stat().st_size / 1e6:.0f} MB CSV, 8 columns, PostgreSQL,"
        f" {args.mode} mode, batches of {args.batch:,}, journal on;"
        " ratio = psql \\copy time / ferryman time (goal >= 0.8)"
    )
    print(f"{how + ' (baseline, best of 3)':<30} {baseline:8.2f} s")
    print(f"ferryman run, whole process    {wall:8.2f} s   ratio {baseline / wall:5.2f}")
    print(f"  the run (ledger start..end)  {run_s:8.2f} s   ratio {baseline / run_s:5.2f}")
    print(f"  the table's load (batches)   {load_s:8.2f} s   ratio {baseline / load_s:5.2f}")
    print(
        f"  read {table['read']:,}, loaded {table['loaded']:,} (inserted"
        f" {table.get('inserted', 0):,}, updated {table.get('updated', 0):,}, unchanged"
        f" {table.get('unchanged', 0):,}), quarantined {table['quarantined']},"
        f" batches {table['batches']}; rows differing from psql's table: {differ}",
        flush=True,
    )
    return differ == 0 and table["loaded"] == args.rows


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        sys.exit(main())
