"""Benchmark: mapping throughput (rows/s) of a 12-column spec with dates, maps, a lookup
and a computed field, as a ratio to simply reading the same data, in one run.

    python -m bench.mapping [--rows 1000000] [--batch-size 50000]

The data is generated once (untimed) as a CSV of text in memory. The baseline reads it
back into an Arrow table with pyarrow's CSV reader (all columns as text, as ferryman's
CSV source does); the mapping is then timed batch by batch on that table. Both figures
come from the same run on the same machine, so the ratio is what to compare over time.
"""

from __future__ import annotations

import argparse
import io
import sys
import time

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from ferryman.connectors.base import ROW_POSITION
from ferryman.mappings.compile import compile_spec
from ferryman.mappings.lookups import InMemoryLookups
from ferryman.mappings.model import MappingSpec

SPEC = {
    "target": "customers",
    "source": {"connection": "legacy", "file": "customers.csv", "null_markers": ["N/A", ""]},
    "key": ["customer_id"],
    "fields": {
        "customer_id": {"from": "CUSTNO", "type": "integer"},
        "name": {"from": "NAME", "transform": ["collapse_whitespace", "title"],
                 "type": "string(60)"},
        "email": {"from": "EMAIL", "transform": ["trim", "lower"], "type": "string(120)"},
        "status": {"from": "STAT", "type": "string(10)", "transform": [
            {"map": {"values": {"A": "active", "I": "inactive", "S": "suspended"},
                     "default": "unknown"}}]},
        "country_id": {"from": "CNTRY", "type": "integer", "transform": [
            "trim", "upper", {"lookup": {"table": "countries", "key": "iso", "value": "id"}}]},
        "created_on": {"from": "CRTDT", "type": "date", "transform": [
            {"parse_date": {"formats": ["%Y%m%d", "%d/%m/%Y"]}}]},
        "updated_at": {"from": "UPD", "type": "timestamp"},
        "credit": {"from": "CRLIM", "type": "decimal(12,2)",
                   "transform": [{"parse_number": {"locale": "de"}}]},
        "quantity": {"from": "QTY", "type": "integer"},
        "active": {"from": "ACT", "type": "boolean"},
        "branch": {"from": "BRANCH", "type": "string(5)", "transform": [{"pad": 5}]},
        "score": {"expr": "QTY * 2 + 1", "type": "float"},
    },
}  # fmt: skip
COUNTRIES = ["FR", "DE", "GB", "US", "ES", "IT", "NL", "BE", "CH", "AT"]


def generate(rows: int, seed: int = 42) -> pa.Table:
    """Legacy-looking text columns; every row maps cleanly (throughput, not rejects)."""
    rng = np.random.default_rng(seed)
    ids = np.arange(1, rows + 1)
    days = rng.integers(0, 20_000, rows).astype("datetime64[D]").astype("datetime64[s]")
    stamps = pa.array(days + rng.integers(0, 86_400, rows).astype("timedelta64[s]"))
    dates = pa.array(days)
    two_formats = pc.if_else(
        pa.array(rng.integers(0, 2, rows) == 0),
        pc.strftime(dates, format="%Y%m%d"),
        pc.strftime(dates, format="%d/%m/%Y"),
    )

    def pick(options: list[str]) -> pa.Array:
        return pa.array(options).take(pa.array(rng.integers(0, len(options), rows)))

    cents = rng.integers(0, 10_000_000, rows)
    credit = pa.array([f"{c // 100:,}".replace(",", ".") + f",{c % 100:02d}" for c in cents])
    name = pick(["ada  lovelace", "ALAN TURING", "grace hopper", "edsger dijkstra"])
    return pa.table(
        {
            "CUSTNO": pc.cast(pa.array(ids), pa.string()),
            "NAME": name,
            "EMAIL": pick([" Ada@Example.org", "alan@x.org ", "GRACE@navy.mil"]),
            "STAT": pick(["A", "I", "S", "X"]),
            "CNTRY": pick([f" {c.lower()}" for c in COUNTRIES]),
            "CRTDT": two_formats,
            "UPD": pc.strftime(stamps, format="%Y-%m-%d %H:%M:%S"),
            "CRLIM": credit,
            "QTY": pc.cast(pa.array(rng.integers(0, 1000, rows)), pa.string()),
            "ACT": pick(["Y", "N", "yes", "no"]),
            "BRANCH": pc.cast(pa.array(rng.integers(1, 999, rows)), pa.string()),
            "NOTE": pick(["N/A", "call back", ""]),
        }
    )


def to_csv(table: pa.Table) -> bytes:
    sink = io.BytesIO()
    pacsv.write_csv(table, sink)
    return sink.getvalue()


def read(data: bytes, names: list[str]) -> pa.Table:
    """The baseline: the CSV read back as text columns, as ferryman's CSV source reads."""
    convert = pacsv.ConvertOptions(column_types={n: pa.string() for n in names})
    return pacsv.read_csv(io.BytesIO(data), convert_options=convert)


def run(rows: int, batch_size: int) -> dict[str, float]:
    raw = generate(rows)
    data = to_csv(raw)
    started = time.perf_counter()
    table = read(data, raw.column_names)
    read_seconds = time.perf_counter() - started

    lookups = InMemoryLookups()
    lookups.add("target", "countries", pa.table({"iso": COUNTRIES, "id": range(1, 11)}))
    compiled = compile_spec(MappingSpec.model_validate(SPEC), lookups=lookups)
    positions = pc.cast(pa.array(np.arange(2, rows + 2)), pa.string())
    table = table.append_column(ROW_POSITION, positions)
    started = time.perf_counter()
    loaded = rejected = 0
    for offset in range(0, rows, batch_size):
        result = compiled.apply(table.slice(offset, batch_size))
        loaded += result.rows.num_rows
        rejected += result.rejected_rows
    map_seconds = time.perf_counter() - started
    if loaded != rows:
        raise AssertionError(f"{rejected} rows were rejected; the benchmark data should be clean")
    return {
        "rows": rows,
        "read_seconds": read_seconds,
        "map_seconds": map_seconds,
        "read_rows_per_s": rows / read_seconds,
        "map_rows_per_s": rows / map_seconds,
        "ratio": map_seconds / read_seconds,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.mapping", description=__doc__)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--batch-size", type=int, default=50_000)
    args = parser.parse_args(argv)
    r = run(args.rows, args.batch_size)
    print(f"rows              {int(r['rows']):>12,}")
    print(f"read (baseline)   {r['read_seconds']:>10.2f} s  {r['read_rows_per_s']:>12,.0f} rows/s")
    print(f"map (12 columns)  {r['map_seconds']:>10.2f} s  {r['map_rows_per_s']:>12,.0f} rows/s")
    print(f"mapping / reading {r['ratio']:>10.1f} x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
