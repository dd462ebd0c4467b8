"""Benchmark: CSV read throughput of the `csv` source vs `pyarrow.csv.read_csv` of the
same file, as a ratio measured in one run.

    python -m bench.csv_read [--rows 300000] [--encoding cp1252]

Both read every value as text. pyarrow is multi-threaded and fails the whole file on one
undecodable byte; the `csv` source is one thread, streams in bounded memory and
quarantines bad records with their position, so a ratio above 1 is the price of that.
"""

from __future__ import annotations

import argparse
import random
import tempfile
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv

from connectors.csv.options import CsvOptions
from connectors.csv.source import CsvSource

COLUMNS = ["id", "name", "city", "amount", "created", "status", "note", "code"]


def _write(path: Path, rows: int, encoding: str) -> None:
    rnd = random.Random(42)
    names = ["Müller", "Zoë O'Brien", "Dupont, Jean", 'Say "hi"', "Nuñez", "Smith"]
    with path.open("w", encoding=encoding, newline="") as fh:
        fh.write(",".join(COLUMNS) + "\r\n")
        for i in range(rows):
            name = names[i % len(names)]
            quoted = '"' + name.replace('"', '""') + '"' if ("," in name or '"' in name) else name
            fh.write(
                f"{i},{quoted},Köln,{rnd.randint(0, 10**6) / 100:.2f},2019-{i % 12 + 1:02d}-01,"
                f"A,free text number {i},X{i % 97:03d}\r\n"
            )


def _ferryman(path: Path, encoding: str) -> tuple[float, int]:
    src = CsvSource("bench", CsvOptions(path=str(path.parent), encoding=encoding))
    start = time.perf_counter()
    rows = sum(b.num_rows for b in src.read_batches(path.name, 50_000))
    return time.perf_counter() - start, rows


def _pyarrow(path: Path, encoding: str) -> tuple[float, int]:
    start = time.perf_counter()
    table = pacsv.read_csv(
        path,
        read_options=pacsv.ReadOptions(encoding=encoding),
        convert_options=pacsv.ConvertOptions(column_types=dict.fromkeys(COLUMNS, pa.string())),
    )
    return time.perf_counter() - start, table.num_rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=300_000)
    parser.add_argument("--encoding", default="cp1252")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bench.csv"
        _write(path, args.rows, args.encoding)
        mib = path.stat().st_size / 2**20
        ours = min(_ferryman(path, args.encoding) for _ in range(2))
        base = min(_pyarrow(path, args.encoding) for _ in range(2))
    assert ours[1] == base[1] == args.rows
    print(f"file: {args.rows} rows, {mib:.1f} MiB, {args.encoding}")
    print(f"ferryman csv source: {ours[0]:.2f} s ({mib / ours[0]:.1f} MiB/s)")
    print(f"pyarrow read_csv:    {base[0]:.2f} s ({mib / base[0]:.1f} MiB/s)")
    print(f"ratio (ferryman / pyarrow): {ours[0] / base[0]:.2f}")


if __name__ == "__main__":
    main()
