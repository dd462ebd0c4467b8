"""PostgreSQL's binary COPY format, built from Arrow columns without a Python loop per row.

Each column becomes one Arrow binary array holding, per row, the field as COPY BINARY
wants it (a 4-byte big-endian length, then the value in the type's binary send format; a
length of -1 for NULL); a row is its field count followed by its fields, joined in C by
`binary_join_element_wise`. Binary values are exact by construction: no text is parsed,
so no quoting, escaping, locale, float rounding or end-of-data marker can change a value.

A column is encoded only when its Arrow type and the table column's type (by OID) are a
pair listed here with the same meaning (a naive timestamp into `timestamptz` is not: text
would read it in the session's zone) and its values lie where PostgreSQL's binary input
cannot mistake them (dates and timestamps inside PostgreSQL's finite range, not its
infinities). Anything else makes `encode` return None and `copy_to` takes the text path
(one CSV payload written by pyarrow), where PostgreSQL parses and checks the text itself.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
from sqlalchemy.engine import Connection

SIGNATURE = b"PGCOPY\n\xff\r\n\x00" + b"\x00\x00\x00\x00" + b"\x00\x00\x00\x00"
TRAILER = b"\xff\xff"
_NULL = pa.scalar(b"\xff\xff\xff\xff", pa.large_binary())

# PostgreSQL type OIDs (pg_type.oid; fixed for built-in types)
BOOL, BYTEA, INT8, INT2, INT4, TEXT = 16, 17, 20, 21, 23, 25
FLOAT4, FLOAT8, BPCHAR, VARCHAR = 700, 701, 1042, 1043
DATE, TIME, TIMESTAMP, TIMESTAMPTZ, NUMERIC = 1082, 1083, 1114, 1184, 1700

_PG_EPOCH_DAYS = 10_957  # 2000-01-01 - 1970-01-01
_PG_EPOCH_US = _PG_EPOCH_DAYS * 86_400 * 1_000_000
# PostgreSQL's finite ranges (datatype/timestamp.h): MIN_DATE .. END_DATE (exclusive)
_MIN_DATE, _END_DATE = -2_451_545, 2_145_031_949
_MIN_TIMESTAMP, _END_TIMESTAMP = -211_813_488_000_000_000, 9_223_371_331_200_000_000
_US_PER_UNIT = {"s": 1_000_000, "ms": 1_000, "us": 1}


def encode(batch: pa.RecordBatch, oids: list[int]) -> pa.Buffer | None:
    """The rows of `batch` in COPY BINARY tuple format (no signature or trailer), or None
    when a column cannot be encoded exactly (see the module doc)."""
    fields: list[pa.Array] = [pa.scalar(len(oids).to_bytes(2, "big"), pa.large_binary())]
    for column, oid in zip(batch.columns, oids, strict=True):
        encoded = encode_column(column, oid)
        if encoded is None:
            return None
        fields.append(encoded)
    if batch.num_rows == 0:
        return pa.py_buffer(b"")
    rows = pc.binary_join_element_wise(*fields, pa.scalar(b"", pa.large_binary()))
    return _values_buffer(rows)


def stream(data: pa.Table, oids: list[int]) -> Iterator[pa.Buffer] | None:
    """The whole COPY BINARY payload of `data`, chunk by chunk (signature, tuples of each
    record batch, trailer), or None when some column cannot be encoded exactly."""
    chunks: list[pa.Buffer] = []
    for batch in data.to_batches():
        encoded = encode(batch, oids)
        if encoded is None:
            return None
        chunks.append(encoded)
    return iter([pa.py_buffer(SIGNATURE), *chunks, pa.py_buffer(TRAILER)])


def encode_column(column: pa.Array, oid: int) -> pa.Array | None:
    """One column as COPY BINARY fields (length + value; -1 for NULL), or None."""
    encoder = _encoder(column.type, oid)
    if encoder is None:
        return None
    if isinstance(column, pa.ChunkedArray):
        column = column.combine_chunks()
    if len(column) == 0:
        return pa.array([], pa.large_binary())
    return encoder(column)


Encoder = Callable[[pa.Array], "pa.Array | None"]


def _encoder(t: pa.DataType, oid: int) -> Encoder | None:
    """How to encode an Arrow column of type `t` into a column of type `oid`, if exactly."""
    if pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_boolean(t):
        return _number_encoder(t, oid)
    if oid in (TEXT, VARCHAR, BPCHAR) and (pa.types.is_string(t) or pa.types.is_large_string(t)):
        return _variable
    binary = pa.types.is_binary(t) or pa.types.is_large_binary(t)
    if oid == BYTEA and (binary or pa.types.is_fixed_size_binary(t)):
        return _variable
    if oid == NUMERIC and pa.types.is_decimal128(t) and t.scale >= 0:
        return _numeric
    if oid == DATE and pa.types.is_date32(t):
        return _date
    if oid == TIME and pa.types.is_time64(t) and t.unit == "us":
        return lambda a: _fixed(_values(a.cast(pa.int64()), np.int64), a, 8)
    zoned = pa.types.is_timestamp(t) and t.tz is not None
    if (
        pa.types.is_timestamp(t)
        and t.unit in _US_PER_UNIT
        and oid == (TIMESTAMPTZ if zoned else TIMESTAMP)
    ):
        return _timestamp
    return None


def _number_encoder(t: pa.DataType, oid: int) -> Encoder | None:
    """Integers into an integer type at least as wide (and signed when as wide), floats
    into a float type at least as wide, booleans into boolean."""
    bits = {INT2: 16, INT4: 32, INT8: 64, FLOAT4: 32, FLOAT8: 64, BOOL: 8}.get(oid)
    if bits is None:
        return None
    if oid in (INT2, INT4, INT8) and pa.types.is_integer(t):
        if t.bit_width < bits or (t.bit_width == bits and pa.types.is_signed_integer(t)):
            return lambda a: _fixed(_values(a.cast(pa.int64()), np.int64), a, bits // 8)
        return None
    if oid in (FLOAT4, FLOAT8) and pa.types.is_floating(t) and 16 < t.bit_width <= bits:
        dtype = np.float32 if bits == 32 else np.float64
        return lambda a: _fixed(_values(a.cast(pa.float64()), dtype), a, bits // 8)
    if oid == BOOL and pa.types.is_boolean(t):
        return lambda a: _fixed(_values(a, np.uint8), a, 1)
    return None


def _values(a: pa.Array, dtype: Any) -> np.ndarray[Any, Any]:
    """The values of a primitive array as numpy (NULL slots hold 0: they are not sent)."""
    filled = a.fill_null(False if pa.types.is_boolean(a.type) else 0) if a.null_count else a
    return np.asarray(filled.to_numpy(zero_copy_only=False)).astype(dtype, copy=False)


def _fixed(values: np.ndarray[Any, Any], a: pa.Array, width: int) -> pa.Array:
    """Fixed-width values as length + big-endian value, -1 for NULL."""
    kind = {1: "u1", 2: ">i2", 4: ">i4", 8: ">i8"}[width]
    if values.dtype.kind == "f":
        kind = ">f4" if width == 4 else ">f8"
    record = np.empty(len(values), dtype=[("n", ">i4"), ("v", kind)])
    record["n"] = width
    record["v"] = values
    return _with_nulls(_as_binary(record, 4 + width), a)


def _as_binary(record: np.ndarray[Any, Any], width: int) -> pa.Array:
    fixed = pa.FixedSizeBinaryArray.from_buffers(
        pa.binary(width), len(record), [None, pa.py_buffer(record.tobytes())]
    )
    return fixed.cast(pa.large_binary())


def _with_nulls(fields: pa.Array, a: pa.Array) -> pa.Array:
    if not a.null_count:
        return fields
    return pc.if_else(a.is_valid(), fields, _NULL)


def _variable(a: pa.Array) -> pa.Array:
    """Text (UTF-8, as the connection's client encoding must be) or bytes: length + bytes."""
    data = a.cast(pa.large_binary()) if not pa.types.is_large_binary(a.type) else a
    lengths = np.asarray(pc.binary_length(data).fill_null(0).to_numpy(zero_copy_only=False))
    prefix = _as_binary(lengths.astype(">i4"), 4)
    joined = pc.binary_join_element_wise(prefix, data, pa.scalar(b"", pa.large_binary()))
    return _with_nulls(joined, a)


def _date(a: pa.Array) -> pa.Array | None:
    days = _values(a.cast(pa.int32()), np.int64) - _PG_EPOCH_DAYS
    live = days[_valid(a)]
    if live.size and (live.min() < _MIN_DATE or live.max() >= _END_DATE):
        return None  # outside PostgreSQL's dates (or one of its infinities): text path
    return _fixed(days, a, 4)


def _timestamp(a: pa.Array) -> pa.Array | None:
    ticks = _values(a.cast(pa.int64()), np.int64)
    per = _US_PER_UNIT[a.type.unit]
    live = ticks[_valid(a)]
    limit = (np.iinfo(np.int64).max - _PG_EPOCH_US) // per
    if live.size and (live.min() < -limit or live.max() > limit):
        return None  # would overflow: far outside PostgreSQL's range anyway
    micros = ticks * per - _PG_EPOCH_US
    live = micros[_valid(a)]
    if live.size and (live.min() < _MIN_TIMESTAMP or live.max() >= _END_TIMESTAMP):
        return None  # outside PostgreSQL's timestamps (or one of its infinities): text path
    return _fixed(micros, a, 8)


def _valid(a: pa.Array) -> np.ndarray[Any, Any]:
    if not a.null_count:
        return np.ones(len(a), dtype=bool)
    return np.asarray(a.is_valid().to_numpy(zero_copy_only=False))


def _numeric(a: pa.Array) -> pa.Array | None:
    """decimal128(p, s) as PostgreSQL's numeric: base-10000 digits, the same number for the
    whole column (numeric_recv strips leading and trailing zero digits itself)."""
    t: pa.Decimal128Type = a.type
    pad = (-t.scale) % 4
    int_groups = -(-max(t.precision - t.scale, 0) // 4)
    groups = max(1, int_groups + (t.scale + pad) // 4)
    negative, limbs = _decimal_magnitude(a)
    digits = _base10000(limbs, pad, groups)
    if limbs.any():
        return None  # a value wider than its declared precision: let the text path refuse it
    out = np.empty(
        len(a),
        dtype=[
            ("n", ">i4"),
            ("ndigits", ">i2"),
            ("weight", ">i2"),
            ("sign", ">u2"),
            ("dscale", ">i2"),
            ("digits", ">i2", (groups,)),
        ],
    )
    out["n"] = 8 + 2 * groups
    out["ndigits"] = groups
    out["weight"] = int_groups - 1
    out["sign"] = np.where(negative, 0x4000, 0)
    out["dscale"] = t.scale
    out["digits"] = digits
    return _with_nulls(_as_binary(out, 4 + 8 + 2 * groups), a)


def _decimal_magnitude(a: pa.Array) -> tuple[np.ndarray[Any, Any], np.ndarray[Any, Any]]:
    """Sign and absolute value of each unscaled decimal128, as four little-endian 32-bit
    limbs (uint64 holding 32 bits each), NULL slots as zero."""
    raw = np.frombuffer(a.buffers()[1], dtype="<u8", count=2 * (a.offset + len(a)))
    raw = raw[2 * a.offset :].reshape(-1, 2)
    lo, hi = raw[:, 0].copy(), raw[:, 1].copy()
    if a.null_count:
        valid = _valid(a)
        lo[~valid], hi[~valid] = 0, 0
    negative = (hi >> np.uint64(63)).astype(bool)
    # two's complement negation of the negative ones: invert, add one with carry
    nlo = ~lo + np.uint64(1)
    nhi = ~hi + (nlo == 0).astype(np.uint64)
    lo = np.where(negative, nlo, lo)
    hi = np.where(negative, nhi, hi)
    mask = np.uint64(0xFFFFFFFF)
    limbs = np.stack([lo & mask, lo >> np.uint64(32), hi & mask, hi >> np.uint64(32)], axis=1)
    return negative, limbs


def _divmod_small(limbs: np.ndarray[Any, Any], divisor: int) -> np.ndarray[Any, Any]:
    """Divide the 128-bit numbers in place by `divisor` (<= 10000); return the remainders."""
    rem = np.zeros(len(limbs), dtype=np.uint64)
    d = np.uint64(divisor)
    for i in range(limbs.shape[1] - 1, -1, -1):
        cur = (rem << np.uint64(32)) | limbs[:, i]
        limbs[:, i] = cur // d
        rem = cur % d
    return rem


def _base10000(limbs: np.ndarray[Any, Any], pad: int, groups: int) -> np.ndarray[Any, Any]:
    """`groups` base-10000 digits (most significant first) of magnitude * 10**pad."""
    digits = np.zeros((len(limbs), groups), dtype=np.int64)
    position = groups - 1
    if pad:
        # the last group holds the lowest 4 - pad decimal digits, shifted left by pad
        digits[:, position] = _divmod_small(limbs, 10 ** (4 - pad)).astype(np.int64) * 10**pad
        position -= 1
    while position >= 0:
        digits[:, position] = _divmod_small(limbs, 10_000).astype(np.int64)
        position -= 1
    return digits


def _values_buffer(rows: pa.Array) -> pa.Buffer:
    """The concatenated values of a large_binary array (its data buffer, sliced)."""
    offsets = np.frombuffer(rows.buffers()[1], dtype=np.int64)
    start, end = int(offsets[rows.offset]), int(offsets[rows.offset + len(rows)])
    data = rows.buffers()[2]
    if data is None:
        return pa.py_buffer(b"")
    return data.slice(start, end - start)


def copy_to(
    conn: Connection, into: str, data: pa.Table, oids: list[int], binary: bool = True
) -> int:
    """COPY `data` into the table `into` (quoted, qualified), whose columns named like
    `data`'s have the type OIDs `oids` (see SqlTarget._copy). `binary=False` skips the
    binary format (bench.pg_load compares the two)."""
    dbapi = conn.connection.driver_connection
    assert dbapi is not None
    into = f"{into} ({', '.join(quote(c) for c in data.column_names)})"
    utf8 = dbapi.info.encoding == "utf-8"
    with dbapi.cursor() as cur:
        chunks = stream(data, oids) if utf8 and binary else None
        if chunks is not None:
            with cur.copy(f"COPY {into} FROM STDIN (FORMAT binary)") as copy:
                for chunk in chunks:
                    copy.write(chunk)
            return data.num_rows
        if utf8 and all(_csv_exact(f.type) for f in data.schema):
            payload = io.BytesIO()
            pacsv.write_csv(
                data,
                payload,
                pacsv.WriteOptions(include_header=False, quoting_style="needed"),
            )
            with cur.copy(f"COPY {into} FROM STDIN (FORMAT csv)") as copy:
                copy.write(payload.getbuffer())
            return data.num_rows
        values = [data.column(i).to_pylist() for i in range(data.num_columns)]
        with cur.copy(f"COPY {into} FROM STDIN") as copy:
            for row in zip(*values, strict=True):
                copy.write_row(row)
    return data.num_rows


def _csv_exact(t: pa.DataType) -> bool:
    """Types whose pyarrow CSV text PostgreSQL parses back to the same value."""
    return bool(
        pa.types.is_integer(t)
        or pa.types.is_floating(t)
        or pa.types.is_boolean(t)
        or pa.types.is_decimal(t)
        or pa.types.is_date(t)
        or pa.types.is_timestamp(t)
        or pa.types.is_time(t)
        or pa.types.is_string(t)
        or pa.types.is_large_string(t)
    )


def quote(name: str) -> str:
    """A PostgreSQL identifier, quoted."""
    return '"' + name.replace('"', '""') + '"'
