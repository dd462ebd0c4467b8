"""Typed values as JSON and back, exactly: the one spelling ferryman keeps values in.

Control tables hold values of any column type as JSON: journal before-images and inserted
keys, resume positions (the last key read, range limits), column aggregates. JSON has
strings, numbers, booleans, null, arrays and objects; every other value is written as an
object with one `$` key naming its type:

    Decimal('12.50')                {"$d": "12.50"}        digits and exponent as given
    datetime(2024, 1, 2, 3, 4, 5)   {"$ts": "2024-01-02T03:04:05"}  ISO 8601, with the UTC
    date(2024, 1, 2)                {"$date": "2024-01-02"}         offset of an aware one,
    time(3, 4, 5)                   {"$time": "03:04:05"}           nanoseconds if any
    timedelta(days=1)               {"$td": 86400000000}   whole microseconds
    b"\\x00\\xff"                     {"$b": "00ff"}         hex
    UUID('c0ffee00-...')            {"$uuid": "c0ffee00-..."}
    float('nan'), ±inf              {"$f": "nan"}          JSON has no such numbers
    {"$d": "1"} (a JSON document)   {"$json": {"$d": "1"}} only a one-key object whose key
                                                           starts with `$`, so it is never
                                                           taken for a typed value

`decode(encode(v)) == v` for every value `encode` takes, with its type (a pandas Timestamp
with nanoseconds comes back as one; Arrow and numpy scalars come back as the Python value
they stand for). An aware datetime or time keeps its instant and UTC offset; a named zone
(`ZoneInfo('Europe/Paris')`) comes back as that offset: the zone belongs to the column (an
Arrow type, a `timestamptz`), which stores the instant. (A local time in a DST gap or fold
keeps its instant too, but Python never calls it `==` to a datetime of another zone.)
Lists and objects are JSON documents and pass through as they are: their contents must be
JSON already.

The spellings are those the journal has always written, so journal rows and aggregates
written before this module existed decode unchanged.
"""

from __future__ import annotations

import datetime as dt
import decimal
import math
import re
import uuid
from collections.abc import Callable
from operator import methodcaller
from typing import Any

import numpy as np
import pyarrow as pa

DECIMAL = "$d"
DATETIME = "$ts"
DATE = "$date"
TIME = "$time"
TIMEDELTA = "$td"
BYTES = "$b"
UUID = "$uuid"
FLOAT = "$f"
JSON = "$json"

_NANOSECONDS = re.compile(r"\.\d{7}")


class NotEncodable(TypeError):
    """A value of a type the codec has no spelling for."""


def encode(value: Any) -> Any:
    """`value` as JSON that `decode` turns back into an equal value of the same type."""
    kind = type(value)
    if value is None or kind is str or kind is int or kind is bool:
        return value
    if kind is float:
        return value if math.isfinite(value) else {FLOAT: repr(value)}
    return _encode_typed(value)


def decode(value: Any) -> Any:
    """The value `encode` was given for `value` (anything else is returned as it is)."""
    if type(value) is dict and len(value) == 1:
        ((tag, payload),) = value.items()
        parse = _DECODERS.get(tag)
        if parse is not None:
            return parse(payload)
    return value


def _encode_typed(value: Any) -> Any:
    if isinstance(value, dt.datetime) and value != value:  # pandas' NaT: a missing datetime
        return None
    for kinds, tag, spell in _SPELLINGS:
        if isinstance(value, kinds):
            return {tag: spell(value)}
    if isinstance(value, dict):
        return {JSON: value} if _looks_tagged(value) else value
    if isinstance(value, list | tuple):
        return list(value)
    return encode(_python_value(value))


def _python_value(value: Any) -> Any:
    """The plain Python value of an Arrow or numpy scalar, or of a subclass of a JSON type."""
    if isinstance(value, pa.Scalar):
        return value.as_py()
    if isinstance(value, bool | np.bool_):
        return bool(value)
    if isinstance(value, int | np.integer):
        return int(value)
    if isinstance(value, float | np.floating):
        return float(value)
    if isinstance(value, str):
        return str.__str__(value)
    raise NotEncodable(f"a value of type {type(value).__name__} has no JSON spelling: {value!r}")


def _looks_tagged(document: dict[Any, Any]) -> bool:
    if len(document) != 1:
        return False
    (key,) = document
    return isinstance(key, str) and key.startswith("$")


def _microseconds(value: dt.timedelta) -> int:
    return (value.days * 86_400 + value.seconds) * 1_000_000 + value.microseconds


_SPELLINGS: tuple[tuple[type | tuple[type, ...], str, Callable[[Any], Any]], ...] = (
    # datetime before date (a datetime is a date); pandas' Timestamp spells its nanoseconds
    (dt.datetime, DATETIME, methodcaller("isoformat")),
    (dt.date, DATE, methodcaller("isoformat")),
    (dt.time, TIME, methodcaller("isoformat")),
    (decimal.Decimal, DECIMAL, str),
    ((bytes, bytearray, memoryview), BYTES, lambda v: bytes(v).hex()),
    (uuid.UUID, UUID, str),
    (dt.timedelta, TIMEDELTA, _microseconds),
)


def _datetime(text: str) -> dt.datetime:
    if _NANOSECONDS.search(text):  # Python's datetime would drop them
        import pandas as pd

        return pd.Timestamp(text)
    return dt.datetime.fromisoformat(text)


def _timedelta(micros: int) -> dt.timedelta:
    return dt.timedelta(microseconds=micros)


def _document(document: Any) -> Any:
    return document


_DECODERS: dict[str, Callable[[Any], Any]] = {
    DECIMAL: decimal.Decimal,
    DATETIME: _datetime,
    DATE: dt.date.fromisoformat,
    TIME: dt.time.fromisoformat,
    TIMEDELTA: _timedelta,
    BYTES: bytes.fromhex,
    UUID: uuid.UUID,
    FLOAT: float,
    JSON: _document,
}
