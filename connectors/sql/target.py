"""Write batches into a SQL database, inside a transaction the caller owns.

Everything here is portable SQLAlchemy; what differs between engines (bulk load path,
one-statement upsert, key matching, Arrow read path, counters, what a dry run may send)
is asked of the target's dialect object (`ferryman.connectors.sql.dialects`).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import pyarrow as pa
import sqlalchemy as sa
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import Connection, Engine

from ferryman.connectors.errors import ConnectorError, TerminalError
from ferryman.connectors.sql import arrow_fetch, columns, lookups
from ferryman.connectors.sql.dialects import dialect_for
from ferryman.connectors.sql.engine import create_engine, describe_url, translate_error
from ferryman.connectors.sql.options import SqlOptions
from ferryman.connectors.sql.types import adapt_reflected, same_kind, sql_type
from ferryman.connectors.target import (
    ColumnSchema,
    IndexSchema,
    Key,
    PinnedTarget,
    TableSchema,
    Target,
    Upserted,
)


class SqlTarget(Target):
    """A SQL database as a target."""

    kind = "sql"

    def __init__(self, name: str, options: SqlOptions, engine: Engine | None = None) -> None:
        self.name = name
        self.options = options
        self._url = options.url.get_secret_value()
        self.schema = options.schema_
        self.engine = engine or create_engine(self._url, self.schema)
        self.dialect = dialect_for(self.engine.dialect.name, self.schema)
        if engine is None:
            self.dialect.prepare_engine(self.engine)
        self.capabilities = self.dialect.capabilities
        self._tables: dict[str, sa.Table] = {}

    def describe(self) -> str:
        return f"{self.name} ({describe_url(self._url)})"

    def close(self) -> None:
        self.engine.dispose()

    def error(self, err: BaseException) -> Exception:
        return translate_error(err, self.name, self._url)

    @contextmanager
    def begin(self) -> Iterator[Connection]:
        try:
            with self.engine.begin() as conn:
                yield conn
        except sa_exc.OperationalError as err:
            raise self.error(err) from err

    @contextmanager
    def connect(self) -> Iterator[Connection]:
        try:
            with self.engine.connect() as conn:
                yield conn
        except sa_exc.OperationalError as err:
            raise self.error(err) from err

    def ping(self) -> None:
        try:
            with self.engine.connect() as conn:
                conn.execute(sa.text("SELECT 1"))
        except sa_exc.SQLAlchemyError as err:
            raise self.error(err) from err

    def pinned(self) -> PinnedTarget:
        from ferryman.connectors.sql.pinned import PinnedSqlTarget

        return PinnedSqlTarget(self)

    # --- tables ---------------------------------------------------------------------------

    def table(self, conn: Connection, name: str) -> sa.Table:
        """`name` reflected, with the column types ferryman writes with (cached)."""
        if name not in self._tables:
            reflected = sa.Table(name, sa.MetaData(), autoload_with=conn, schema=self.schema)
            self._tables[name] = adapt_reflected(reflected, self.engine.dialect.name)
        return self._tables[name]

    def has_table(self, conn: Connection, table: str) -> bool:
        return sa.inspect(conn).has_table(table, schema=self.schema)

    def table_names(self, conn: Connection, views: bool = False) -> list[str]:
        return lookups.table_names(conn, self.schema, views)

    def ensure_table(self, conn: Connection, schema: TableSchema) -> list[str]:
        if not self.has_table(conn, schema.name):
            self._create(conn, schema)
            return []
        existing = self.table(conn, schema.name)
        problems = []
        for col in schema.columns:
            if col.name not in existing.c:
                problems.append(f"column {col.name!r} is missing (would be {sql_type(col)})")
                continue
            want = sql_type(col)
            have = existing.c[col.name].type
            if not same_kind(have, want):
                problems.append(f"column {col.name!r} is {have}, the spec needs {want}")
        return problems

    def _create(self, conn: Connection, schema: TableSchema) -> None:
        # autoincrement=False: ferryman writes every key itself. Left to SQLAlchemy, a
        # one-column integer key would become AUTO_INCREMENT on MariaDB (a key of 0 is
        # then replaced by the next number) and a serial with a sequence on PostgreSQL.
        cols = [
            sa.Column(
                c.name,
                sql_type(c),
                nullable=c.nullable and c.name not in schema.primary_key,
                autoincrement=False,
            )
            for c in schema.columns
        ]
        constraints: list[Any] = []
        if schema.primary_key:
            constraints.append(sa.PrimaryKeyConstraint(*schema.primary_key))
        table = sa.Table(schema.name, sa.MetaData(), *cols, *constraints, schema=self.schema)
        table.create(conn)
        self._forget(schema.name)
        self._tables[schema.name] = table

    def _forget(self, name: str) -> None:
        """Drop what is cached about a table (created, dropped or replaced)."""
        self._tables.pop(name, None)
        self.dialect.forget(name)

    def existing_columns(self, conn: Connection, wanted: TableSchema) -> list[ColumnSchema]:
        # reflected afresh, with the engine's own types (not the ones ferryman reads with)
        table = sa.Table(wanted.name, sa.MetaData(), autoload_with=conn, schema=self.schema)
        return columns.existing_columns(table, wanted)

    def column_names(self, conn: Connection, table: str) -> list[str]:
        return [c.name for c in self.table(conn, table).columns]

    def primary_key(self, conn: Connection, table: str) -> list[str]:
        return [c.name for c in self.table(conn, table).primary_key.columns]

    def create_indexes(
        self, conn: Connection, table: str, indexes: Sequence[IndexSchema]
    ) -> list[str]:
        created: list[str] = []
        if not indexes:
            return created
        present = {ix["name"] for ix in sa.inspect(conn).get_indexes(table, schema=self.schema)}
        reflected = sa.Table(table, sa.MetaData(), autoload_with=conn, schema=self.schema)
        for ix in indexes:
            if ix.name in present:
                continue
            cols = [reflected.c[c] for c in ix.columns]
            index = sa.Index(ix.name, *cols, unique=ix.unique, **self.dialect.index_options(cols))
            try:
                index.create(conn)
            except sa_exc.IntegrityError as err:
                raise _index_broken(table, ix, err) from err
            created.append(ix.name)
        return created

    def drop_table(self, conn: Connection, table: str) -> None:
        self.table(conn, table).drop(conn)
        self._forget(table)

    # --- rows -----------------------------------------------------------------------------

    def insert(self, conn: Connection, table: str, data: pa.Table) -> int:
        if data.num_rows == 0:
            return 0
        with self._writing(table):
            return self.dialect.insert(conn, self.table(conn, table), data)

    @contextmanager
    def _writing(self, table: str) -> Iterator[None]:
        """A driver's error while writing `table` as a connector error naming the table
        (a constraint violation is terminal, a lost connection transient), no secret in
        it. The bulk paths use the driver's cursor, whose errors SQLAlchemy never sees."""
        dbapi_error = self.engine.dialect.loaded_dbapi.Error
        try:
            yield
        except ConnectorError:
            raise
        except (sa_exc.SQLAlchemyError, dbapi_error) as err:
            wrapped = err
            if not isinstance(err, sa_exc.SQLAlchemyError):
                wrapped = sa_exc.DBAPIError.instance(None, None, err, dbapi_error)
            error = self.error(wrapped)
            raise type(error)(f"writing {table}: {error}") from err

    def insert_rows(self, conn: Connection, table: str, rows: Sequence[dict[str, Any]]) -> int:
        if not rows:
            return 0
        target = self.table(conn, table)
        per_chunk = max(1, min(1000, self.capabilities.max_bind_parameters // len(rows[0]) - 1))
        for i in range(0, len(rows), per_chunk):
            conn.execute(sa.insert(target).values(list(rows[i : i + per_chunk])))
        return len(rows)

    def upsert(self, conn: Connection, table: str, key: Sequence[str], rows: pa.Table) -> Upserted:
        if rows.num_rows == 0:
            return Upserted([], [], [])
        with self._writing(table):
            done = self.dialect.upsert(conn, self.table(conn, table), key, rows)
        return done if done is not None else super().upsert(conn, table, key, rows)

    def _key_conditions(
        self, table: sa.Table, columns: Sequence[str], keys: Sequence[Key]
    ) -> Iterator[Any]:
        if keys:
            yield from self.dialect.key_conditions(table, columns, keys)

    def existing_keys(
        self, conn: Connection, table: str, columns: Sequence[str], keys: pa.Table
    ) -> pa.Table:
        target = self.table(conn, table)
        cols = [target.c[c] for c in columns]
        values = list(zip(*[keys.column(c).to_pylist() for c in columns], strict=True))
        found: list[tuple[Any, ...]] = []
        for cond in self._key_conditions(target, columns, values):
            found.extend(tuple(r) for r in conn.execute(sa.select(*cols).where(cond)))
        arrays = [
            pa.array([f[i] for f in found], type=keys.schema.field(c).type)
            for i, c in enumerate(columns)
        ]
        return pa.Table.from_arrays(arrays, names=list(columns))

    def fetch_by_keys(
        self, conn: Connection, table: str, columns: Sequence[str], keys: Sequence[Key]
    ) -> list[dict[str, Any]]:
        target = self.table(conn, table)
        out: list[dict[str, Any]] = []
        names = [c.name for c in target.columns]
        for cond in self._key_conditions(target, columns, keys):
            rows = conn.execute(sa.select(target).where(cond)).all()  # one fetch, not per row
            out.extend(dict(zip(names, r, strict=True)) for r in rows)
        return out

    def update_rows(
        self, conn: Connection, table: str, key: Sequence[str], rows: Sequence[dict[str, Any]]
    ) -> int:
        if not rows:
            return 0
        target = self.table(conn, table)
        values = [c for c in rows[0] if c not in key]
        stmt = (
            sa.update(target)
            .where(*[target.c[c] == sa.bindparam(f"k_{c}") for c in key])
            .values({c: sa.bindparam(f"v_{c}") for c in values})
        )
        params = [
            {**{f"k_{c}": r[c] for c in key}, **{f"v_{c}": r[c] for c in values}} for r in rows
        ]
        conn.execute(stmt, params)
        return len(rows)

    def delete_keys(
        self, conn: Connection, table: str, columns: Sequence[str], keys: Sequence[Key]
    ) -> int:
        target = self.table(conn, table)
        deleted = 0
        for cond in self._key_conditions(target, columns, keys):
            deleted += conn.execute(sa.delete(target).where(cond)).rowcount or 0
        return deleted

    def delete_all(self, conn: Connection, table: str) -> int:
        return conn.execute(sa.delete(self.table(conn, table))).rowcount or 0

    def count(self, conn: Connection, table: str) -> int:
        target = self.table(conn, table)
        return int(conn.execute(sa.select(sa.func.count()).select_from(target)).scalar_one())

    def scan(
        self, conn: Connection, table: str, chunk: int = 10_000
    ) -> Iterator[list[tuple[Any, ...]]]:
        """Pages by primary key (keyset): MariaDB cannot run another statement while a
        streaming cursor is open. A table without a primary key streams from a
        server-side cursor instead."""
        target = self.table(conn, table)
        pk = list(target.primary_key.columns)
        if not pk:
            result = conn.execute(
                sa.select(target),
                execution_options={"stream_results": True, "max_row_buffer": chunk},
            )
            while rows := result.fetchmany(chunk):
                yield [tuple(r) for r in rows]
            return
        positions = [list(target.columns).index(c) for c in pk]
        last: tuple[Any, ...] | None = None
        while True:
            query = sa.select(target).order_by(*pk).limit(chunk)
            if last is not None:
                # typed binds: PostgreSQL has no uuid > varchar
                query = query.where(sa.tuple_(*pk) > sa.tuple_(*last, types=[c.type for c in pk]))
            page: list[tuple[Any, ...]] = [tuple(r) for r in conn.execute(query)]
            if not page:
                return
            yield page
            last = tuple(page[-1][i] for i in positions)

    # --- rows read back as Arrow (reconciliation; see connectors.sql.arrow_fetch) --------

    def fetch_arrow_by_keys(
        self,
        conn: Connection,
        table: str,
        columns: Sequence[str],
        keys: pa.Table,
        schema: pa.Schema,
    ) -> pa.Table:
        """The same values as `fetch_by_keys`, without a Python object per value where the
        dialect reads Arrow natively."""
        if keys.num_rows == 0:
            return schema.empty_table()
        target = self.table(conn, table)
        fast = self.dialect.fetch_arrow_by_keys(conn, target, schema, keys.select(list(columns)))
        if fast is not None:
            return fast
        wanted = list(zip(*(keys.column(c).to_pylist() for c in columns), strict=True))
        rows: list[Any] = []
        for cond in self._key_conditions(target, columns, wanted):
            rows.extend(conn.execute(_arrow_select(target, schema).where(cond)).all())
        return arrow_fetch.rows_to_table(rows, schema)

    def fetch_arrow_range(
        self, conn: Connection, table: str, column: str, low: int, high: int, schema: pa.Schema
    ) -> pa.Table:
        low, high = int(low), int(high)
        target = self.table(conn, table)
        fast = self.dialect.fetch_arrow_range(conn, target, schema, (column, low, high))
        if fast is not None:
            return fast
        query = _arrow_select(target, schema).where(target.c[column].between(low, high))
        return arrow_fetch.rows_to_table(conn.execute(query).all(), schema)

    def lookup(
        self, conn: Connection, table: str, key: str, value: str, codes: Sequence[str]
    ) -> pa.Table:
        if table not in self._tables:
            self._tables[table] = lookups.reflect(conn, table, self.schema, self.describe())
        return lookups.read(conn, self._tables[table], key, value, codes)

    # --- the dry run's counters -----------------------------------------------------------

    def counters(self, conn: Connection) -> dict[str, int | None]:
        return self.dialect.read_counters(conn)

    def restore_counter(self, name: str, value: int | None) -> None:
        try:
            with self.begin() as conn:  # one each: MariaDB's ALTER commits anyway
                self.dialect.restore_counter(conn, name, value)
        except sa_exc.SQLAlchemyError as err:
            raise TerminalError(str(err).splitlines()[0]) from err


def _arrow_select(target: sa.Table, schema: pa.Schema) -> Any:
    missing = [f.name for f in schema if f.name not in target.c]
    if missing:
        raise ConnectorError(
            f"table {target.name} has no column {', '.join(map(repr, missing))} any more;"
            " ferryman wrote it: restore the column, or reload the table"
        )
    return sa.select(*(target.c[f.name] for f in schema))


def _index_broken(table: str, ix: IndexSchema, err: sa_exc.IntegrityError) -> TerminalError:
    columns = ", ".join(ix.columns)
    return TerminalError(
        f"{table}: cannot create unique index {ix.name} on ({columns}): the loaded rows"
        f" repeat a value ({str(err.orig).splitlines()[0]}). Find them with SELECT {columns},"
        f" COUNT(*) FROM {table} GROUP BY {columns} HAVING COUNT(*) > 1; or add `dedup:` to"
        " the spec"
    )
