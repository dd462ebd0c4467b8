"""Write batches into SQLite, PostgreSQL or MariaDB, inside a transaction the caller owns.

PostgreSQL takes the COPY fast path (psycopg 3 `copy.write_row`, inside the same
transaction); the others take multi-row parameterised INSERTs chunked below the driver's
bind-parameter limit.
"""

from __future__ import annotations

import io
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import pyarrow as pa
import pyarrow.csv as pacsv
import sqlalchemy as sa
from sqlalchemy import exc as sa_exc
from sqlalchemy.dialects import postgresql
from sqlalchemy.engine import Connection

from connectors.base import TableSchema, Target, TargetCapabilities
from connectors.sql.engine import create_engine, describe_url, translate_error
from connectors.sql.options import SqlOptions
from connectors.sql.types import adapt_reflected, same_kind, sql_type

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


class SqlTarget(Target):
    """A SQL database as a target."""

    kind = "sql"

    def __init__(self, name: str, options: SqlOptions) -> None:
        self.name = name
        self._url = options.url.get_secret_value()
        self.schema = options.schema_
        self.engine = create_engine(self._url, self.schema)
        self.dialect = self.engine.dialect.name
        self.capabilities = _CAPABILITIES.get(self.dialect, _GENERIC)
        self._tables: dict[str, sa.Table] = {}

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
        cols = [
            sa.Column(c.name, sql_type(c), nullable=c.nullable and c.name not in schema.primary_key)
            for c in schema.columns
        ]
        constraints: list[Any] = []
        if schema.primary_key:
            constraints.append(sa.PrimaryKeyConstraint(*schema.primary_key))
        table = sa.Table(schema.name, md, *cols, *constraints, schema=self.schema)
        table.create(conn)
        self._tables[schema.name] = table

    # --- rows -----------------------------------------------------------------------------

    def insert(self, conn: Connection, table: str, data: pa.Table) -> int:
        if data.num_rows == 0:
            return 0
        if self.dialect == "postgresql":
            return self._copy(conn, table, data)
        target = self.table(conn, table)
        rows = data.to_pylist()
        per_chunk = max(1, self.capabilities.max_bind_parameters // max(1, data.num_columns) - 1)
        per_chunk = min(per_chunk, 1000)
        stmt = sa.insert(target)
        for i in range(0, len(rows), per_chunk):
            conn.execute(stmt.values(rows[i : i + per_chunk]))
        return len(rows)

    def _copy(self, conn: Connection, table: str, data: pa.Table) -> int:
        """COPY inside the caller's transaction. Columns pyarrow writes exactly as
        PostgreSQL's CSV format reads them go as one CSV payload written in C (NULL is an
        unquoted empty field, '' is quoted); anything else (bytea) row by row."""
        dbapi = conn.connection.driver_connection
        assert dbapi is not None
        cols = ", ".join(_quote_pg(c) for c in data.column_names)
        qualified = (
            f"{_quote_pg(self.schema)}.{_quote_pg(table)}" if self.schema else _quote_pg(table)
        )
        with dbapi.cursor() as cur:
            if all(_csv_exact(f.type) for f in data.schema):
                payload = io.BytesIO()
                pacsv.write_csv(
                    data,
                    payload,
                    pacsv.WriteOptions(include_header=False, quoting_style="needed"),
                )
                with cur.copy(f"COPY {qualified} ({cols}) FROM STDIN (FORMAT csv)") as copy:
                    copy.write(payload.getbuffer())
                return data.num_rows
            columns = [data.column(i).to_pylist() for i in range(data.num_columns)]
            with cur.copy(f"COPY {qualified} ({cols}) FROM STDIN") as copy:
                for row in zip(*columns, strict=True):
                    copy.write_row(row)
        return data.num_rows

    def existing_keys(
        self, conn: Connection, table: str, columns: Sequence[str], keys: pa.Table
    ) -> pa.Table:
        target = self.table(conn, table)
        cols = [target.c[c] for c in columns]
        values = list(zip(*[keys.column(c).to_pylist() for c in columns], strict=True))
        found: list[tuple[Any, ...]] = []
        chunk = max(1, min(1000, self.capabilities.max_bind_parameters // len(cols) - 1))
        for i in range(0, len(values), chunk):
            part = values[i : i + chunk]
            if len(cols) == 1:
                cond = cols[0].in_([v[0] for v in part])
            else:
                cond = sa.tuple_(*cols).in_(part)
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
        for part in self._chunks(keys, len(columns)):
            query = sa.select(target).where(self._key_condition(target, columns, part))
            out.extend(dict(r._mapping) for r in conn.execute(query))
        return out

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
        if self.dialect == "postgresql" and len(columns) == 1 and keys:
            # One statement with an array parameter instead of thousands of bound values.
            col = target.c[columns[0]]
            values = sa.bindparam("keys", [k[0] for k in keys], type_=postgresql.ARRAY(col.type))
            res = conn.execute(sa.delete(target).where(col == sa.any_(values)))
            return res.rowcount or 0
        deleted = 0
        for part in self._chunks(keys, len(columns)):
            res = conn.execute(sa.delete(target).where(self._key_condition(target, columns, part)))
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
        self._tables.pop(table, None)

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
                query = query.where(sa.tuple_(*pk) > sa.tuple_(*last))
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


def _quote_pg(name: str | None) -> str:
    assert name is not None
    return '"' + name.replace('"', '""') + '"'
