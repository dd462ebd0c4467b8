"""Benchmark: source connectors against baselines measured in the same run.

    python -m bench.connectors [--rows 200000] [--memory-rows 50000] [--repeat 3]

1. Fixed width vs CSV: the same rows as a fixed-width file and as a CSV file, each read
   through its ferryman source (every value as text); ratio fixed-width / CSV.
2. MariaDB: a table read through the `sql` source (server-side cursor, batches of 50,000,
   plain and in 8 key ranges) vs the `mariadb -B -e 'SELECT ...' > /dev/null` client on the
   same table; ratio source / client.
3. Memory: the peak RSS of a child process that reads N, then 10 N rows through a source in
   batches of 10,000 (CSV file, SQLite, PostgreSQL and MariaDB tables); ratio of the peaks,
   which should stay near 1.0 (memory bounded by the batch, not the input).

Each time is the best of `--repeat` runs (the machine may be shared). A server that is not
reachable is reported and its part skipped.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import sqlalchemy as sa

MARIADB_URL = os.environ.get("FERRYMAN_BENCH_MARIADB", "mysql+pymysql://root@127.0.0.1:3306/test")
PG_URL = os.environ.get("FERRYMAN_BENCH_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
WIDTHS = {
    "id": 9,
    "name": 16,
    "city": 12,
    "amount": 11,
    "created": 10,
    "status": 1,
    "note": 24,
    "code": 4,
}
COLUMNS = list(WIDTHS)
_NAMES = ["Müller", "Zoë O'Brien", "Dupont Jean", "Say hi", "Nuñez", "Smith"]
_CITIES = ["Köln", "Lyon", "Zaragoza", "Leeds"]


def _rows(n: int) -> Iterator[tuple[str, ...]]:
    rnd = random.Random(42)
    for i in range(n):
        yield (
            str(i),
            _NAMES[i % len(_NAMES)],
            _CITIES[i % len(_CITIES)],
            f"{rnd.randint(0, 10**8) / 100:.2f}",
            f"2019-{i % 12 + 1:02d}-{i % 28 + 1:02d}",
            "AIX"[i % 3],
            f"free text number {i}",
            f"X{i % 97:03d}",
        )


# --- data files and tables ---------------------------------------------------------------


def write_csv(path: Path, n: int) -> None:
    with path.open("w", encoding="cp1252", newline="") as fh:
        fh.write(",".join(COLUMNS) + "\r\n")
        for row in _rows(n):
            fh.write(",".join(row) + "\r\n")


def write_fixed(path: Path, n: int) -> None:
    widths = list(WIDTHS.values())
    with path.open("w", encoding="cp1252", newline="") as fh:
        for row in _rows(n):
            fh.write("".join(v.ljust(w) for v, w in zip(row, widths, strict=True)) + "\r\n")


def _layout() -> list[dict[str, Any]]:
    out, start = [], 0
    for name, width in WIDTHS.items():
        out.append({"name": name, "start": start, "length": width})
        start += width
    return out


_DDL = (
    "CREATE TABLE {t} (id BIGINT PRIMARY KEY, name VARCHAR(40), city VARCHAR(20),"
    " amount NUMERIC(12,2), created DATE, status CHAR(1), note VARCHAR(40), code CHAR(4))"
)


def fill_table(url: str, table: str, n: int) -> None:
    """`table` with n rows (typed columns, as a legacy table has them)."""
    engine = sa.create_engine(url)
    insert = sa.text(
        f"INSERT INTO {table} VALUES (:id, :name, :city, :amount, :created, :status, :note, :code)"
    )
    try:
        with engine.begin() as conn:
            conn.execute(sa.text(_DDL.format(t=table)))
            chunk: list[dict[str, Any]] = []
            for row in _rows(n):
                chunk.append(dict(zip(COLUMNS, row, strict=True)))
                if len(chunk) == 20_000:
                    conn.execute(insert, chunk)
                    chunk = []
            if chunk:
                conn.execute(insert, chunk)
    finally:
        engine.dispose()


def _reachable(url: str) -> str | None:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            conn.execute(sa.text("SELECT 1"))
    except Exception as err:  # noqa: BLE001 - any failure means "skip this part"
        return str(err).splitlines()[0]
    else:
        return None
    finally:
        engine.dispose()


@contextmanager
def scratch_database(url: str) -> Iterator[str]:
    """A database (MariaDB) or schema (PostgreSQL) of its own, dropped afterwards."""
    name = f"bench_{secrets.token_hex(4)}"
    admin = sa.create_engine(url, isolation_level="AUTOCOMMIT")
    postgres = admin.dialect.name == "postgresql"
    create = f'CREATE SCHEMA "{name}"' if postgres else f"CREATE DATABASE `{name}`"
    drop = f'DROP SCHEMA "{name}" CASCADE' if postgres else f"DROP DATABASE `{name}`"
    with admin.connect() as conn:
        conn.execute(sa.text(create))
    try:
        if postgres:
            yield f"{url}?options=-csearch_path%3D{name}"
        else:
            yield url.rsplit("/", 1)[0] + f"/{name}?charset=utf8mb4"
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(drop))
        admin.dispose()


# --- reading through sources --------------------------------------------------------------


def build_source(kind: str, where: str) -> tuple[Any, str]:
    """The source and stream for `kind` at `where` (a file path, or a database URL)."""
    if kind == "csv":
        from ferryman.connectors.csv.options import CsvOptions
        from ferryman.connectors.csv.source import CsvSource

        path = Path(where)
        return CsvSource("bench", CsvOptions(path=str(path.parent), encoding="cp1252")), path.name
    if kind == "fixed_width":
        from ferryman.connectors.fixed_width.options import FixedWidthOptions
        from ferryman.connectors.fixed_width.source import FixedWidthSource

        path = Path(where)
        options = FixedWidthOptions.model_validate(
            {"path": str(path.parent), "encoding": "cp1252", "layout": _layout()}
        )
        return FixedWidthSource("bench", options), path.name
    from ferryman.connectors.sql.options import SqlOptions
    from ferryman.connectors.sql.source import SqlSource

    raw: dict[str, Any] = {"url": where}
    if kind == "sql-ranges":
        raw["partition"] = {"ranges": 8}
    return SqlSource("bench", SqlOptions.model_validate(raw)), "legacy"


def read_all(kind: str, where: str, batch_size: int) -> tuple[float, int]:
    src, stream = build_source(kind, where)
    try:
        start = time.perf_counter()
        rows = sum(b.rows_read for b in src.read_batches(stream, batch_size))
        return time.perf_counter() - start, rows
    finally:
        src.close()


def best(repeat: int, run: Callable[[], tuple[float, int]]) -> tuple[float, int]:
    return min(run() for _ in range(repeat))


# --- 1. fixed width vs CSV ---------------------------------------------------------------


def fixed_vs_csv(rows: int, repeat: int, tmp: Path) -> None:
    (tmp / "csv").mkdir()
    (tmp / "fw").mkdir()
    csv_path, fw_path = tmp / "csv" / "data.csv", tmp / "fw" / "data.dat"
    write_csv(csv_path, rows)
    write_fixed(fw_path, rows)
    csv = best(repeat, lambda: read_all("csv", str(csv_path), 50_000))
    fixed = best(repeat, lambda: read_all("fixed_width", str(fw_path), 50_000))
    assert csv[1] == fixed[1] == rows, (csv, fixed)
    csv_mib, fw_mib = csv_path.stat().st_size / 2**20, fw_path.stat().st_size / 2**20
    print(f"== fixed width vs CSV: {rows} rows, 8 columns, cp1252")
    print(f"csv source:         {csv[0]:6.2f} s  {csv_mib:6.1f} MiB  {rows / csv[0]:>9,.0f} rows/s")
    print(
        f"fixed_width source: {fixed[0]:6.2f} s  {fw_mib:6.1f} MiB  {rows / fixed[0]:>9,.0f} rows/s"
    )
    print(f"ratio fixed_width / csv: {fixed[0] / csv[0]:.2f}")


# --- 2. MariaDB source vs the mariadb client ----------------------------------------------


def _client() -> str | None:
    return shutil.which("mariadb") or shutil.which("mysql")


def _client_read(client: str, url: str) -> tuple[float, int]:
    parsed = sa.engine.make_url(url)
    command = [
        client,
        f"-h{parsed.host or '127.0.0.1'}",
        f"-P{parsed.port or 3306}",
        f"-u{parsed.username or 'root'}",
        "-B",
        "-e",
        f"SELECT * FROM `{parsed.database}`.legacy ORDER BY id",
    ]
    env = dict(os.environ)
    if parsed.password:
        env["MYSQL_PWD"] = str(parsed.password)
    start = time.perf_counter()
    with Path(os.devnull).open("wb") as sink:
        subprocess.run(command, stdout=sink, check=True, env=env)
    return time.perf_counter() - start, 0


def mariadb_vs_client(rows: int, repeat: int) -> None:
    print(f"== MariaDB: {rows} rows through the sql source vs the command-line client")
    why = _reachable(MARIADB_URL)
    client = _client()
    if why or not client:
        print(f"skipped: {why or 'neither mariadb nor mysql is on PATH'}")
        return
    with scratch_database(MARIADB_URL) as url:
        fill_table(url, "legacy", rows)
        base = best(repeat, lambda: _client_read(client, url))
        plain = best(repeat, lambda: read_all("sql", url, 50_000))
        ranged = best(repeat, lambda: read_all("sql-ranges", url, 50_000))
    assert plain[1] == ranged[1] == rows, (plain, ranged)
    print(f"{Path(client).name} -B -e 'SELECT * ... ORDER BY id' > /dev/null: {base[0]:6.2f} s")
    print(f"sql source:                {plain[0]:6.2f} s  {rows / plain[0]:>9,.0f} rows/s")
    print(f"sql source, 8 key ranges:  {ranged[0]:6.2f} s  {rows / ranged[0]:>9,.0f} rows/s")
    print(f"ratio source / client:            {plain[0] / base[0]:.2f}")
    print(f"ratio source in ranges / client:  {ranged[0] / base[0]:.2f}")


# --- 3. peak memory when the input grows 10x ------------------------------------------------


def _peak_kib() -> int:
    """This process's peak resident set (VmHWM). Not getrusage's ru_maxrss: a child keeps
    the high-water mark of the parent it was forked from across exec."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # not Linux: best effort


def _child_main(kind: str, where: str, batch_size: int) -> None:
    """Runs in a child: build the source, note the peak RSS, read everything, note it again."""
    src, stream = build_source(kind, where)
    before = _peak_kib()
    rows = sum(b.rows_read for b in src.read_batches(stream, batch_size))
    after = _peak_kib()
    src.close()
    print(json.dumps({"rows": rows, "before_kib": before, "peak_kib": after}))


def _child(kind: str, where: str, batch_size: int) -> dict[str, int]:
    command = [sys.executable, "-m", "bench.connectors", "--child", kind, where, str(batch_size)]
    out = subprocess.run(command, check=True, capture_output=True, text=True).stdout
    result: dict[str, int] = json.loads(out.strip().splitlines()[-1])
    return result


def memory_flat(n: int, tmp: Path) -> None:
    batch = 10_000
    print(f"== peak RSS of a child reading N = {n} and 10 N = {10 * n} rows, batches of {batch}")
    subjects: list[tuple[str, str, Callable[[int], Any]]] = []

    def csv_file(rows: int) -> Any:
        path = tmp / f"mem{rows}" / "data.csv"
        path.parent.mkdir()
        write_csv(path, rows)
        return nullcontext_str(str(path))

    def sqlite_db(rows: int) -> Any:
        url = f"sqlite:///{tmp / f'mem{rows}.db'}"
        fill_table(url, "legacy", rows)
        return nullcontext_str(url)

    def server(base_url: str) -> Callable[[int], Any]:
        @contextmanager
        def make(rows: int) -> Iterator[str]:
            with scratch_database(base_url) as url:
                fill_table(url, "legacy", rows)
                yield url

        return make

    subjects.append(("csv", "csv file", csv_file))
    subjects.append(("sql", "sql, SQLite", sqlite_db))
    for label, url in (("PostgreSQL", PG_URL), ("MariaDB", MARIADB_URL)):
        why = _reachable(url)
        if why:
            print(f"sql, {label}: skipped: {why}")
            continue
        subjects.append(("sql", f"sql, {label}", server(url)))
    for kind, label, make in subjects:
        peaks = []
        for rows in (n, 10 * n):
            with make(rows) as where:
                result = _child(kind, where, batch)
            assert result["rows"] == rows, result
            peaks.append(result)
        small, large = peaks
        print(
            f"{label:16} N: {small['peak_kib'] / 1024:7.1f} MiB"
            f" (+{(small['peak_kib'] - small['before_kib']) / 1024:6.1f} reading)"
            f"   10 N: {large['peak_kib'] / 1024:7.1f} MiB"
            f" (+{(large['peak_kib'] - large['before_kib']) / 1024:6.1f} reading)"
            f"   ratio 10 N / N: {large['peak_kib'] / small['peak_kib']:.2f}"
        )


@contextmanager
def nullcontext_str(value: str) -> Iterator[str]:
    yield value


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=200_000, help="rows of parts 1 and 2")
    parser.add_argument("--memory-rows", type=int, default=50_000, help="N of part 3")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument(
        "--child", nargs=3, metavar=("KIND", "WHERE", "BATCH"), help=argparse.SUPPRESS
    )
    args = parser.parse_args(argv)
    if args.child:
        kind, where, batch = args.child
        _child_main(kind, where, int(batch))
        return
    with tempfile.TemporaryDirectory(prefix="ferryman-bench-") as tmp:
        fixed_vs_csv(args.rows, args.repeat, Path(tmp))
        mariadb_vs_client(args.rows, args.repeat)
        memory_flat(args.memory_rows, Path(tmp))


if __name__ == "__main__":
    main()
