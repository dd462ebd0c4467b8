"""Build the demo legacy CRM: a SQLite database, a cp1252 product export and a manifest.

    python -m demo.generate --out .demo/legacy [--customers 20000] [--seed 42]

Deterministic: one seed and size give byte-identical files (one `random.Random(seed)`,
no clock, no set iteration order). Defects are planted on purpose and listed exactly in
`manifest.json`, so tests can compare ferryman's quarantine with what was planted.
"""

from __future__ import annotations

import argparse
import csv
import gc
import sqlite3
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from random import Random

from demo import _defects, _tables
from demo._tables import COLUMNS, Row
from demo.manifest import Manifest, build

SCHEMA = Path(__file__).with_name("legacy_schema.sql")
DB_NAME = "crm.db"
PRODUCTS_CSV = Path("exports") / "PRODUCTS.CSV"
MANIFEST_NAME = "manifest.json"
DB_TABLES = ("CUSTMAST", "ORDHDR", "ORDLIN")


@contextmanager
def _without_cycle_collection() -> Iterator[None]:
    """Building 200,000 acyclic rows makes the cycle collector rescan an ever larger heap
    (it doubled the run time at 20,000 customers); reference counting frees them anyway."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def build_tables(customers: int, seed: int) -> dict[str, list[Row]]:
    """The four legacy tables, defects planted, rows in their final order."""
    if customers < 1:
        raise ValueError(
            f"customers must be at least 1 (distinct customers to generate), got {customers}"
        )
    rng = Random(seed)
    products = _tables.build_products(rng)
    base = _tables.build_customers(rng, customers)
    custmast = _defects.plant_customers(rng, base)
    bad_customers = {r.key for r in base if r.defect is not None}
    orders, lines = _tables.build_orders(rng, base, bad_customers, products)
    _defects.plant_orders(rng, orders, bad_customers, [int(r.key) for r in base])
    held = {o.key for o in orders if o.defect is not None or o.raw["CUSTNO"] in bad_customers}
    ordlin = _defects.plant_lines(rng, lines, held, [o.key for o in orders], products)
    return {"CUSTMAST": custmast, "ORDHDR": orders, "ORDLIN": ordlin, "PRODUCTS": products}


def generate(out: Path, customers: int = 20_000, seed: int = 42) -> Manifest:
    """Write crm.db, exports/PRODUCTS.CSV and manifest.json under `out` (replacing them)."""
    with _without_cycle_collection():
        return _generate(out, customers, seed)


def _generate(out: Path, customers: int, seed: int) -> Manifest:
    tables = build_tables(customers, seed)
    out.mkdir(parents=True, exist_ok=True)
    (out / MANIFEST_NAME).unlink(missing_ok=True)  # no stale manifest beside new data
    _write_db(out / DB_NAME, tables)
    _write_products(out / PRODUCTS_CSV, tables["PRODUCTS"])
    manifest = build(seed, customers, tables)
    (out / MANIFEST_NAME).write_text(manifest.to_json(), encoding="utf-8")
    return manifest


def _write_db(path: Path, tables: dict[str, list[Row]]) -> None:
    """One transaction, executemany per table; built aside, then moved into place."""
    building = path.with_name(path.name + ".building")
    building.unlink(missing_ok=True)
    con = sqlite3.connect(building)
    try:
        # A scratch file until it is moved into place: no need to wait for the disk.
        con.execute("PRAGMA synchronous = OFF")
        con.executescript(SCHEMA.read_text(encoding="utf-8"))
        with con:
            for table in DB_TABLES:
                cols = COLUMNS[table]
                sql = (
                    f"INSERT INTO {table} ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))})"
                )
                con.executemany(sql, [row.values(table) for row in tables[table]])
    finally:
        con.close()
    building.replace(path)


def _write_products(path: Path, rows: list[Row]) -> None:
    """A Windows-era export: cp1252, CRLF, quoted only where a value needs it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="cp1252", newline="") as f:
        writer = csv.writer(f, lineterminator="\r\n", quoting=csv.QUOTE_MINIMAL)
        writer.writerow(COLUMNS["PRODUCTS"])
        writer.writerows(row.values("PRODUCTS") for row in rows)


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m demo.generate", description="Build the demo legacy CRM."
    )
    parser.add_argument("--out", type=Path, default=Path(".demo/legacy"), help="output folder")
    parser.add_argument("--customers", type=_positive, default=20_000, help="distinct customers")
    parser.add_argument("--seed", type=int, default=42, help="random seed")
    args = parser.parse_args(argv)
    manifest = generate(args.out, args.customers, args.seed)
    for table in DB_TABLES:
        print(f"{args.out / DB_NAME} {table}: {manifest.row_counts[table]} rows")
    print(f"{args.out / PRODUCTS_CSV}: {manifest.row_counts['PRODUCTS']} rows")
    planted = sum(p.count for kinds in manifest.quarantine.values() for p in kinds.values())
    print(f"{args.out / MANIFEST_NAME}: {planted} planted quarantine defects")
    return 0


if __name__ == "__main__":
    sys.exit(main())
