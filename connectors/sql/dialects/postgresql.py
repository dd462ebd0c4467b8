"""PostgreSQL: COPY inside the caller's transaction, a staged one-statement upsert that
hands back its before-images, keys matched with `= ANY(array)`, rows read back through
COPY into Arrow, and sequences put back after a dry run.

COPY is binary, built column by column from Arrow (`ferryman.connectors.sql.pgcopy`), or
CSV written by pyarrow for a column binary cannot carry exactly, row by row only as a last
resort. The upsert copies the rows into a temporary staging table and runs one
`INSERT ... ON CONFLICT` that also returns the rows as they were before it.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import pyarrow as pa
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlalchemy.engine import Connection

from ferryman.connectors.sql import arrow_fetch, pgcopy
from ferryman.connectors.sql.dialects.base import SqlDialect
from ferryman.connectors.sql.types import JsonText
from ferryman.connectors.target import Key, TargetCapabilities, Upserted

_ROW = "ferryman$row"  # the row-number column of the upsert staging table
_STAGE = "ferryman_upsert_stage"
_KEYS = "ferryman_fetch_keys"


def quote(name: str) -> str:
    return pgcopy.quote(name)


class PostgresDialect(SqlDialect):
    name = "postgresql"
    capabilities = TargetCapabilities(
        transactional_ddl=True,
        native_bulk_load=True,
        supports_upsert=True,
        has_schemas=True,
        max_identifier_length=63,
        max_bind_parameters=65535,
    )

    def __init__(self, schema: str | None = None) -> None:
        super().__init__(schema)
        self._columns: dict[str, dict[str, tuple[int, bool]]] = {}
        self._unique: dict[str, list[frozenset[str]]] = {}

    def forget(self, table: str) -> None:
        self._columns.pop(table, None)
        self._unique.pop(table, None)

    def qualified(self, table: str) -> str:
        if self.schema:
            return f"{quote(self.schema)}.{quote(table)}"
        return quote(table)

    def column_types(self, conn: Connection, table: str) -> dict[str, tuple[int, bool]]:
        """Column name -> (type OID, NOT NULL), cached."""
        if table not in self._columns:
            rows = conn.execute(
                sa.text(
                    "SELECT attname, atttypid::int, attnotnull FROM pg_attribute"
                    " WHERE attrelid = CAST(:t AS regclass) AND attnum > 0"
                    " AND NOT attisdropped ORDER BY attnum"
                ),
                {"t": self.qualified(table)},
            )
            self._columns[table] = {r[0]: (int(r[1]), bool(r[2])) for r in rows}
        return self._columns[table]

    # --- rows -----------------------------------------------------------------------------

    def insert(self, conn: Connection, table: sa.Table, data: pa.Table) -> int:
        """COPY: binary when every column has an exact binary encoding for its column's
        type; else one CSV payload written by pyarrow, when its text reads back as the same
        values; else (a client encoding other than UTF-8) row by row through psycopg."""
        columns = self.column_types(conn, table.name)
        oids = [columns[c][0] for c in data.column_names]
        return pgcopy.copy_to(conn, self.qualified(table.name), data, oids)

    def key_conditions(
        self, table: sa.Table, columns: Sequence[str], keys: Sequence[Key]
    ) -> Iterator[sa.ColumnElement[bool]]:
        """A one-column key: one `= ANY(array)` (one statement, one parameter)."""
        if len(columns) != 1:
            yield from super().key_conditions(table, columns, keys)
            return
        col = table.c[columns[0]]
        values = sa.bindparam("keys", [k[0] for k in keys], type_=postgresql.ARRAY(col.type))
        yield col == sa.any_(values)

    # --- upsert: staging table + INSERT ... ON CONFLICT -----------------------------------

    def upsert(
        self, conn: Connection, table: sa.Table, key: Sequence[str], rows: pa.Table
    ) -> Upserted | None:
        """One statement, with the before-images of the updated rows read with the
        statement's own snapshot; None unless a unique index on exactly the key columns
        (what ON CONFLICT needs), none of them nullable, backs it."""
        if not self.stages_upsert(conn, table.name, key):
            return None
        names = rows.column_names
        cols = ", ".join(quote(c) for c in names)
        conn.exec_driver_sql(
            f"CREATE TEMP TABLE {quote(_STAGE)} ON COMMIT DROP AS SELECT {cols},"
            f" 0::integer AS {quote(_ROW)} FROM {self.qualified(table.name)} WITH NO DATA"
        )
        stage = f"pg_temp.{quote(_STAGE)}"
        numbered = rows.append_column(_ROW, pa.array(range(rows.num_rows), pa.int32()))
        columns = self.column_types(conn, table.name)
        pgcopy.copy_to(conn, stage, numbered, [columns[c][0] for c in names] + [pgcopy.INT4])
        result = conn.execute(self._upsert_statement(table, stage, list(key), names)).all()
        conn.exec_driver_sql(f"DROP TABLE {stage}")
        inserted, updated, before = [], [], []
        all_columns = [c.name for c in table.columns]
        for r in result:
            if r[1]:
                updated.append(int(r[0]))
                before.append(dict(zip(all_columns, r[2:], strict=True)))
            else:
                inserted.append(int(r[0]))
        return Upserted(inserted, updated, before)

    def stages_upsert(self, conn: Connection, table: str, key: Sequence[str]) -> bool:
        """Whether `upsert` runs as one statement on `table` keyed by `key`."""
        columns = self.column_types(conn, table)
        if not key or _ROW in columns or not all(k in columns and columns[k][1] for k in key):
            return False
        if table not in self._unique:
            rows = conn.execute(
                sa.text(
                    "SELECT array_agg(a.attname::text) FROM pg_index i JOIN pg_attribute a"
                    " ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey)"
                    " WHERE i.indrelid = CAST(:t AS regclass) AND i.indisunique"
                    " AND i.indimmediate AND i.indpred IS NULL AND i.indexprs IS NULL"
                    " GROUP BY i.indexrelid"
                ),
                {"t": self.qualified(table)},
            )
            self._unique[table] = [frozenset(r[0]) for r in rows]
        return frozenset(key) in self._unique[table]

    def _upsert_statement(
        self, target: sa.Table, stage: str, key: list[str], names: Sequence[str]
    ) -> Any:
        """WITH up AS (INSERT ... ON CONFLICT DO UPDATE ... WHERE the row differs RETURNING
        the key) SELECT row number, whether the key existed, the old row: the main query
        reads the table with the statement's snapshot, so `o` is the row before `up`."""
        q = quote
        table = self.qualified(target.name)
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

    # --- rows read back as Arrow through COPY ---------------------------------------------

    def fetch_arrow_by_keys(
        self, conn: Connection, table: sa.Table, schema: pa.Schema, keys: pa.Table
    ) -> pa.Table | None:
        """The keys go into a temporary table (binary COPY), the rows come back through
        one COPY; None when a column has no exact COPY reading."""
        types = self.column_types(conn, table.name)
        plan = arrow_fetch.pg_plan(schema, {c: oid for c, (oid, _) in types.items()})
        if plan is None:
            return None
        source = self.qualified(table.name)
        stage = quote(_KEYS)
        cols = ", ".join(quote(c) for c in keys.column_names)
        conn.exec_driver_sql(
            f"CREATE TEMP TABLE {stage} ON COMMIT DROP AS SELECT {cols} FROM {source} WITH NO DATA"
        )
        pgcopy.copy_to(conn, f"pg_temp.{stage}", keys, [types[c][0] for c in keys.column_names])
        conn.exec_driver_sql(f"ANALYZE pg_temp.{stage}")
        select = f"SELECT {', '.join(p.expression for p in plan)} FROM {source}"
        found = arrow_fetch.pg_copy(
            conn, f"{select} WHERE ({cols}) IN (SELECT {cols} FROM pg_temp.{stage})", plan, schema
        )
        conn.exec_driver_sql(f"DROP TABLE pg_temp.{stage}")
        return found

    def fetch_arrow_range(
        self,
        conn: Connection,
        table: sa.Table,
        schema: pa.Schema,
        between: tuple[str, int, int],
    ) -> pa.Table | None:
        types = self.column_types(conn, table.name)
        plan = arrow_fetch.pg_plan(schema, {c: oid for c, (oid, _) in types.items()})
        if plan is None:
            return None
        column, low, high = between
        select = f"SELECT {', '.join(p.expression for p in plan)} FROM {self.qualified(table.name)}"
        where = f" WHERE {quote(column)} BETWEEN {int(low)} AND {int(high)}"
        return arrow_fetch.pg_copy(conn, select + where, plan, schema)

    # --- the dry run ----------------------------------------------------------------------

    def read_counters(self, conn: Connection) -> dict[str, int | None]:
        rows = conn.execute(
            sa.text(
                "SELECT sequencename, last_value FROM pg_sequences"
                " WHERE schemaname = current_schema() ORDER BY sequencename"
            )
        ).all()
        return {r[0]: None if r[1] is None else int(r[1]) for r in rows}

    def restore_counter(self, conn: Connection, name: str, value: int | None) -> None:
        if value is None:  # never used before: back to "next call returns the start value"
            conn.execute(
                sa.text(
                    "SELECT setval(CAST(quote_ident(:n) AS regclass), s.start_value, false)"
                    " FROM pg_sequences s WHERE s.schemaname = current_schema()"
                    " AND s.sequencename = :n"
                ),
                {"n": name},
            )
            return
        conn.execute(
            sa.text("SELECT setval(CAST(quote_ident(:n) AS regclass), :v, true)"),
            {"n": name, "v": value},
        )
