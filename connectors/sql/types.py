"""Arrow <-> SQL type correspondence: Arrow types for what a source column holds, SQL types
for the target columns ferryman creates."""

from __future__ import annotations

import datetime as dt
import decimal
from collections.abc import Sequence
from typing import Any

import pyarrow as pa
import sqlalchemy as sa
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator, TypeEngine

from connectors.base import ColumnSchema


def sql_type(col: ColumnSchema) -> TypeEngine[Any]:
    """The SQL type ferryman creates for an Arrow column type."""
    t = col.type
    if pa.types.is_int32(t) or pa.types.is_int16(t) or pa.types.is_int8(t):
        return sa.Integer()
    if pa.types.is_integer(t):
        return sa.BigInteger()
    if pa.types.is_decimal(t):
        return sa.Numeric(t.precision, t.scale, asdecimal=True).with_variant(
            SqliteDecimal(t.precision, t.scale), "sqlite"
        )
    if pa.types.is_floating(t):
        return sa.Float(precision=53)
    if pa.types.is_boolean(t):
        return sa.Boolean()
    if pa.types.is_date(t):
        return sa.Date()
    if pa.types.is_timestamp(t):
        return sa.DateTime(timezone=t.tz is not None)
    if pa.types.is_binary(t) or pa.types.is_large_binary(t):
        return sa.LargeBinary()
    if col.max_length:
        return sa.String(col.max_length)
    return sa.Text()


def arrow_type(sql: TypeEngine[Any]) -> pa.DataType:
    """The Arrow type a source column of this SQL type is read as. Unknown types are read as
    text, so nothing is lost: the mapping casts them explicitly."""
    try:
        py = sql.python_type
    except NotImplementedError:
        return pa.string()
    if py is bool:
        return pa.bool_()
    if py is int:
        return pa.int64()
    if py is float:
        return pa.float64()
    if py is dt.datetime:
        return pa.timestamp("us")
    if py is dt.date:
        return pa.date32()
    if py is bytes:
        return pa.binary()
    if py is decimal.Decimal:
        # Reading NUMERIC as text keeps every digit; the mapping's cast decides the scale.
        return pa.string()
    return pa.string()


def to_arrow(values: Sequence[Any], typ: pa.DataType) -> pa.Array:
    """Build an Arrow array of `typ`; a value that does not fit (SQLite stores anything in
    any column) makes the whole column text for this batch rather than being lost."""
    try:
        return pa.array(values, type=typ)
    except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError, TypeError, ValueError):
        return pa.array([None if v is None else _as_text(v) for v in values], type=pa.string())


def _as_text(value: Any) -> str:
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="backslashreplace")
    return str(value)


def _family(t: TypeEngine[Any]) -> str:
    """A coarse kind of a SQL type: what values it holds, not how they are spelt."""
    if isinstance(t, TypeDecorator):
        return _family(t.impl_instance)
    checks: list[tuple[type[TypeEngine[Any]], str]] = [
        (sa.Float, "float"),
        (sa.Numeric, "numeric"),
        (sa.Boolean, "integer"),
        (sa.Integer, "integer"),
        (sa.DateTime, "datetime"),
        (sa.Date, "date"),
        (sa.Time, "time"),
        (sa.LargeBinary, "binary"),
        (sa.String, "text"),
    ]
    for cls, family in checks:
        if isinstance(t, cls):
            return family
    try:
        return t.python_type.__name__
    except NotImplementedError:
        return type(t).__name__


def same_kind(declared: TypeEngine[Any], wanted: TypeEngine[Any]) -> bool:
    """Whether an existing column's type can hold what ferryman would create. Booleans and
    integers are one kind: MariaDB has no boolean type (it reflects TINYINT(1))."""
    return _family(declared) == _family(wanted)


class SqliteDecimal(TypeDecorator[decimal.Decimal]):
    """NUMERIC(p,s) on SQLite, which stores it as REAL: exact up to 15 significant digits.

    pysqlite cannot bind Decimal and SQLAlchemy would warn on every read; this binds the
    canonical text (SQLite's NUMERIC affinity stores the number) and reads back a Decimal
    quantized to the declared scale.
    """

    impl = sa.Numeric
    cache_ok = True

    def __init__(self, precision: int | None = None, scale: int | None = None) -> None:
        super().__init__(precision=precision, scale=scale, asdecimal=False)
        self.scale = scale

    def process_bind_param(self, value: Any, dialect: Dialect) -> Any:
        return None if value is None else str(value)

    def process_result_value(self, value: Any, dialect: Dialect) -> decimal.Decimal | None:
        if value is None:
            return None
        number = decimal.Decimal(str(value))
        if self.scale is not None:
            number = number.quantize(decimal.Decimal(1).scaleb(-self.scale))
        return number


def adapt_reflected(table: sa.Table, dialect: str) -> sa.Table:
    """Give a reflected table the column types ferryman writes with (SQLite decimals)."""
    if dialect == "sqlite":
        for col in table.columns:
            if isinstance(col.type, sa.Numeric) and not isinstance(col.type, sa.Float):
                col.type = SqliteDecimal(col.type.precision, col.type.scale)
    return table
