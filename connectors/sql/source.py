"""Read a table from any SQLAlchemy URL in bounded batches, streaming from a server-side
cursor (psycopg named cursor, PyMySQL SSCursor, SQLite's native stepping).

Order must be deterministic for resume to be exact: the primary key when the table has
one, SQLite's rowid otherwise; a table with neither is read in the engine's physical order,
which is stable only while the source does not change (a frozen legacy export is).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pyarrow as pa
import sqlalchemy as sa
from sqlalchemy import exc as sa_exc

from connectors.base import ROW_POSITION, Batch, Position, Source
from connectors.sql.engine import create_engine, describe_url, translate_error
from connectors.sql.options import SqlOptions
from connectors.sql.types import arrow_type, to_arrow

_ROWID = "__ferryman_rowid"


class SqlSource(Source):
    """Tables of a SQL database as streams."""

    kind = "sql"

    def __init__(self, name: str, options: SqlOptions) -> None:
        self.name = name
        self._url = options.url.get_secret_value()
        self._schema = options.schema_
        self._engine = create_engine(self._url, self._schema)

    def describe(self, stream: str) -> str:
        return f"{stream} in {self.name} ({describe_url(self._url)})"

    def close(self) -> None:
        self._engine.dispose()

    def _table(self, stream: str) -> sa.Table:
        try:
            return sa.Table(stream, sa.MetaData(), autoload_with=self._engine, schema=self._schema)
        except sa_exc.NoSuchTableError:
            raise translate_error(sa_exc.NoSuchTableError(stream), self.name, self._url) from None
        except sa_exc.SQLAlchemyError as err:
            raise translate_error(err, self.name, self._url) from err

    def columns(self, stream: str) -> list[str]:
        return [c.name for c in self._table(stream).columns]

    def read_batches(
        self, stream: str, batch_size: int, after: Position | None = None
    ) -> Iterator[Batch]:
        table = self._table(stream)
        query, key_cols = self._ordered_select(table)
        offset = after.rows if after else 0
        if offset:
            query = query.offset(offset)
        types = [arrow_type(c.type) for c in table.columns]
        names = [c.name for c in table.columns]
        try:
            with self._engine.connect() as conn:
                result = conn.execution_options(
                    stream_results=True, max_row_buffer=batch_size
                ).execute(query)
                number = 0
                while rows := result.fetchmany(batch_size):
                    data = self._to_table(list(rows), names, types, stream, key_cols, offset)
                    start = Position(rows=offset)
                    offset += len(rows)
                    yield Batch(stream, number, data, start, Position(rows=offset))
                    number += 1
        except sa_exc.SQLAlchemyError as err:
            raise translate_error(err, self.name, self._url) from err

    def _ordered_select(self, table: sa.Table) -> tuple[sa.Select[Any], list[str]]:
        pk = [c.name for c in table.primary_key.columns]
        if pk:
            return sa.select(*table.columns).order_by(*[table.c[k] for k in pk]), pk
        if self._engine.dialect.name == "sqlite":
            rowid: sa.Label[Any] = sa.literal_column("rowid").label(_ROWID)
            return sa.select(*table.columns, rowid).order_by(sa.literal_column("rowid")), [_ROWID]
        return sa.select(*table.columns), []

    @staticmethod
    def _to_table(
        rows: list[Any],
        names: list[str],
        types: list[pa.DataType],
        stream: str,
        key_cols: list[str],
        offset: int,
    ) -> pa.Table:
        width = len(names)
        columns = list(zip(*rows, strict=True)) if rows else [()] * (width + 1)
        arrays = [to_arrow(columns[i], types[i]) for i in range(width)]
        arrays.append(pa.array(_positions(stream, rows, names, key_cols, offset), pa.string()))
        return pa.Table.from_arrays(arrays, names=[*names, ROW_POSITION])


def _positions(
    stream: str, rows: list[Any], names: list[str], key_cols: list[str], offset: int
) -> list[str]:
    """`CUSTMAST rowid=42`, `orders id=7`, or `orders row 1234` (1-based ordinal)."""
    if key_cols == [_ROWID]:
        return [f"{stream} rowid={r[-1]}" for r in rows]
    if key_cols:
        idx = [names.index(k) for k in key_cols]
        return [f"{stream} " + ",".join(f"{names[i]}={r[i]}" for i in idx) for r in rows]
    return [f"{stream} row {offset + n + 1}" for n in range(len(rows))]
