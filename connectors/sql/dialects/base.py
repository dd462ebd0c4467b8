"""What differs between SQL engines, behind one interface: `SqlDialect`.

`SqlTarget` holds one dialect object (made for its engine by `dialect_for`) and asks it
for everything engine-specific: its capabilities (data, like dlt's destination
capabilities), the bulk load path, how keys are matched, the one-statement upsert, the
Arrow read path, the counters a dry run checks, and what a dry run may run of the DDL it
is sent. This base class is the portable SQLAlchemy behaviour every engine starts from;
an engine overrides what it does better or differently. A dialect object belongs to one
target and caches what it learns about that target's tables.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any, ClassVar

import pyarrow as pa
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.schema import CreateIndex, CreateTable
from sqlalchemy.sql.expression import Executable

from ferryman.connectors.errors import TerminalError
from ferryman.connectors.target import Key, TargetCapabilities, Upserted

DdlElement = CreateTable | CreateIndex


class DryRunRefused(Exception):
    """The dry run would have to run a statement the engine cannot undo."""


class SqlDialect:
    """The portable behaviour (SQLAlchemy Core only); engines override what differs."""

    name: ClassVar[str]
    """How messages name the engine."""
    capabilities: ClassVar[TargetCapabilities]

    def __init__(self, schema: str | None = None) -> None:
        self.schema = schema

    def prepare_engine(self, engine: Engine) -> None:
        """Install what the target's engine needs before its first connection."""

    def forget(self, table: str) -> None:
        """Drop what is cached about `table` (created, dropped or replaced)."""

    # --- rows -----------------------------------------------------------------------------

    def insert(self, conn: Connection, table: sa.Table, data: pa.Table) -> int:
        """Insert every row of `data` (not empty) inside the caller's transaction."""
        conn.execute(sa.insert(table), data.to_pylist())
        return data.num_rows

    def key_conditions(
        self, table: sa.Table, columns: Sequence[str], keys: Sequence[Key]
    ) -> Iterator[sa.ColumnElement[bool]]:
        """WHERE conditions that together match `keys` (not empty): IN lists, chunked
        below the bind-parameter limit."""
        cols = [table.c[c] for c in columns]
        size = max(1, min(1000, self.capabilities.max_bind_parameters // len(cols) - 1))
        for i in range(0, len(keys), size):
            part = keys[i : i + size]
            if len(cols) == 1:
                yield cols[0].in_([k[0] for k in part])
            else:
                yield sa.tuple_(*cols).in_(list(part))

    def upsert(
        self, conn: Connection, table: sa.Table, key: Sequence[str], rows: pa.Table
    ) -> Upserted | None:
        """The upsert in one statement, or None when the engine (or this table) has no
        such path: the target then fetches and compares (`Target.upsert`)."""
        return None

    def fetch_arrow_by_keys(
        self, conn: Connection, table: sa.Table, schema: pa.Schema, keys: pa.Table
    ) -> pa.Table | None:
        """Rows by key straight into Arrow, or None: no native path, read rows instead."""
        return None

    def fetch_arrow_range(
        self,
        conn: Connection,
        table: sa.Table,
        schema: pa.Schema,
        between: tuple[str, int, int],
    ) -> pa.Table | None:
        """Rows by an integer key range straight into Arrow, or None (as above)."""
        return None

    def index_options(self, columns: Sequence[sa.Column[Any]]) -> dict[str, Any]:
        """Dialect keyword arguments of `sa.Index` over these columns."""
        return {}

    # --- the dry run ----------------------------------------------------------------------

    def read_counters(self, conn: Connection) -> dict[str, int | None]:
        """Sequence / auto-increment name -> current value (None: never used)."""
        return {}

    def restore_counter(self, conn: Connection, name: str, value: int | None) -> None:
        raise TerminalError(f"cannot restore counters on {self.name}")

    def dry_run_ddl(self, conn: Connection, element: DdlElement) -> Executable:
        """What a dry run sends for a CREATE TABLE / CREATE INDEX: the statement itself
        where the engine undoes DDL with the transaction; else it refuses."""
        if self.capabilities.transactional_ddl:
            return element
        raise self.refusal(str(element.compile(dialect=conn.dialect)))

    def dry_run_allows(self, statement: str) -> bool:
        """Whether a dry run may send other DDL (ALTER, DROP, ...) as it is."""
        return self.capabilities.transactional_ddl

    def refusal(self, statement: str) -> DryRunRefused:
        return DryRunRefused(
            f"the dry run would have to run `{' '.join(statement.split())[:200]}`, which"
            f" {self.name} cannot roll back. Run the real command that needs it once (an"
            " older ferryman's control tables are upgraded by any `ferryman run`), or"
            " dry-run against PostgreSQL or SQLite"
        )
