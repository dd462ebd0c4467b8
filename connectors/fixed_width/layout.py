"""Record layouts: checking them, and reading them from a CSV layout file.

A layout file is what data dictionaries ship: csvkit's `column,start,length`, or the US
Census `field_num,start,end,length,column,meaning` (extra columns are ignored).
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from ferryman.connectors.fixed_width.options import FieldLayout, Trim

_NAME_KEYS = ("column", "name", "field", "field_name")


@dataclass(frozen=True)
class Column:
    """A field resolved to 0-based [lo, hi) character bounds."""

    name: str
    lo: int
    hi: int
    decimals: int
    sign: str
    trim: Trim

    @property
    def numeric(self) -> bool:
        return self.decimals > 0 or self.sign != "none"


def resolve(fields: list[FieldLayout], base: int, trim: Trim) -> list[Column]:
    """The columns of a layout; ValueError listing every problem at once."""
    problems: list[str] = []
    cols: list[Column] = []
    seen: set[str] = set()
    for f in fields:
        lo, hi = f.span(base)
        if lo < 0:
            problems.append(f"field {f.name!r} starts at {f.start}, before {base} (base: {base})")
        if f.name in seen:
            problems.append(f"field {f.name!r} is listed twice")
        seen.add(f.name)
        cols.append(Column(f.name, lo, hi, f.implied_decimals, f.sign, f.trim or trim))
    ordered = sorted(cols, key=lambda c: c.lo)
    for a, b in zip(ordered, ordered[1:], strict=False):
        if b.lo < a.hi:
            problems.append(
                f"fields {a.name!r} and {b.name!r} overlap (characters {b.lo + base} to"
                f" {a.hi - 1 + base}, base {base}); check start/length"
            )
    if not fields:
        problems.append("the layout has no fields")
    if problems:
        raise ValueError("; ".join(problems))
    return cols


def read_layout_file(path: Path) -> list[FieldLayout]:
    """Fields from a CSV layout file; ValueError naming the row at fault."""
    with path.open(newline="", encoding="utf-8-sig") as fh:
        rows = list(csv.DictReader(fh))
    fields: list[FieldLayout] = []
    problems: list[str] = []
    for n, row in enumerate(rows, start=2):
        raw = {(k or "").strip().lower(): (v or "").strip() for k, v in row.items()}
        if not any(raw.values()):
            continue
        try:
            fields.append(FieldLayout.model_validate(_field(raw)))
        except (ValidationError, ValueError, KeyError) as err:
            problems.append(f"{path}:{n}: {_short(err)}")
    if problems:
        raise ValueError("; ".join(problems))
    return fields


def _field(raw: dict[str, str]) -> dict[str, Any]:
    name = next((raw[k] for k in _NAME_KEYS if raw.get(k)), None)
    if name is None:
        raise ValueError(f"no column name (a `column` or `name` header); row: {raw}")
    out: dict[str, Any] = {"name": name, "start": int(raw["start"])}
    if raw.get("length"):
        out["length"] = int(raw["length"])
        if raw.get("end") and int(raw["end"]) - out["start"] + 1 != out["length"]:
            raise ValueError(
                f"field {name!r}: start {raw['start']}, end {raw['end']} and length"
                f" {raw['length']} disagree"
            )
    elif raw.get("end"):
        out["end"] = int(raw["end"])
    else:
        raise ValueError(f"field {name!r}: needs `length` or `end`")
    for key in ("implied_decimals", "sign", "trim"):
        if raw.get(key):
            out[key] = raw[key]
    return out


def _short(err: Exception) -> str:
    if isinstance(err, ValidationError):
        return "; ".join(e["msg"] for e in err.errors())
    if isinstance(err, KeyError):
        return f"missing {err}"
    return str(err)
