"""Order-independent fingerprints of tables and rows.

A row's hash is the first 8 bytes of SHA-256 over a canonical JSON of its values; a table's
fingerprint is its row count plus the sum of its row hashes modulo 2**64, so row order does
not matter and any changed, added or removed row changes it (barring a 2**-64 collision).
Values are canonicalised so that what ferryman wrote and what the engine hands back hash
alike (Decimal('12.50') and Decimal('12.5'), True and 1, a date and its ISO text, a UUID
and its text, a parsed JSON value and its canonical JSON text).
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

import numpy as np
import numpy.typing as npt
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from ferryman import codec
from ferryman.connectors.json_text import canonical_value

MASK64 = (1 << 64) - 1


_TYPED = (dt.datetime, dt.date, dt.time, bytes, bytearray, memoryview, uuid.UUID)
_HASH_PREFIX = {codec.DATETIME: "", codec.DATE: "", codec.TIME: "", codec.UUID: ""}
_HASH_PREFIX[codec.BYTES] = "b:"
"""Typed values hash as their codec text; bytes prefixed, so b'ab' and the text '6162' differ.
A date hashes as its ISO text, like the text an engine without a date type hands back."""


def canonical(value: Any) -> Any:
    """The form `value` is hashed in. Unlike `ferryman.codec.encode` it is meant to lose
    what an engine does not keep (a Decimal's trailing zeros, a float's integral type).
    Recorded fingerprints depend on it: changing any spelling here makes every table a run
    fingerprinted at its start look changed to that run's rollback."""
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
    if isinstance(value, _TYPED):
        encoded = codec.encode(value)
        if isinstance(encoded, dict):  # else pandas' NaT, a datetime that encodes as null
            ((tag, text),) = encoded.items()
            return _HASH_PREFIX[tag] + text
    if isinstance(value, dict | list):
        # JSON a driver parsed (a json column read without ferryman's types, which read it
        # as canonical text): that canonical text, so both hash alike.
        try:
            return canonical_value(value)
        except ValueError:  # JSON jsonb could not hold (a \u0000): still deterministic
            return json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)
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


def arrow_row_hashes(table: pa.Table) -> npt.NDArray[np.uint64]:
    """One 64-bit hash per row, vectorised: every column is first cast to its text form
    (fixed by its Arrow type, so 12.50 in decimal(12,2) is always '12.50'), then hashed by
    pandas. Rows read back from the target and rebuilt with the same schema hash alike."""
    if table.num_rows == 0:
        return np.zeros(0, dtype=np.uint64)
    text = pa.table(
        {f"c{i}": _as_text(table.column(i)) for i in range(table.num_columns)}
    ).to_pandas()
    hashed = pd.util.hash_pandas_object(text, index=False).to_numpy(dtype=np.uint64)
    return np.asarray(hashed, dtype=np.uint64)


def _as_text(column: pa.ChunkedArray) -> pa.ChunkedArray:
    if pa.types.is_string(column.type) or pa.types.is_large_string(column.type):
        return column
    if pa.types.is_binary(column.type) or pa.types.is_large_binary(column.type):
        return pc.cast(pc.binary_length(column), pa.string())  # length only: cheap, rare
    return pc.cast(column, pa.string())


def rows_to_arrow(rows: Sequence[dict[str, Any]], schema: pa.Schema) -> pa.Table:
    """Rows fetched from the target, as an Arrow table of `schema` (what ferryman wrote).
    Engines hand back their own spellings (MariaDB's booleans are 0/1): coerce those."""
    arrays = []
    for field in schema:
        values = [r[field.name] for r in rows]
        try:
            arrays.append(pa.array(values, type=field.type))
        except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError, ValueError):
            if pa.types.is_boolean(field.type):
                arrays.append(pa.array([None if v is None else bool(v) for v in values]))
            else:
                arrays.append(pc.cast(pa.array(values), field.type, safe=False))
    return pa.Table.from_arrays(arrays, schema=schema)
