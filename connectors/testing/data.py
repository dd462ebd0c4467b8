"""The data the target conformance suite writes: every edge value of every type ferryman
writes (text that looks like NULL or an escape, extreme integers, decimals, floats,
dates and timestamps, bytes), and a table with a composite text key."""

from __future__ import annotations

import datetime as dt
import decimal
from typing import Any

import pyarrow as pa

from ferryman.connectors.target import ColumnSchema, TableSchema

TEXTS = [
    "",
    "plain",
    "O'Brien",
    'say "hi"',
    "line1\nline2",
    "cr\r\nlf",
    "tab\there",
    "back\\slash",
    "\\\\double",
    "\\N",
    "\\.",
    "NULL",
    "null",
    ",;|",
    "  padded  ",
    "Zoë Ñandú 李雷 🙂",
    "-- not a comment; DROP TABLE x",
]
BIGS = [0, -1, 2**62, -(2**63), 2**63 - 1]
AMOUNTS = [
    decimal.Decimal("12345678901.2345"),
    decimal.Decimal("-0.0001"),
    decimal.Decimal("0.0000"),
    decimal.Decimal("99999999999.9999"),
]
RATIOS = [0.1, -2.5e10, 1e-300, 1.7976931348623157e308]
DATES = [dt.date(1900, 2, 28), dt.date(1999, 12, 31), dt.date(2024, 2, 29), dt.date(9999, 12, 31)]
STAMPS = [
    dt.datetime(1970, 1, 1),
    dt.datetime(2024, 2, 29, 23, 59, 59, 999999),
    dt.datetime(1901, 12, 14, 20, 45, 52, 1),
    dt.datetime(9999, 12, 31, 23, 59, 59, 999999),
]
BLOBS = [b"", b"\x00\x01\xff", "é".encode("latin-1"), bytes(range(256)), b"\\N", b"\\."]

TYPED = TableSchema(
    "typed",
    (
        ColumnSchema("id", pa.int32(), nullable=False),
        ColumnSchema("big", pa.int64()),
        ColumnSchema("amount", pa.decimal128(15, 4)),
        ColumnSchema("txt", pa.string()),
        ColumnSchema("short", pa.string(), max_length=40),
        ColumnSchema("born", pa.date32()),
        ColumnSchema("seen", pa.timestamp("us")),
        ColumnSchema("ok", pa.bool_()),
        ColumnSchema("blob", pa.binary()),
    ),
    primary_key=("id",),
)


def typed_rows(ids: range | list[int]) -> pa.Table:
    """Rows of TYPED, cycling through the edge values; every 7th row is NULL but its id."""

    def pick(values: list[Any], i: int) -> Any:
        return None if i % 7 == 6 else values[i % len(values)]

    ids = list(ids)
    columns: dict[str, list[Any]] = {
        "id": ids,
        "big": [pick(BIGS, i) for i in ids],
        "amount": [pick(AMOUNTS, i) for i in ids],
        "txt": [pick(TEXTS, i) for i in ids],
        "short": [pick(TEXTS, i + 3) for i in ids],
        "born": [pick(DATES, i) for i in ids],
        "seen": [pick(STAMPS, i) for i in ids],
        "ok": [pick([True, False], i) for i in ids],
        "blob": [pick(BLOBS, i) for i in ids],
    }
    return pa.table(
        {c.name: pa.array(columns[c.name], c.type) for c in TYPED.columns},
        schema=pa.schema([pa.field(c.name, c.type, c.nullable) for c in TYPED.columns]),
    )


def normal(value: Any, typ: pa.DataType) -> Any:
    """A value read back, in the Python type of its Arrow type. Only booleans are let
    through as integers (MariaDB has no boolean type: a reflected TINYINT(1) gives 0/1)."""
    if value is None:
        return None
    if pa.types.is_boolean(typ) and value in (0, 1):
        return bool(value)
    if pa.types.is_binary(typ) and isinstance(value, memoryview | bytearray):
        return bytes(value)
    return value


PAIRS = TableSchema(
    "pairs",
    (
        ColumnSchema("a", pa.int32(), False),
        ColumnSchema("b", pa.string(), False, max_length=20),
        ColumnSchema("v", pa.string()),
        ColumnSchema("n", pa.int64()),
    ),
    ("a", "b"),
)


def pairs_rows(n: int) -> pa.Table:
    return pa.table(
        {
            "a": pa.array([i // 3 for i in range(n)], pa.int32()),
            "b": pa.array([f"k'{i % 3}é" for i in range(n)], pa.string()),
            "v": pa.array([f"v{i}" for i in range(n)], pa.string()),
            "n": pa.array(list(range(n)), pa.int64()),
        }
    )


def as_dicts(rows: list[tuple[Any, ...]], schema: TableSchema) -> list[dict[str, Any]]:
    """Scanned rows as dicts of `schema`'s columns, each value `normal`."""
    return [
        {c.name: normal(v, c.type) for c, v in zip(schema.columns, row, strict=True)}
        for row in rows
    ]
