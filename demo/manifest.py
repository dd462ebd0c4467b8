"""What the demo generator planted, exactly: the oracle for ferryman's integration tests.

`manifest.json` lists, per table, every quarantine-causing defect with the keys and rowids
of the affected rows, the cleanable traits with their counts, the cascades a quarantined
parent causes, and a few rows with the clean values a correct mapping must produce.
Read it back with `Manifest.load(path)`.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from demo import _values as v
from demo._defects import RATES
from demo._tables import Row

FORMAT_VERSION = 1
KEYED_CLEANABLES = ("null_marker", "unknown_status", "mixed_case", "cp1252_text", "quoted")
"""Cleanable traits listed with their keys; the others (padded, thousands_separator,
date_format) touch most rows and are only counted."""

NOTES = (
    "quarantine: rows a correct migration must hold back, one defect per row. Keys are"
    " CUSTNO (CUSTMAST), ORDNO (ORDHDR), [ORDNO, LINNO] (ORDLIN), PRODCD (PRODUCTS);"
    " rowids are SQLite rowids (1-based insertion order).",
    "duplicate_key lists the later rows; the first row with that CUSTNO is clean and loads.",
    "cleanable: values a mapping must clean, not quarantine. Traits listed with keys are"
    " planted only on rows without a quarantine defect; padded, thousands_separator and"
    " date_format are counted over every raw row, defective ones included.",
    "cascades: orders of customers quarantined for a row defect (duplicates excluded: their"
    " first row loads), and the lines of quarantined or cascaded orders; a target that"
    " enforces foreign keys must hold them back too.",
    "examples: raw values and the clean values a correct mapping produces; key and reference"
    " columns (CUSTNO, ORDNO, LINNO) are left to the spec. For PRODUCTS the rowid is the"
    " 1-based record number (file line minus the header).",
)


@dataclass(frozen=True)
class Planted:
    """How many rows have one defect or trait, and which (when listed)."""

    count: int
    keys: list[Any] | None = None
    rowids: list[int] | None = None


@dataclass(frozen=True)
class Example:
    """One clean row: as stored in the legacy system, and as a correct mapping yields it."""

    key: Any
    rowid: int
    raw: dict[str, Any]
    clean: dict[str, Any]


@dataclass(frozen=True)
class Manifest:
    format_version: int
    seed: int
    sizes: dict[str, int]
    row_counts: dict[str, int]
    quarantine: dict[str, dict[str, Planted]]
    cleanable: dict[str, dict[str, Planted]]
    cascades: dict[str, list[Any]]
    examples: dict[str, list[Example]]
    codes: dict[str, dict[str, str]]
    notes: list[str]

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2, ensure_ascii=False) + "\n"

    @classmethod
    def load(cls, path: Path) -> Manifest:
        data = json.loads(path.read_text(encoding="utf-8"))
        for section in ("quarantine", "cleanable"):
            data[section] = {
                table: {kind: Planted(**p) for kind, p in kinds.items()}
                for table, kinds in data[section].items()
            }
        data["examples"] = {
            table: [Example(**e) for e in examples] for table, examples in data["examples"].items()
        }
        return cls(**data)

    def quarantined_rowids(self, table: str) -> list[int]:
        """Every rowid of `table` that must be quarantined for its own defect, ascending."""
        return sorted(r for p in self.quarantine[table].values() for r in p.rowids or [])


def build(seed: int, customers: int, tables: dict[str, list[Row]]) -> Manifest:
    """Summarise the planted tables (rows in final order; rowid = index + 1)."""
    cascades = _cascades(tables)
    return Manifest(
        format_version=FORMAT_VERSION,
        seed=seed,
        sizes={"customers": customers, "products": len(tables["PRODUCTS"])},
        row_counts={table: len(rows) for table, rows in tables.items()},
        quarantine={t: _quarantine(t, rows) for t, rows in tables.items()},
        cleanable={t: _cleanable(rows) for t, rows in tables.items()},
        cascades=cascades,
        examples=_examples(tables, cascades),
        codes={
            "STAT": {**v.STATUS, v.UNKNOWN_STATUS[0]: v.UNKNOWN_STATUS[1]},
            "ORDSTS": dict(v.ORDER_STATUS),
            "CATEG": dict(v.CATEGORIES),
            "date_formats": dict(v.STRPTIME),
        },
        notes=list(NOTES),
    )


def _quarantine(table: str, rows: list[Row]) -> dict[str, Planted]:
    hits: dict[str, list[int]] = {kind: [] for kind in RATES[table]}
    for rowid, row in enumerate(rows, start=1):
        if row.defect is not None:
            hits[row.defect].append(rowid)
    return {
        kind: Planted(len(ids), [rows[r - 1].key for r in ids], ids) for kind, ids in hits.items()
    }


def _cleanable(rows: list[Row]) -> dict[str, Planted]:
    hits: dict[str, list[int]] = {}
    for rowid, row in enumerate(rows, start=1):
        for mark in row.marks:
            hits.setdefault(mark, []).append(rowid)
    result = {}
    for mark in sorted(hits):
        ids = hits[mark]
        if mark.split(":")[0] in KEYED_CLEANABLES:
            result[mark] = Planted(len(ids), [rows[r - 1].key for r in ids], ids)
        else:
            result[mark] = Planted(len(ids))
    return result


def _cascades(tables: dict[str, list[Row]]) -> dict[str, list[Any]]:
    bad_customers = {r.key for r in tables["CUSTMAST"] if r.defect not in (None, "duplicate_key")}
    bad_orders = {r.key for r in tables["ORDHDR"] if r.defect is not None}
    cascaded = [
        r.key for r in tables["ORDHDR"] if r.defect is None and r.raw["CUSTNO"] in bad_customers
    ]
    cascaded_set = set(cascaded)
    lines = [r for r in tables["ORDLIN"] if r.defect is None]
    return {
        "orders_of_defective_customers": cascaded,
        "lines_of_defective_orders": [r.key for r in lines if r.raw["ORDNO"] in bad_orders],
        "lines_of_orders_of_defective_customers": [
            r.key for r in lines if r.raw["ORDNO"] in cascaded_set
        ],
    }


def _examples(
    tables: dict[str, list[Row]], cascades: dict[str, list[Any]]
) -> dict[str, list[Example]]:
    held_orders = set(cascades["orders_of_defective_customers"]) | {
        r.key for r in tables["ORDHDR"] if r.defect is not None
    }
    loads: dict[str, Callable[[Row], bool]] = {
        "CUSTMAST": lambda r: r.defect is None,
        "ORDHDR": lambda r: r.defect is None and r.key not in held_orders,
        "ORDLIN": lambda r: r.defect is None and r.raw["ORDNO"] not in held_orders,
        "PRODUCTS": lambda r: r.defect is None,
    }
    wanted = {
        "CUSTMAST": [
            *(f"date_format:CRTDT:{f}" for f in v.DATE_FORMATS),
            "thousands_separator:CRLIM",
            "mixed_case:EMAIL",
            "null_marker:EMAIL",
            "null_marker:CRTDT",
            "unknown_status:STAT",
        ],
        "ORDHDR": [f"date_format:ORDDT:{f}" for f in v.DATE_FORMATS],
        "ORDLIN": ["thousands_separator:UNITPR", ""],
        "PRODUCTS": ["cp1252_text:DESCR", "quoted:DESCR", "thousands_separator:PRICE"],
    }
    return {t: _pick(tables[t], loads[t], wanted[t]) for t in tables}


def _pick(rows: list[Row], loads: Callable[[Row], bool], marks: list[str]) -> list[Example]:
    """The first loading row with each mark ('' = a row with no cleanable value traits)."""
    picked: dict[int, Example] = {}
    for mark in marks:
        for rowid, row in enumerate(rows, start=1):
            has = mark in row.marks if mark else not any("thousands" in m for m in row.marks)
            if loads(row) and has and rowid not in picked:
                picked[rowid] = Example(row.key, rowid, dict(row.raw), dict(row.clean))
                break
    return list(picked.values())
