"""Benchmark: CSV read throughput of the `csv` source, with each of its engines, vs
`pyarrow.csv.read_csv` of the same file, as ratios measured in one run.

    python -m bench.csv_read [--rows 300000] [--encoding cp1252] [--repeat 3]

All read every value as text. pyarrow's `read_csv` is multi-threaded, holds the whole file
and fails it on one undecodable byte. The `csv` source streams in bounded memory and
quarantines bad records with their position: its fast path (pyarrow's streaming reader,
one thread) reads this file; the Python parser is what it falls back to (forced here).
Each figure is the best of `--repeat` runs (the machine may be shared).
"""

from __future__ import annotations

import argparse
import random
import tempfile
import time
from pathlib import Path
from typing import Literal

import pyarrow as pa
import pyarrow.csv as pacsv

from ferryman.connectors.csv.options import CsvOptions
from ferryman.connectors.csv.source import CsvSource

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


def _ferryman(path: Path, encoding: str, engine: Literal["auto", "python"]) -> tuple[float, int]:
    options = CsvOptions(path=str(path.parent), encoding=encoding)
    src = CsvSource("bench", options, _engine=engine)
    start = time.perf_counter()
    rows = sum(b.num_rows for b in src.read_batches(path.name, 50_000))
    elapsed = time.perf_counter() - start
    assert engine == "python" or src.engines[path.name] == "arrow", src.engines
    return elapsed, rows


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
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bench.csv"
        _write(path, args.rows, args.encoding)
        mib = path.stat().st_size / 2**20
        runs = range(args.repeat)
        fast = min(_ferryman(path, args.encoding, "auto") for _ in runs)
        slow = min(_ferryman(path, args.encoding, "python") for _ in runs)
        base = min(_pyarrow(path, args.encoding) for _ in runs)
    assert fast[1] == slow[1] == base[1] == args.rows
    print(f"file: {args.rows} rows, {mib:.1f} MiB, {args.encoding}")
    print(f"csv source, fast path:     {fast[0]:.2f} s ({mib / fast[0]:.1f} MiB/s)")
    print(f"csv source, Python parser: {slow[0]:.2f} s ({mib / slow[0]:.1f} MiB/s)")
    print(f"pyarrow read_csv:          {base[0]:.2f} s ({mib / base[0]:.1f} MiB/s)")
    print(f"ratio fast path / pyarrow:     {fast[0] / base[0]:.2f}")
    print(f"ratio Python parser / pyarrow: {slow[0] / base[0]:.2f}")


if __name__ == "__main__":
    main()
