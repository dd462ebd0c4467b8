"""Order-independent fingerprints of tables and rows.

A row's hash is the first 8 bytes of SHA-256 over a canonical JSON of its values; a table's
fingerprint is its row count plus the sum of its row hashes modulo 2**64, so row order does
not matter and any changed, added or removed row changes it (barring a 2**-64 collision).
Values are canonicalised so that what ferryman wrote and what the engine hands back hash
alike (Decimal('12.50') and Decimal('12.5'), True and 1, a date and its ISO text).
"""

from __future__ import annotations

import datetime as dt
import decimal
import hashlib
import json
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

MASK64 = (1 << 64) - 1


def canonical(value: Any) -> Any:
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int):
        return value
    if isinstance(value, decimal.Decimal):
        return "d:" + format(value.normalize(), "f") if value.is_finite() else str(value)
    if isinstance(value, float):
        if value.is_integer() and abs(value) < 2**53:
            return int(value)
        return repr(value)
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, bytes | bytearray | memoryview):
        return "b:" + bytes(value).hex()
    if isinstance(value, uuid.UUID):
        return str(value)
    return str(value)


def row_hash(values: Sequence[Any]) -> int:
    text = json.dumps([canonical(v) for v in values], separators=(",", ":"), ensure_ascii=False)
    return int.from_bytes(hashlib.sha256(text.encode("utf-8")).digest()[:8], "big")


@dataclass(frozen=True)
class Fingerprint:
    rows: int
    digest: int

    def __str__(self) -> str:
        return f"{self.rows} rows, hash {self.digest:016x}"


def fingerprint(chunks: Iterable[Sequence[Sequence[Any]]]) -> Fingerprint:
    rows, total = 0, 0
    for chunk in chunks:
        for row in chunk:
            rows += 1
            total = (total + row_hash(row)) & MASK64
    return Fingerprint(rows, total)
