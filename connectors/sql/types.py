"""Arrow <-> SQL type correspondence: Arrow types for what a source column holds, SQL types
for the target columns ferryman creates.

ferryman creates the engine's native type where it has one:

| spec        | PostgreSQL  | MariaDB / MySQL                      | SQLite      |
| ----------- | ----------- | ------------------------------------ | ----------- |
| time        | TIME        | TIME(6)                              | TIME (text) |
| timestamp   | TIMESTAMP   | DATETIME(6)                          | DATETIME    |
| timestamptz | TIMESTAMPTZ | DATETIME(6) (UTC)                    | DATETIME    |
| uuid        | UUID        | UUID from MariaDB 10.7, else VARCHAR(36) | VARCHAR(36) |
| json        | JSONB       | JSON (MariaDB: LONGTEXT + JSON_VALID) | TEXT        |

Whatever the column, Python sees what the batch held: a uuid as its canonical text, JSON
as canonical JSON text (`ferryman.connectors.json_text`; jsonb and MySQL's JSON are read back into
it), a time as `datetime.time`. So rows read back hash like the rows written.
"""

from __future__ import annotations

import datetime as dt
import decimal
import json
from collections.abc import Sequence
from typing import Any

import pyarrow as pa
import sqlalchemy as sa
from sqlalchemy.dialects import mysql, postgresql
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.functions import FunctionElement
from sqlalchemy.types import TypeDecorator, TypeEngine, UserDefinedType

from ferryman.connectors.base import ColumnSchema
from ferryman.connectors.json_text import canonical_json, canonical_value

_MYSQL = ("mysql", "mariadb")


def sql_type(col: ColumnSchema) -> TypeEngine[Any]:
    """The SQL type ferryman creates for a column (see the module doc)."""
    if col.logical == "uuid":
        return UuidText()
    if col.logical == "json":
        return JsonText()
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
    if pa.types.is_temporal(t):
        return _temporal(t)
    if pa.types.is_binary(t) or pa.types.is_large_binary(t):
        return sa.LargeBinary()
    if col.max_length:
        return sa.String(col.max_length)
    return sa.Text()


def _temporal(t: pa.DataType) -> TypeEngine[Any]:
    if pa.types.is_date(t):
        return sa.Date()
    # MariaDB's TIME and DATETIME keep whole seconds unless told otherwise.
    if pa.types.is_time(t):
        return sa.Time().with_variant(mysql.TIME(fsp=6), *_MYSQL)
    if pa.types.is_timestamp(t):
        timestamp = sa.DateTime(timezone=t.tz is not None)
        return timestamp.with_variant(mysql.DATETIME(fsp=6), *_MYSQL)
    return sa.Text()  # durations and the like: their text, as before


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
    if isinstance(value, dict | list):
        # A JSON column of a source, parsed by the driver: JSON text, not Python's repr.
        return json.dumps(value, ensure_ascii=False)
    return str(value)


def _family(t: TypeEngine[Any]) -> str:
    """A coarse kind of a SQL type: what values it holds, not how they are spelt."""
    if isinstance(t, UuidText):
        return "uuid"
    if isinstance(t, JsonText):
        return "json"
    if isinstance(t, TypeDecorator):
        return _family(t.impl_instance)
    checks: list[tuple[type[TypeEngine[Any]], str]] = [
        (sa.Uuid, "uuid"),
        (sa.JSON, "json"),
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


_HELD_AS_TEXT = ("uuid", "json")


def same_kind(declared: TypeEngine[Any], wanted: TypeEngine[Any]) -> bool:
    """Whether an existing column's type can hold what ferryman would create. Booleans and
    integers are one kind: MariaDB has no boolean type (it reflects TINYINT(1)).

    A text column holds a uuid or JSON as the canonical text ferryman writes: tables that
    ferryman created before it made native types (VARCHAR(36), TEXT), MariaDB's JSON
    (reflected as LONGTEXT). Its length is for `ferryman.mappings.tables.schema_diff` to check. A
    time is not taken into text: its text form differs between engines."""
    have, want = _family(declared), _family(wanted)
    return have == want or (want in _HELD_AS_TEXT and have == "text")


class UuidText(TypeDecorator[str]):
    """A uuid, as its canonical text in Python (lower case, 8-4-4-4-12): the engine's UUID
    type where it has one (PostgreSQL, MariaDB from 10.7), else VARCHAR(36)."""

    impl = sa.String(36)
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.supports_native_uuid:
            return dialect.type_descriptor(sa.Uuid(as_uuid=False))
        return dialect.type_descriptor(sa.String(36))

    def process_bind_param(self, value: Any, dialect: Dialect) -> str | None:
        return None if value is None else str(value)

    def process_result_value(self, value: Any, dialect: Dialect) -> str | None:
        return None if value is None else str(value)


class JsonText(TypeDecorator[str]):
    """JSON, as canonical JSON text in Python: jsonb on PostgreSQL, JSON on MariaDB and
    MySQL, TEXT on SQLite. Text goes in as it is (ferryman's json cast made it canonical);
    columns that keep the value rather than the text (jsonb, MySQL's JSON) are read back
    as canonical text, the others as stored. `pg_type="json"` is for a reflected PostgreSQL
    json column (which keeps the text as written)."""

    impl = sa.Text
    cache_ok = True

    def __init__(self, pg_type: str = "jsonb") -> None:
        super().__init__()
        self.pg_type = pg_type

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "postgresql":
            return _NamedJson(self.pg_type.upper())
        if dialect.name in _MYSQL:
            return _NamedJson("JSON")
        return dialect.type_descriptor(sa.Text())

    def column_expression(self, colexpr: ColumnElement[Any]) -> ColumnElement[Any] | None:
        return _JsonAsText(colexpr, self)

    def process_bind_param(self, value: Any, dialect: Dialect) -> str | None:
        if value is None or isinstance(value, str):
            return value
        return canonical_value(value)

    def process_result_value(self, value: Any, dialect: Dialect) -> str | None:
        if value is None:
            return None
        if isinstance(value, bytes):
            value = value.decode("utf-8")
        if not isinstance(value, str):
            return canonical_value(value)  # a driver parsed it anyway
        return canonical_json(value) if self._normalising(dialect) else value

    def _normalising(self, dialect: Dialect) -> bool:
        """Whether the column keeps the value, not the text (its spelling is the engine's)."""
        if dialect.name == "postgresql":
            return self.pg_type == "jsonb"
        return dialect.name in _MYSQL and not getattr(dialect, "is_mariadb", False)


class _NamedJson(UserDefinedType[str]):
    """A JSON column type by its SQL name, with no conversion: text in, text out. On
    PostgreSQL (psycopg) parameters get a `::JSONB` cast."""

    cache_ok = True
    render_bind_cast = True

    def __init__(self, name: str) -> None:
        self.name = name

    def get_col_spec(self, **kw: Any) -> str:
        return self.name


class _JsonAsText(FunctionElement[str]):
    """A JSON column read as text: `CAST(col AS TEXT)` on PostgreSQL (psycopg would parse
    json and jsonb into Python objects, losing the digits of numbers), the column itself
    elsewhere."""

    name = "json_as_text"
    inherit_cache = True

    def __init__(self, colexpr: ColumnElement[Any], json_type: JsonText) -> None:
        super().__init__(colexpr)
        self.type = json_type  # rows are read through JsonText's result processing


@compiles(_JsonAsText)
def _json_as_text(element: _JsonAsText, compiler: SQLCompiler, **kw: Any) -> str:
    return compiler.process(element.clauses, **kw)


@compiles(_JsonAsText, "postgresql")
def _json_as_text_pg(element: _JsonAsText, compiler: SQLCompiler, **kw: Any) -> str:
    return f"CAST({compiler.process(element.clauses, **kw)} AS TEXT)"


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
    """Give a reflected table the column types ferryman writes with, so its values read
    back as they were written: SQLite decimals, uuids as text, JSON as canonical text."""
    for col in table.columns:
        if isinstance(col.type, sa.Uuid):
            col.type = UuidText()
        elif isinstance(col.type, sa.JSON):
            col.type = JsonText("jsonb" if isinstance(col.type, postgresql.JSONB) else "json")
        elif (
            dialect == "sqlite"
            and isinstance(col.type, sa.Numeric)
            and not isinstance(col.type, sa.Float)
        ):
            col.type = SqliteDecimal(col.type.precision, col.type.scale)
        elif isinstance(col.type, sa.Float) and col.type.asdecimal:
            # MariaDB reflects DOUBLE as asdecimal with scale 10: 1e-300 would read as 0.
            col.type.asdecimal = False
    return table
