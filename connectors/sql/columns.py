"""An existing table's columns in engine-neutral terms, compared with a spec.

Reflected SQL types are read as the Arrow types the spec would make when they are of the
same kind as what ferryman creates (`ferryman.connectors.sql.types.same_kind`), keeping
what the table really declares where it matters: integer width, decimal precision and
scale, string length, NOT NULL. So a table ferryman created always fits its own spec on
every engine (MariaDB reflects booleans as TINYINT(1), SQLite and MariaDB keep no time
zone), and a table someone else created is refused for what would really not fit.
"""

from __future__ import annotations

from typing import Any

import pyarrow as pa
import sqlalchemy as sa
from sqlalchemy.types import TypeDecorator, TypeEngine

from ferryman.connectors.sql.types import arrow_type, same_kind, sql_type
from ferryman.connectors.target import ColumnSchema, TableSchema


def existing_columns(table: sa.Table, wanted: TableSchema) -> list[ColumnSchema]:
    """The columns of reflected `table`, read against the spec's `wanted`."""
    spec = {c.name: c for c in wanted.columns}
    out = []
    for col in table.columns:
        want = spec.get(col.name)
        typ, length = _as_arrow(col.type, want)
        out.append(ColumnSchema(col.name, typ, bool(col.nullable), length))
    return out


def _as_arrow(have: TypeEngine[Any], want: ColumnSchema | None) -> tuple[pa.DataType, int | None]:
    if isinstance(have, TypeDecorator):
        have = have.impl_instance
    length = getattr(have, "length", None) if isinstance(have, sa.String) else None
    if want is None or not same_kind(have, sql_type(want)):
        return _plain_arrow(have), length
    t = want.type
    if pa.types.is_integer(t):
        return (pa.int64() if isinstance(have, sa.BigInteger) else pa.int32()), None
    if pa.types.is_decimal(t) and isinstance(have, sa.Numeric):
        precision = have.precision if have.precision is not None else 38
        scale = have.scale if have.scale is not None else (0 if have.precision else t.scale)
        return pa.decimal128(precision, scale), None
    return t, length


def _plain_arrow(have: TypeEngine[Any]) -> pa.DataType:
    """An Arrow type to name a column of another kind than the spec's, in the message."""
    if isinstance(have, sa.Numeric) and not isinstance(have, sa.Float):
        return pa.decimal128(have.precision or 38, have.scale or 0)
    if isinstance(have, sa.BigInteger):
        return pa.int64()
    if isinstance(have, sa.Integer):
        return pa.int32()
    if isinstance(have, sa.DateTime):
        return pa.timestamp("us", tz="UTC" if have.timezone else None)
    if isinstance(have, sa.Time):
        return pa.time64("us")
    return arrow_type(have)
