"""Write batches into SQLite, PostgreSQL or MariaDB, inside a transaction the caller owns.

PostgreSQL takes COPY inside the same transaction: binary COPY built column by column from
Arrow (`ferryman.connectors.sql.pgcopy`), text CSV written by pyarrow for a column binary cannot
carry exactly, row by row only as a last resort. Its upserts go through a temporary
staging table and one `INSERT ... ON CONFLICT` that also hands back the before-images.
The others take multi-row parameterised INSERTs chunked below the bind-parameter limit.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import pyarrow as pa
import sqlalchemy as sa
from sqlalchemy import exc as sa_exc
from sqlalchemy.dialects import postgresql
from sqlalchemy.engine import Connection

from ferryman.connectors.base import TableSchema, Target, TargetCapabilities
from ferryman.connectors.errors import ConnectorError
from ferryman.connectors.sql import arrow_fetch, mysqlload, pgcopy
from ferryman.connectors.sql.engine import create_engine, describe_url, translate_error
from ferryman.connectors.sql.options import SqlOptions
from ferryman.connectors.sql.types import JsonText, adapt_reflected, same_kind, sql_type

_CAPABILITIES = {
    "postgresql": TargetCapabilities(
        transactional_ddl=True,
        native_bulk_load=True,
        supports_upsert=True,
        has_schemas=True,
        max_identifier_length=63,
        max_bind_parameters=65535,
    ),
    "mysql": TargetCapabilities(
        transactional_ddl=False,
        native_bulk_load=False,
        supports_upsert=True,
        has_schemas=False,
        max_identifier_length=64,
        max_bind_parameters=65535,
    ),
    "sqlite": TargetCapabilities(
        transactional_ddl=True,
        native_bulk_load=False,
        supports_upsert=True,
        has_schemas=False,
        max_identifier_length=1024,
        max_bind_parameters=32766,
    ),
}
_GENERIC = TargetCapabilities(
    transactional_ddl=False,
    native_bulk_load=False,
    supports_upsert=False,
    has_schemas=False,
    max_identifier_length=30,
    max_bind_parameters=999,
)


@dataclass(frozen=True)
class Upserted:
    """What an upsert did, by row of its input: the rows it inserted, the rows it updated
    (ascending) with the before-image of each (every column of the table), in that order.
    Rows in neither list were identical to the table's and were left alone."""

    inserted: list[int]
    updated: list[int]
    before: list[dict[str, Any]]


_ROW = "ferryman$row"  # the row-number column of the upsert staging table
_STAGE = "ferryman_upsert_stage"


class SqlTarget(Target):
    """A SQL database as a target."""

    kind = "sql"

    def __init__(self, name: str, options: SqlOptions) -> None:
        self.name = name
        self._url = options.url.get_secret_value()
        self.schema = options.schema_
        self.engine = create_engine(self._url, self.schema, transactional=True)
        self.dialect = self.engine.dialect.name
        self.capabilities = _CAPABILITIES.get(self.dialect, _GENERIC)
        self._tables: dict[str, sa.Table] = {}
        self._pg_columns: dict[str, dict[str, tuple[int, bool]]] = {}
        self._pg_unique: dict[str, list[frozenset[str]]] = {}
        self._load_data: bool | None = None  # MariaDB: may this target use LOAD DATA?
        if self.dialect == "mysql":
            mysqlload.local_files_on_demand(self.engine)

    def describe(self) -> str:
        return f"{self.name} ({describe_url(self._url)})"

    def close(self) -> None:
        self.engine.dispose()

    def error(self, err: BaseException) -> Exception:
        """The connector error for a driver exception (no secret in its message)."""
        return translate_error(err, self.name, self._url)

    @contextmanager
    def begin(self) -> Iterator[Connection]:
        try:
            with self.engine.begin() as conn:
                yield conn
        except sa_exc.OperationalError as err:
            raise self.error(err) from err

    def ping(self) -> None:
        """Open and close a connection; raises ConnectionFailed naming the connection."""
        try:
            with self.engine.connect() as conn:
                conn.execute(sa.text("SELECT 1"))
        except sa_exc.SQLAlchemyError as err:
            raise self.error(err) from err

    # --- tables ---------------------------------------------------------------------------

    def table(self, conn: Connection, name: str) -> sa.Table:
        if name not in self._tables:
            reflected = sa.Table(name, sa.MetaData(), autoload_with=conn, schema=self.schema)
            self._tables[name] = adapt_reflected(reflected, self.dialect)
        return self._tables[name]

    def has_table(self, conn: Connection, name: str) -> bool:
        return sa.inspect(conn).has_table(name, schema=self.schema)

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
        md = sa.MetaData()
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
        table = sa.Table(schema.name, md, *cols, *constraints, schema=self.schema)
        table.create(conn)
        self._forget(schema.name)
        self._tables[schema.name] = table

    def _forget(self, name: str) -> None:
        """Drop what is cached about a table (created, dropped or replaced)."""
        self._tables.pop(name, None)
        self._pg_columns.pop(name, None)
        self._pg_unique.pop(name, None)

    # --- rows -----------------------------------------------------------------------------

    def insert(self, conn: Connection, table: str, data: pa.Table) -> int:
        """Insert every row of `data` inside the caller's transaction: COPY on PostgreSQL,
        LOAD DATA LOCAL on MariaDB/MySQL when the server allows it, else executemany."""
        if data.num_rows == 0:
            return 0
        with self._writing(table):
            if self.dialect == "postgresql":
                return self._copy(conn, table, data)
            if self.dialect == "mysql":
                dbapi = conn.connection.driver_connection
                if self._may_load_data(conn):
                    return mysqlload.load(dbapi, table, data)
                return mysqlload.executemany(dbapi, table, data)
            conn.execute(sa.insert(self.table(conn, table)), data.to_pylist())
        return data.num_rows

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

    def _may_load_data(self, conn: Connection) -> bool:
        """Whether the server takes LOAD DATA LOCAL (`local_infile`), asked once."""
        if self._load_data is None:
            value = conn.exec_driver_sql("SELECT @@GLOBAL.local_infile").scalar()
            self._load_data = str(value).upper() in ("1", "ON")
        return self._load_data

    def _copy(self, conn: Connection, table: str, data: pa.Table) -> int:
        """COPY `data` into `table` inside the caller's transaction.

        Binary COPY when every column has an exact binary encoding for its column's type
        (no text is parsed on either side); else one CSV payload written by pyarrow in C,
        when every column's CSV text is read back by PostgreSQL as the same value (NULL is
        an unquoted empty field, '' is quoted); else (a connection whose client encoding
        is not UTF-8) row by row through psycopg's own adaptation."""
        columns = self._pg_column_types(conn, table)
        oids = [columns[c][0] for c in data.column_names]
        return pgcopy.copy_to(conn, self._qualified(table), data, oids)

    def _qualified(self, table: str) -> str:
        if self.schema:
            return f"{_quote_pg(self.schema)}.{_quote_pg(table)}"
        return _quote_pg(table)

    def _pg_column_types(self, conn: Connection, table: str) -> dict[str, tuple[int, bool]]:
        """Column name -> (type OID, NOT NULL) of a PostgreSQL table, cached."""
        if table not in self._pg_columns:
            rows = conn.execute(
                sa.text(
                    "SELECT attname, atttypid::int, attnotnull FROM pg_attribute"
                    " WHERE attrelid = CAST(:t AS regclass) AND attnum > 0"
                    " AND NOT attisdropped ORDER BY attnum"
                ),
                {"t": self._qualified(table)},
            )
            self._pg_columns[table] = {r[0]: (int(r[1]), bool(r[2])) for r in rows}
        return self._pg_columns[table]

    # --- upsert (PostgreSQL: staging table + INSERT ... ON CONFLICT) ---------------------

    def stages_upserts(self, conn: Connection, table: str, key: Sequence[str]) -> bool:
        """Whether `upsert` can write to `table` on `key`: PostgreSQL, a unique index on
        exactly the key columns (what ON CONFLICT needs), none of them nullable."""
        if self.dialect != "postgresql" or not key:
            return False
        columns = self._pg_column_types(conn, table)
        if _ROW in columns or not all(k in columns and columns[k][1] for k in key):
            return False
        if table not in self._pg_unique:
            rows = conn.execute(
                sa.text(
                    "SELECT array_agg(a.attname::text) FROM pg_index i JOIN pg_attribute a"
                    " ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey)"
                    " WHERE i.indrelid = CAST(:t AS regclass) AND i.indisunique"
                    " AND i.indimmediate AND i.indpred IS NULL AND i.indexprs IS NULL"
                    " GROUP BY i.indexrelid"
                ),
                {"t": self._qualified(table)},
            )
            self._pg_unique[table] = [frozenset(r[0]) for r in rows]
        return frozenset(key) in self._pg_unique[table]

    def upsert(self, conn: Connection, table: str, key: Sequence[str], rows: pa.Table) -> Upserted:
        """Insert new keys, update rows whose values differ, leave identical rows alone, in
        one statement, and hand back which rows did what with the before-images of the
        updated ones (read with the statement's own snapshot: the rows as they were just
        before it). Keys must be unique within `rows`. Needs `stages_upserts`."""
        if rows.num_rows == 0:
            return Upserted([], [], [])
        target = self.table(conn, table)
        stage = f"pg_temp.{_quote_pg(_STAGE)}"
        names = rows.column_names
        cols = ", ".join(_quote_pg(c) for c in names)
        conn.exec_driver_sql(
            f"CREATE TEMP TABLE {_quote_pg(_STAGE)} ON COMMIT DROP AS SELECT {cols},"
            f" 0::integer AS {_quote_pg(_ROW)} FROM {self._qualified(table)} WITH NO DATA"
        )
        numbered = rows.append_column(_ROW, pa.array(range(rows.num_rows), pa.int32()))
        columns = self._pg_column_types(conn, table)
        with self._writing(table):
            oids = [columns[c][0] for c in names] + [pgcopy.INT4]
            pgcopy.copy_to(conn, stage, numbered, oids)
            result = conn.execute(self._upsert_statement(target, stage, list(key), names)).all()
        conn.exec_driver_sql(f"DROP TABLE {stage}")
        inserted, updated, before = [], [], []
        all_columns = [c.name for c in target.columns]
        for r in result:
            if r[1]:
                updated.append(int(r[0]))
                before.append(dict(zip(all_columns, r[2:], strict=True)))
            else:
                inserted.append(int(r[0]))
        return Upserted(inserted, updated, before)

    def _upsert_statement(
        self, target: sa.Table, stage: str, key: list[str], names: Sequence[str]
    ) -> Any:
        """WITH up AS (INSERT ... ON CONFLICT DO UPDATE ... WHERE the row differs RETURNING
        the key) SELECT row number, whether the key existed, the old row: the main query
        reads the table with the statement's snapshot, so `o` is the row before `up`."""
        q = _quote_pg
        table = self._qualified(target.name)
        cols = ", ".join(q(c) for c in names)
        values = [c for c in names if c not in key]
        on = " AND ".join(f"{{a}}.{q(k)} = {{b}}.{q(k)}" for k in key)
        if values:
            action = (
                "DO UPDATE SET "
                + ", ".join(f"{q(c)} = EXCLUDED.{q(c)}" for c in values)
                + f" WHERE ({', '.join('t.' + q(c) for c in values)}) IS DISTINCT FROM"
                f" ({', '.join('EXCLUDED.' + q(c) for c in values)})"
            )
        else:
            action = "DO NOTHING"
        # jsonb as text: psycopg would parse it into floats (2.50 -> 2.5), and the
        # before-image must restore the exact value.
        old = ", ".join(
            f"CAST(o.{q(c.name)} AS TEXT)" if isinstance(c.type, JsonText) else f"o.{q(c.name)}"
            for c in target.columns
        )
        sql = (
            f"WITH up AS (INSERT INTO {table} AS t ({cols}) SELECT {cols} FROM {stage}"
            f" ON CONFLICT ({', '.join(q(k) for k in key)}) {action}"
            f" RETURNING {', '.join('t.' + q(k) for k in key)})"
            f" SELECT s.{q(_ROW)}, o.{q(key[0])} IS NOT NULL, {old}"
            f" FROM up JOIN {stage} AS s ON {on.format(a='s', b='up')}"
            f" LEFT JOIN {table} AS o ON {on.format(a='o', b='up')}"
            f" ORDER BY 1"
        )
        typed: list[sa.ColumnClause[Any]] = [
            sa.column(_ROW, sa.Integer()),
            sa.column("ferryman$existed", sa.Boolean()),
        ]
        typed += [sa.column(c.name, c.type) for c in target.columns]
        return sa.text(sql).columns(*typed)

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

    # --- row-level operations (upsert, journal undo, fingerprints) -----------------------

    def _key_condition(
        self, target: sa.Table, columns: Sequence[str], keys: Sequence[tuple[Any, ...]]
    ) -> Any:
        cols = [target.c[c] for c in columns]
        if len(cols) == 1:
            return cols[0].in_([k[0] for k in keys])
        return sa.tuple_(*cols).in_(list(keys))

    def _chunks(
        self, keys: Sequence[tuple[Any, ...]], width: int
    ) -> Iterator[Sequence[tuple[Any, ...]]]:
        size = max(1, min(1000, self.capabilities.max_bind_parameters // max(1, width) - 1))
        for i in range(0, len(keys), size):
            yield keys[i : i + size]

    def fetch_by_keys(
        self, conn: Connection, table: str, columns: Sequence[str], keys: Sequence[tuple[Any, ...]]
    ) -> list[dict[str, Any]]:
        """Whole rows (every column of the table) whose key is in `keys`."""
        target = self.table(conn, table)
        out: list[dict[str, Any]] = []
        names = [c.name for c in target.columns]
        for cond in self._key_conditions(target, columns, keys):
            rows = conn.execute(sa.select(target).where(cond)).all()  # one fetch, not per row
            out.extend(dict(zip(names, r, strict=True)) for r in rows)
        return out

    def _key_conditions(
        self, target: sa.Table, columns: Sequence[str], keys: Sequence[tuple[Any, ...]]
    ) -> Iterator[Any]:
        """WHERE conditions that together match `keys`: on PostgreSQL with a one-column
        key, one `= ANY(array)` (one statement, one parameter); else IN lists, chunked
        below the bind-parameter limit."""
        if not keys:
            return
        if self.dialect == "postgresql" and len(columns) == 1:
            col = target.c[columns[0]]
            values = sa.bindparam("keys", [k[0] for k in keys], type_=postgresql.ARRAY(col.type))
            yield col == sa.any_(values)
            return
        for part in self._chunks(keys, len(columns)):
            yield self._key_condition(target, columns, part)

    def update_rows(
        self, conn: Connection, table: str, columns: Sequence[str], rows: Sequence[dict[str, Any]]
    ) -> int:
        """Set every non-key column of each row, matched on its key."""
        if not rows:
            return 0
        target = self.table(conn, table)
        values = [c for c in rows[0] if c not in columns]
        stmt = (
            sa.update(target)
            .where(*[target.c[c] == sa.bindparam(f"k_{c}") for c in columns])
            .values({c: sa.bindparam(f"v_{c}") for c in values})
        )
        params = [
            {**{f"k_{c}": r[c] for c in columns}, **{f"v_{c}": r[c] for c in values}} for r in rows
        ]
        conn.execute(stmt, params)
        return len(rows)

    def delete_keys(
        self, conn: Connection, table: str, columns: Sequence[str], keys: Sequence[tuple[Any, ...]]
    ) -> int:
        target = self.table(conn, table)
        deleted = 0
        for cond in self._key_conditions(target, columns, keys):
            res = conn.execute(sa.delete(target).where(cond))
            deleted += res.rowcount or 0
        return deleted

    def insert_rows(self, conn: Connection, table: str, rows: Sequence[dict[str, Any]]) -> int:
        """Insert plain dict rows (restoring before-images), chunked below the bind limit."""
        if not rows:
            return 0
        target = self.table(conn, table)
        per_chunk = max(1, min(1000, self.capabilities.max_bind_parameters // len(rows[0]) - 1))
        for i in range(0, len(rows), per_chunk):
            conn.execute(sa.insert(target).values(list(rows[i : i + per_chunk])))
        return len(rows)

    def drop_table(self, conn: Connection, table: str) -> None:
        self.table(conn, table).drop(conn)
        self._forget(table)

    def delete_all(self, conn: Connection, table: str) -> int:
        res = conn.execute(sa.delete(self.table(conn, table)))
        return res.rowcount or 0

    def scan(
        self, conn: Connection, table: str, chunk: int = 10_000
    ) -> Iterator[list[tuple[Any, ...]]]:
        """Every row of `table` as tuples (all columns, table order), in chunks.

        Pages by primary key (keyset), so the caller may run other statements on the same
        connection between chunks (MariaDB cannot while a streaming cursor is open). A
        table without a primary key is streamed from a server-side cursor instead.
        """
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

    def column_names(self, conn: Connection, table: str) -> list[str]:
        return [c.name for c in self.table(conn, table).columns]

    def primary_key(self, conn: Connection, table: str) -> list[str]:
        return [c.name for c in self.table(conn, table).primary_key.columns]

    def count(self, conn: Connection, table: str) -> int:
        target = self.table(conn, table)
        return int(conn.execute(sa.select(sa.func.count()).select_from(target)).scalar_one())

    # --- rows read back as Arrow (reconciliation; see connectors.sql.arrow_fetch) --------

    def fetch_arrow_by_keys(
        self,
        conn: Connection,
        table: str,
        columns: Sequence[str],
        keys: pa.Table,
        schema: pa.Schema,
    ) -> pa.Table:
        """The rows of `table` whose key `columns` equal a row of `keys`, as an Arrow table
        of `schema` (the columns and types ferryman wrote): the same values as
        `fetch_by_keys`, without a Python object per value on PostgreSQL, where the keys go
        into a temporary table (binary COPY) and the rows come back through one COPY."""
        if keys.num_rows == 0:
            return schema.empty_table()
        if self.dialect == "postgresql":
            fast = self._pg_fetch_arrow(conn, table, schema, keys=keys.select(list(columns)))
            if fast is not None:
                return fast
        target = self.table(conn, table)
        wanted = list(zip(*(keys.column(c).to_pylist() for c in columns), strict=True))
        rows: list[Any] = []
        for cond in self._key_conditions(target, columns, wanted):
            rows.extend(conn.execute(self._arrow_select(target, schema).where(cond)).all())
        return arrow_fetch.rows_to_table(rows, schema)

    def fetch_arrow_range(
        self, conn: Connection, table: str, column: str, low: int, high: int, schema: pa.Schema
    ) -> pa.Table:
        """The rows of `table` whose integer `column` lies between `low` and `high`
        (inclusive), as an Arrow table of `schema`, like `fetch_arrow_by_keys`: one index
        range instead of a list of keys, for keys that are dense."""
        low, high = int(low), int(high)
        if self.dialect == "postgresql":
            fast = self._pg_fetch_arrow(conn, table, schema, between=(column, low, high))
            if fast is not None:
                return fast
        target = self.table(conn, table)
        query = self._arrow_select(target, schema).where(target.c[column].between(low, high))
        return arrow_fetch.rows_to_table(conn.execute(query).all(), schema)

    def _arrow_select(self, target: sa.Table, schema: pa.Schema) -> Any:
        missing = [f.name for f in schema if f.name not in target.c]
        if missing:
            raise ConnectorError(
                f"table {target.name} has no column {', '.join(map(repr, missing))} any more;"
                " ferryman wrote it: restore the column, or reload the table"
            )
        return sa.select(*(target.c[f.name] for f in schema))

    def _pg_fetch_arrow(
        self,
        conn: Connection,
        table: str,
        schema: pa.Schema,
        keys: pa.Table | None = None,
        between: tuple[str, int, int] | None = None,
    ) -> pa.Table | None:
        """PostgreSQL's COPY path of the two above; None when a column has none."""
        types = self._pg_column_types(conn, table)
        plan = arrow_fetch.pg_plan(schema, {c: oid for c, (oid, _) in types.items()})
        if plan is None:
            return None
        source = self._qualified(table)
        select = f"SELECT {', '.join(p.expression for p in plan)} FROM {source}"
        if between is not None:
            column, low, high = between
            return arrow_fetch.pg_copy(
                conn, f"{select} WHERE {_quote_pg(column)} BETWEEN {low} AND {high}", plan, schema
            )
        assert keys is not None
        stage = _quote_pg("ferryman_fetch_keys")
        cols = ", ".join(_quote_pg(c) for c in keys.column_names)
        conn.exec_driver_sql(
            f"CREATE TEMP TABLE {stage} ON COMMIT DROP AS SELECT {cols} FROM {source} WITH NO DATA"
        )
        pgcopy.copy_to(conn, f"pg_temp.{stage}", keys, [types[c][0] for c in keys.column_names])
        conn.exec_driver_sql(f"ANALYZE pg_temp.{stage}")
        found = arrow_fetch.pg_copy(
            conn, f"{select} WHERE ({cols}) IN (SELECT {cols} FROM pg_temp.{stage})", plan, schema
        )
        conn.exec_driver_sql(f"DROP TABLE pg_temp.{stage}")
        return found


def _quote_pg(name: str | None) -> str:
    assert name is not None
    return pgcopy.quote(name)
