"""Read a table from any SQLAlchemy URL in bounded batches, streaming from a server-side
cursor (psycopg named cursor, PyMySQL SSCursor, SQLite's native stepping).

Order must be deterministic for resume to be exact: the primary key when the table has
one, SQLite's rowid otherwise. A keyed read resumes by key (`WHERE key > last`), so a
resume costs an index look-up, not a re-read of what was done. A table with neither key is
read in the engine's physical order and resumed by row offset, which is exact only while
the source does not change (a frozen legacy export is).

With `partition: {ranges: N}` a table is read as N consecutive key ranges (see
`ferryman.connectors.sql.ranges`), each its own statement on its own connection; batches run on
across range boundaries, and each batch's end position names the range and the last key.
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Iterator, Sequence
from contextlib import closing
from dataclasses import dataclass
from typing import Any

import pyarrow as pa
import sqlalchemy as sa
from sqlalchemy import exc as sa_exc

from ferryman.connectors.base import ROW_POSITION, Batch, Position, Source
from ferryman.connectors.errors import TerminalError
from ferryman.connectors.sql import lookups
from ferryman.connectors.sql.engine import create_engine, describe_url, translate_error
from ferryman.connectors.sql.options import SqlOptions, SqlPartition
from ferryman.connectors.sql.ranges import (
    KeyColumn,
    KeyRange,
    after_key,
    decode_value,
    encode_value,
    find_bounds,
    order_by,
    plan_ranges,
)
from ferryman.connectors.sql.types import arrow_type, to_arrow

_ROWID = "__ferryman_rowid"


@dataclass(frozen=True)
class _Layout:
    """How one table is read: what is selected, the key order, what names a row."""

    table: sa.Table
    select: list[sa.ColumnElement[Any]]
    key: list[KeyColumn]
    """Read order; empty: physical order, resumed by offset."""
    identity: list[KeyColumn]
    """Columns that name a row in its position (`orders id=7`)."""
    partition: SqlPartition | None


@dataclass(frozen=True)
class _Plan:
    """The ranges of one read and where in them it starts."""

    ranges: list[KeyRange]
    bounds: list[Any] | None
    null_range: bool
    first: int = 0
    last: tuple[Any, ...] | None = None
    offset: int = 0


class SqlSource(Source):
    """Tables of a SQL database as streams."""

    kind = "sql"

    def __init__(self, name: str, options: SqlOptions) -> None:
        self.name = name
        self._url = options.url.get_secret_value()
        self._schema = options.schema_
        self._partition = options.partition
        self._engine = create_engine(self._url, self._schema)
        self.ranges: dict[str, list[KeyRange]] = {}
        """The ranges of the last read of each stream (for logs and tests)."""

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

    def lookup_tables(self) -> list[str]:
        try:
            with self._engine.connect() as conn:
                return lookups.table_names(conn, self._schema, views=True)
        except sa_exc.SQLAlchemyError as err:
            raise translate_error(err, self.name, self._url) from err

    def lookup(self, table: str, key: str, value: str, codes: Sequence[str]) -> pa.Table:
        try:
            with self._engine.connect() as conn:
                found = lookups.reflect(conn, table, self._schema, f"source {self.name}")
                return lookups.read(conn, found, key, value, codes)
        except sa_exc.SQLAlchemyError as err:
            raise translate_error(err, self.name, self._url) from err

    def read_batches(
        self, stream: str, batch_size: int, after: Position | None = None
    ) -> Iterator[Batch]:
        table = self._table(stream)
        try:
            layout = self._layout(table, stream)
            plan = self._plan(layout, stream, after or Position())
            self.ranges[stream] = plan.ranges
            yield from self._batches(layout, plan, stream, batch_size, after or Position())
        except sa_exc.SQLAlchemyError as err:
            raise translate_error(err, self.name, self._url) from err

    # --- what is read, in which order -----------------------------------------------------

    def _layout(self, table: sa.Table, stream: str) -> _Layout:
        names = [c.name for c in table.columns]
        sqlite = self._engine.dialect.name == "sqlite"
        cols = {
            c.name: KeyColumn(c.name, table.c[c.name], i, _nullable(c, table, sqlite))
            for i, c in enumerate(table.columns)
        }
        select: list[sa.ColumnElement[Any]] = list(table.columns)
        rowid = KeyColumn(_ROWID, sa.literal_column("rowid", sa.Integer), len(names), False)
        pk = [cols[c.name] for c in table.primary_key.columns]
        identity = pk or ([rowid] if sqlite else [])
        part = self._partition if self._partition and self._partition.applies_to(stream) else None
        column: KeyColumn | None = None
        if part is not None:
            column = self._partition_column(table, part, cols, identity, rowid if sqlite else None)
            if not identity:
                identity = [column]
        if any(k.name == _ROWID for k in [*identity, *([column] if column else [])]):
            select.append(rowid.expr.label(_ROWID))
        if column is None:
            return _Layout(table, select, identity, identity, part)
        key = [column, *[k for k in identity if k.name != column.name]]
        return _Layout(table, select, key, identity, part)

    def _partition_column(
        self,
        table: sa.Table,
        part: SqlPartition,
        cols: dict[str, KeyColumn],
        identity: list[KeyColumn],
        rowid: KeyColumn | None,
    ) -> KeyColumn:
        where = f"connection {self.name!r}, table {table.name!r}: `partition`"
        if part.column is None:
            if identity:
                return identity[0]
            raise TerminalError(
                f"{where} has no column to split: the table has no primary key. Name a unique,"
                " NOT NULL column in `partition.column`, or list the partitioned tables in"
                " `partition.tables`"
            )
        if part.column in cols:
            column = cols[part.column]
        elif part.column.lower() == "rowid" and rowid is not None:
            return rowid
        else:
            raise TerminalError(
                f"{where}: column {part.column!r} does not exist; the table has"
                f" {', '.join(cols)}. Fix `partition.column` or list the tables it applies to"
                " in `partition.tables`"
            )
        if not identity and (column.nullable or not self._unique(table, column.name)):
            raise TerminalError(
                f"{where}: column {part.column!r} is not unique and NOT NULL, and the table has"
                " no primary key, so its rows have no exact order: a resume could lose or"
                " double rows. Add a primary key or a unique index, or drop `partition`"
            )
        return column

    def _unique(self, table: sa.Table, column: str) -> bool:
        inspector = sa.inspect(self._engine)
        constraints = inspector.get_unique_constraints(table.name, table.schema)
        sets: list[list[str | None]] = [list(u["column_names"]) for u in constraints]
        sets += [
            i["column_names"]
            for i in inspector.get_indexes(table.name, table.schema)
            if i.get("unique")
        ]
        return [column] in sets

    # --- where a read starts -------------------------------------------------------------

    def _plan(self, layout: _Layout, stream: str, start: Position) -> _Plan:
        if not layout.key or (start.value is None and start.rows):
            # physical order, or a position written before keyed resume: by row offset
            return _Plan(plan_ranges(None, False), None, False, offset=start.rows)
        column = layout.key[0]
        if start.value is None:
            bounds = self._bounds(layout) if layout.partition else None
            null_range = bounds is not None and column.nullable
            return _Plan(plan_ranges(bounds, null_range), bounds, null_range)
        value = start.value
        names = [k.name for k in layout.key]
        if value.get("key") != names:
            raise TerminalError(
                f"cannot resume {self.describe(stream)}: the position was read in order of"
                f" {value.get('key')}, this connection now reads in order of {names}"
                " (`partition` or the primary key changed). Resume with the settings of the"
                " run, or start a new run"
            )
        bounds = value.get("bounds")
        if bounds is not None:
            bounds = [decode_value(v) for v in bounds]
        null_range = bool(value.get("null_range"))
        ranges, first, last = plan_ranges(bounds, null_range), int(value.get("range", 0)), None
        if not 0 <= first < len(ranges):
            raise TerminalError(
                f"cannot resume {self.describe(stream)}: the position names range {first},"
                f" but its limits make {len(ranges)} ranges; the ledger row was altered."
                " Start a new run"
            )
        if value.get("last") is not None:
            last = tuple(decode_value(v) for v in value["last"])
        return _Plan(ranges, bounds, null_range, first=first, last=last)

    def _bounds(self, layout: _Layout) -> list[Any]:
        part = layout.partition
        assert part is not None
        with self._engine.connect() as conn:
            return find_bounds(conn, layout.table, layout.key[0], part.ranges, part.bounds)

    # --- reading --------------------------------------------------------------------------

    def _query(self, layout: _Layout, plan: _Plan, rng: KeyRange) -> sa.Select[Any]:
        query = sa.select(*layout.select).select_from(layout.table)
        if not layout.key:
            return query.offset(plan.offset) if plan.offset else query
        conditions = rng.conditions(layout.key[0])
        if rng.number == plan.first and plan.last is not None:
            conditions.append(after_key(layout.key, plan.last))
        query = query.where(*conditions).order_by(*order_by(layout.key, self._engine.dialect.name))
        return query.offset(plan.offset) if plan.offset else query

    def _batches(
        self, layout: _Layout, plan: _Plan, stream: str, batch_size: int, start: Position
    ) -> Iterator[Batch]:
        names = [c.name for c in layout.table.columns]
        types = [arrow_type(c.type) for c in layout.table.columns]
        pending: list[Any] = []
        number, before, last_range = 0, start, plan.ranges[-1]
        for rng in plan.ranges[plan.first :]:
            query = self._query(layout, plan, rng)
            with closing(self._stream(query, batch_size, lambda: batch_size - len(pending))) as it:
                for rows in it:
                    pending.extend(rows)
                    last_range = rng
                    if len(pending) < batch_size:
                        continue
                    end = self._end(layout, plan, before, pending, rng)
                    data = _to_table(pending, names, types, stream, layout.identity, before.rows)
                    yield Batch(stream, number, data, before, end)
                    number, before = number + 1, end
                    pending.clear()
        if pending:
            end = self._end(layout, plan, before, pending, last_range)
            data = _to_table(pending, names, types, stream, layout.identity, before.rows)
            yield Batch(stream, number, data, before, end)

    def _stream(
        self, query: sa.Select[Any], batch_size: int, want: Callable[[], int]
    ) -> Generator[list[Any], None, None]:
        """Rows of `query` from a server-side cursor, `want()` rows at a time, on a connection
        of its own. A read given up half-way (a gate stopped the run, the caller broke off)
        drops its connection: draining the rest of a MariaDB stream could take minutes."""
        with self._engine.connect() as conn:
            result: sa.CursorResult[Any] | None = None
            try:
                result = conn.execution_options(
                    stream_results=True, max_row_buffer=batch_size
                ).execute(query)
                while rows := result.fetchmany(want()):
                    yield list(rows)
            finally:
                if result is not None and not result.closed:
                    self._abandon(conn, result)

    def _abandon(self, conn: sa.Connection, result: sa.CursorResult[Any]) -> None:
        """Stop a half-read stream. PyMySQL can only stop one by reading it to its end,
        which for a big table takes minutes: tell its result it is done and drop the
        connection (the server stops sending when the socket closes)."""
        dbapi = conn.connection.dbapi_connection
        unfinished = getattr(dbapi, "_result", None)
        if self._engine.dialect.name in ("mysql", "mariadb") and hasattr(
            unfinished, "unbuffered_active"
        ):
            unfinished.unbuffered_active = False  # type: ignore[union-attr]
            conn.invalidate()
            return
        result.close()  # PostgreSQL: CLOSE the named cursor; SQLite: finalize

    @staticmethod
    def _end(
        layout: _Layout, plan: _Plan, before: Position, rows: list[Any], rng: KeyRange
    ) -> Position:
        """The position after `rows`, the last of which was read in range `rng`."""
        done = before.rows + len(rows)
        if not layout.key:
            return Position(rows=done)
        last = rows[-1]
        value: dict[str, Any] = {
            "key": [k.name for k in layout.key],
            "last": [encode_value(last[k.index]) for k in layout.key],
        }
        if plan.bounds is not None:
            value["range"] = rng.number
            value["bounds"] = [encode_value(v) for v in plan.bounds]
            value["null_range"] = plan.null_range
        return Position(rows=done, value=value)


def _nullable(column: sa.Column[Any], table: sa.Table, sqlite: bool) -> bool:
    """Whether the column may hold NULL. SQLite reflects every primary-key column as
    nullable (it does let a TEXT key hold NULL), but an INTEGER PRIMARY KEY is the rowid."""
    rowid_alias = sqlite and str(column.type).upper() == "INTEGER"
    if rowid_alias and list(table.primary_key.columns) == [column]:
        return False
    return bool(column.nullable)


def _to_table(
    rows: list[Any],
    names: list[str],
    types: list[pa.DataType],
    stream: str,
    identity: list[KeyColumn],
    offset: int,
) -> pa.Table:
    width = len(names)
    columns = list(zip(*rows, strict=True)) if rows else [()] * (width + 1)
    arrays = [to_arrow(columns[i], types[i]) for i in range(width)]
    arrays.append(pa.array(_positions(stream, rows, identity, offset), pa.string()))
    return pa.Table.from_arrays(arrays, names=[*names, ROW_POSITION])


def _positions(stream: str, rows: list[Any], identity: list[KeyColumn], offset: int) -> list[str]:
    """`CUSTMAST rowid=42`, `orders id=7`, or `orders row 1234` (1-based ordinal)."""
    if identity and identity[0].name == _ROWID:
        i = identity[0].index
        return [f"{stream} rowid={r[i]}" for r in rows]
    if identity:
        return [f"{stream} " + ",".join(f"{k.name}={r[k.index]}" for k in identity) for r in rows]
    return [f"{stream} row {offset + n + 1}" for n in range(len(rows))]
