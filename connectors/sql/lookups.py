"""Table lookups answered by a SQL database (the target, or a SQL source): one query per
call for a batch's distinct codes, chunked below every engine's bind limit.

Codes are text (the mapping compares them as text); the key column is compared in its own
type where that is exact (text columns, and integer columns for codes written as plain
integers, so an index on it is used), else through CAST(key AS text).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from typing import Any

import pyarrow as pa
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from ferryman.connectors.errors import TerminalError
from ferryman.connectors.sql.types import UuidText, adapt_reflected

_CHUNK = 900
"""Codes per IN list: below SQLite's oldest bind limit (999)."""
_CANONICAL_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def reflect(conn: Connection, table: str, schema: str | None, where: str) -> sa.Table:
    """The lookup table with the types ferryman reads values with (uuid and JSON as text)."""
    try:
        reflected = sa.Table(table, sa.MetaData(), autoload_with=conn, schema=schema)
    except sa.exc.NoSuchTableError:
        raise TerminalError(
            f"lookup table {table!r} does not exist in {where}; load it first (a spec"
            " producing it runs before) or fix `table:` in the lookup"
        ) from None
    return adapt_reflected(reflected, conn.dialect.name)


def read(conn: Connection, table: sa.Table, key: str, value: str, codes: Sequence[str]) -> pa.Table:
    """Columns `key` (text) and `value` of the rows whose key is one of `codes`."""
    for role, column in (("key", key), ("value", value)):
        if column not in table.c:
            raise TerminalError(
                f"table {table.name} has no column {column!r} ({role});"
                f" it has {', '.join(c.name for c in table.c)}"
            )
    key_col, value_col = table.c[key], table.c[value]
    keys: list[str] = []
    values: list[Any] = []
    for condition in _conditions(key_col, [c for c in codes if c is not None]):
        for k, v in conn.execute(sa.select(key_col, value_col).where(condition)):
            keys.append(_text(k))
            values.append(v)
    value_array = pa.array(values) if values else pa.array([], pa.string())
    return pa.table({"key": pa.array(keys, pa.string()), "value": value_array})


def _conditions(column: sa.ColumnElement[Any], codes: list[str]) -> Iterator[Any]:
    """WHERE clauses matching `column` against text `codes`, chunked below bind limits."""
    python_type = _python_type(column)
    if python_type is int:
        # Only canonical integers can equal an integer's text form; compare natively.
        wanted: list[Any] = [int(c) for c in codes if _canonical_int(c)]
    elif isinstance(column.type, UuidText):
        # Only canonical uuid text can equal a uuid's text form (and a native uuid column
        # refuses anything else); compare natively.
        wanted = [c for c in codes if _CANONICAL_UUID.fullmatch(c)]
    elif python_type is str:
        wanted = list(codes)
    else:
        wanted = list(codes)
        column = sa.cast(column, sa.String)
    for i in range(0, len(wanted), _CHUNK):
        yield column.in_(wanted[i : i + _CHUNK])


def _python_type(column: sa.ColumnElement[Any]) -> type | None:
    try:
        t = column.type.python_type
    except NotImplementedError:
        return None
    return t if t in (int, str) else None


def _canonical_int(code: str) -> bool:
    try:
        return str(int(code)) == code
    except ValueError:
        return False


def _text(value: Any) -> str:
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="backslashreplace")
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def table_names(conn: Connection, schema: str | None, views: bool) -> list[str]:
    inspector = sa.inspect(conn)
    names = inspector.get_table_names(schema=schema)
    return names + inspector.get_view_names(schema=schema) if views else names
