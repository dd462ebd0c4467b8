"""Typed cells and the column types they add up to.

A cell keeps Excel's type: a number is an int64 when whole or a float64 (Excel stores
doubles), a date cell a date (or a timestamp when its format shows a time), a boolean a
boolean, text text. A column whose cells have several of these types (numbers and 'N/A')
is text for every row, each value written out (1.5 -> '1.5', TRUE -> 'TRUE',
2024-01-31 -> '2024-01-31'). An error cell (#N/A, #DIV/0!) is no value: its row is
quarantined.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Any

import pyarrow as pa

ARROW = {
    "int": pa.int64(),
    "float": pa.float64(),
    "bool": pa.bool_(),
    "str": pa.string(),
    "date": pa.date32(),
    "datetime": pa.timestamp("us"),
    "time": pa.time64("us"),
    "text": pa.string(),
}
_WIDER = {frozenset({"int", "float"}): "float", frozenset({"date", "datetime"}): "datetime"}
_TIME_CODES = re.compile(r"[hs]", re.IGNORECASE)
_LITERALS = re.compile(r'"[^"]*"|\[[^\]]*\]|\\.')


@dataclass(frozen=True)
class Cell:
    value: Any
    error: str | None = None


def kind_of(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int"
    if isinstance(value, float):
        return "float"
    if isinstance(value, dt.datetime):
        return "datetime"
    if isinstance(value, dt.date):
        return "date"
    if isinstance(value, dt.time):
        return "time"
    return "str"


def merge(a: str | None, b: str | None) -> str | None:
    if a is None or a == b:
        return b if a is None else a
    if b is None:
        return a
    return _WIDER.get(frozenset({a, b}), "text")


def shows_time(number_format: str | None) -> bool:
    """Whether a date format displays a time of day (h or s outside quoted text)."""
    if not number_format:
        return False
    return bool(_TIME_CODES.search(_LITERALS.sub("", number_format)))


def as_date(value: dt.datetime, number_format: str | None) -> dt.date | dt.datetime:
    """A datetime whose format shows no time is a date (Excel has no separate date type)."""
    if not shows_time(number_format) and value.time() == dt.time():
        return value.date()
    return value


def cell_value(value: Any, kind: str | None) -> Any:
    """The value as its column's Arrow type takes it."""
    if value is None or kind != "text":
        if kind == "float" and isinstance(value, int):
            return float(value)
        if kind == "datetime" and type(value) is dt.date:
            return dt.datetime.combine(value, dt.time())
        return value
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    return str(value) if not isinstance(value, float) else repr(value)
