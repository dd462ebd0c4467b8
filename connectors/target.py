"""The Target contract: everything the flows ask of a target, and nothing more.

Transactions belong to the caller. `begin()` hands out a connection inside a transaction
that commits when the block exits cleanly and rolls back when it raises; every operation
below that takes `conn` runs inside that transaction (or on a `connect()` connection, for
reads) and never commits, so a batch's rows, its journal, its quarantine rows and its
ledger row commit together or not at all.

Connections are SQLAlchemy connections. That is the one thing the flows assume about
them: ferryman's control tables (runs, batches, journal, quarantine) live in the target
and the ledger writes them with SQLAlchemy Core on the connection it is handed. Every
other operation goes through the methods here, so how a target loads, probes, scans or
spells its SQL is its own business (`ferryman.connectors.sql.dialects` for the built-in
one).

What a target can do is data (`TargetCapabilities`); the flows plan by it, never by the
engine's name. A third-party target proves it keeps this contract by passing
`ferryman.connectors.testing` (docs/connectors.md).
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.compute as pc

from ferryman.connectors.arrow_values import typed_array
from ferryman.connectors.connector import Connector
from ferryman.connectors.errors import TerminalError

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection

Key = tuple[Any, ...]
"""One key value: one item per key column, in the key's column order."""


@dataclass(frozen=True)
class TargetCapabilities:
    """What a target engine can do, as data (the flow decides how to load from this)."""

    transactional_ddl: bool
    """CREATE TABLE is undone with its transaction (else a dry run uses shadow tables)."""
    native_bulk_load: bool
    """`insert` has a bulk path (COPY, LOAD DATA) rather than parameterised INSERTs."""
    supports_upsert: bool
    """The engine has an insert-or-update statement (ON CONFLICT, ON DUPLICATE KEY)."""
    has_schemas: bool
    max_identifier_length: int
    max_bind_parameters: int
    supports_savepoints: bool = True
    """Nested transactions: what a dry run turns every `begin()` into."""


@dataclass(frozen=True)
class ColumnSchema:
    """One target column in engine-neutral terms (an Arrow type plus constraints)."""

    name: str
    type: pa.DataType
    nullable: bool = True
    max_length: int | None = None
    logical: str | None = None
    """What the Arrow type does not say: "uuid" or "json" (batches hold both as text),
    so a target can create its native type for them."""


@dataclass(frozen=True)
class TableSchema:
    """A target table to create or check, engine-neutral."""

    name: str
    columns: tuple[ColumnSchema, ...]
    primary_key: tuple[str, ...] = ()
    foreign_keys: tuple[tuple[tuple[str, ...], str, tuple[str, ...]], ...] = field(default=())

    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]


@dataclass(frozen=True)
class IndexSchema:
    """An index a spec asks for, created once the table is loaded."""

    name: str
    columns: tuple[str, ...]
    unique: bool = False


@dataclass(frozen=True)
class Upserted:
    """What an upsert did, by row of its input: the rows it inserted, the rows it updated
    (ascending) with the before-image of each (every column of the table), in that order.
    Rows in neither list were identical to the table's and were left alone."""

    inserted: list[int]
    updated: list[int]
    before: list[dict[str, Any]]


@dataclass(frozen=True)
class PlannedDdl:
    """A DDL statement a dry run would have sent, as the real run would send it."""

    table: str
    kind: str
    """"table" (CREATE TABLE) or "index" (CREATE INDEX)."""
    statement: str


class Target(Connector):
    """Writes batches into tables, always inside a transaction the caller opened.

    The caller (the flow) owns the transaction so that a batch's rows, its quarantine rows
    and its ledger row commit together or not at all. Methods taking `conn` run inside
    the caller's transaction and never commit; the others manage their own.
    """

    capabilities: TargetCapabilities
    schema: str | None = None
    """The database schema the tables live in (the control tables too); None: the
    connection's default."""

    # --- connections ----------------------------------------------------------------------

    @abstractmethod
    def begin(self) -> AbstractContextManager[Connection]:
        """A connection inside a new transaction: committed when the block exits cleanly,
        rolled back when it raises. Connection failures raise ConnectionFailed."""

    @abstractmethod
    def connect(self) -> AbstractContextManager[Connection]:
        """A connection for reads; whatever it wrote is rolled back when the block exits."""

    @abstractmethod
    def ping(self) -> None:
        """Open and close a connection; raises ConnectionFailed naming the connection."""

    def error(self, err: BaseException) -> Exception:
        """The connector error for a driver exception raised on one of this target's
        connections (no secret in its message)."""
        return TerminalError(f"{self.describe()}: {err}")

    def describe(self) -> str:
        """How to name this target in messages (never with a password)."""
        return self.kind

    # --- tables ---------------------------------------------------------------------------

    @abstractmethod
    def has_table(self, conn: Connection, table: str) -> bool:
        """Whether `table` exists (as this transaction sees it)."""

    @abstractmethod
    def table_names(self, conn: Connection, views: bool = False) -> list[str]:
        """The tables of the target's schema (and its views, with `views`), any order."""

    @abstractmethod
    def ensure_table(self, conn: Connection, schema: TableSchema) -> list[str]:
        """Create the table if missing; if present, return the differences that make it
        unusable (missing columns, incompatible types). An empty list means it fits."""

    @abstractmethod
    def existing_columns(self, conn: Connection, wanted: TableSchema) -> list[ColumnSchema]:
        """The columns of the existing table `wanted.name`, in table order and
        engine-neutral terms: a column of the same kind as the spec's reads as the spec's
        Arrow type, keeping what the table really declares (integer width, decimal
        precision and scale, string length, NOT NULL)."""

    @abstractmethod
    def column_names(self, conn: Connection, table: str) -> list[str]:
        """Every column of `table`, in table order."""

    @abstractmethod
    def primary_key(self, conn: Connection, table: str) -> list[str]:
        """The primary key columns of `table` (empty: none)."""

    @abstractmethod
    def create_indexes(
        self, conn: Connection, table: str, indexes: Sequence[IndexSchema]
    ) -> list[str]:
        """Create the indexes `table` lacks (by name); returns the names created. A unique
        index the rows break raises TerminalError saying how to find them."""

    @abstractmethod
    def drop_table(self, conn: Connection, table: str) -> None:
        """Drop `table` (rollback drops the tables a run created)."""

    # --- rows -----------------------------------------------------------------------------

    @abstractmethod
    def insert(self, conn: Connection, table: str, data: pa.Table) -> int:
        """Insert all rows of `data` (columns named as in the table) by the target's
        fastest exact path; return rows written. A key already there raises a
        TerminalError naming the table."""

    @abstractmethod
    def insert_rows(self, conn: Connection, table: str, rows: Sequence[dict[str, Any]]) -> int:
        """Insert plain dict rows (before-images a rollback restores); return rows written."""

    @abstractmethod
    def existing_keys(
        self, conn: Connection, table: str, columns: Sequence[str], keys: pa.Table
    ) -> pa.Table:
        """The subset of `keys` (columns `columns`) already present in `table`, typed as
        `keys`."""

    @abstractmethod
    def fetch_by_keys(
        self, conn: Connection, table: str, columns: Sequence[str], keys: Sequence[Key]
    ) -> list[dict[str, Any]]:
        """Whole rows (every column of the table) whose key `columns` is in `keys`; keys
        not found are left out; any order."""

    @abstractmethod
    def update_rows(
        self, conn: Connection, table: str, key: Sequence[str], rows: Sequence[dict[str, Any]]
    ) -> int:
        """Set every non-key column of each row, matched on its `key` columns; returns
        the rows given."""

    @abstractmethod
    def delete_keys(
        self, conn: Connection, table: str, columns: Sequence[str], keys: Sequence[Key]
    ) -> int:
        """Delete the rows whose key `columns` is in `keys`; returns rows deleted."""

    @abstractmethod
    def delete_all(self, conn: Connection, table: str) -> int:
        """Delete every row of `table` (`replace`, after its snapshot); returns rows
        deleted."""

    def upsert(self, conn: Connection, table: str, key: Sequence[str], rows: pa.Table) -> Upserted:
        """Insert new keys, update rows whose values differ, leave identical rows alone,
        and say which rows did what, with the before-images of the updated ones. Keys must
        be unique within `rows`.

        This default fetches the rows with those keys, compares them value by value (in
        `rows`' Arrow types), inserts the new ones and updates the changed ones; a target
        that can do it in one statement overrides it."""
        if rows.num_rows == 0:
            return Upserted([], [], [])
        keys = list(zip(*(rows.column(c).to_pylist() for c in key), strict=True))
        existing = {tuple(r[c] for c in key): r for r in self.fetch_by_keys(conn, table, key, keys)}
        present = [i for i, k in enumerate(keys) if k in existing]
        new = [i for i, k in enumerate(keys) if k not in existing]
        changed: list[int] = []
        if present:
            incoming = rows.take(pa.array(present, pa.int64()))
            old = _as_arrow([existing[keys[i]] for i in present], rows.schema)
            differs = _rows_differ(incoming, old)
            changed = [i for i, d in zip(present, differs, strict=True) if d]
        if new:
            self.insert(conn, table, rows.take(pa.array(new, pa.int64())))
        if changed:
            updates = rows.take(pa.array(changed, pa.int64())).to_pylist()
            self.update_rows(conn, table, key, updates)
        return Upserted(new, changed, [existing[keys[i]] for i in changed])

    @abstractmethod
    def count(self, conn: Connection, table: str) -> int:
        """Rows in `table` now."""

    @abstractmethod
    def scan(
        self, conn: Connection, table: str, chunk: int = 10_000
    ) -> Iterator[list[tuple[Any, ...]]]:
        """Every row of `table` as tuples (all columns, table order), in chunks of at most
        `chunk`. Memory is bounded by the chunk. Keyed tables are paged by key (keyset), so
        the caller may run other statements on `conn` between chunks."""

    def fetch_arrow_by_keys(
        self,
        conn: Connection,
        table: str,
        columns: Sequence[str],
        keys: pa.Table,
        schema: pa.Schema,
    ) -> pa.Table:
        """The rows of `table` whose key `columns` equal a row of `keys`, as an Arrow
        table of `schema` (the columns and types ferryman wrote), any order. This default
        goes through `fetch_by_keys`; a target may read Arrow natively."""
        wanted = list(zip(*(keys.column(c).to_pylist() for c in columns), strict=True))
        return _as_arrow(self.fetch_by_keys(conn, table, columns, wanted), schema)

    @abstractmethod
    def fetch_arrow_range(
        self, conn: Connection, table: str, column: str, low: int, high: int, schema: pa.Schema
    ) -> pa.Table:
        """The rows of `table` whose integer `column` lies between `low` and `high`
        (inclusive), as an Arrow table of `schema`, like `fetch_arrow_by_keys`."""

    def lookup(
        self, conn: Connection, table: str, key: str, value: str, codes: Sequence[str]
    ) -> pa.Table:
        """Rows of `table` whose `key` column, as text, is one of `codes`: a table of two
        columns, `key` (text) and `value` (as stored), as `conn` sees them (rows an
        earlier table of the run wrote too). Raises TerminalError for a missing table or
        column. Optional: the default says this target answers no lookups."""
        raise TerminalError(f"{self.describe()} cannot answer table lookups")

    # --- the dry run ----------------------------------------------------------------------

    def pinned(self) -> PinnedTarget:
        """This target seen through ONE connection whose outer transaction is never
        committed: its `begin()` is a savepoint, its `connect()` that same connection, its
        `close()` rolls everything back. The dry run loads through it. It takes over this
        target's connections: close the pinned target, not both."""
        raise TerminalError(f"{self.describe()} cannot be dry-run")

    def counters(self, conn: Connection) -> dict[str, int | None]:
        """Sequence / auto-increment name -> its current value (None: never used): what a
        rolled-back transaction does not restore. Default: a target without counters."""
        return {}

    def restore_counter(self, name: str, value: int | None) -> None:
        """Put counter `name` back to `value` (as `counters` gave it), in a transaction of
        its own. Raises ConnectorError when the engine cannot."""
        raise TerminalError(f"{self.describe()} cannot restore counter {name}")


class PinnedTarget(Target):
    """A target whose writes are never committed (see `Target.pinned`)."""

    @property
    @abstractmethod
    def planned_ddl(self) -> list[PlannedDdl]:
        """Every CREATE TABLE / CREATE INDEX sent through it, as the real run would send
        it (where the engine cannot undo DDL, a shadow was created instead, or nothing)."""


def _as_arrow(rows: Sequence[Mapping[str, Any]], schema: pa.Schema) -> pa.Table:
    arrays = [typed_array([r[f.name] for r in rows], f.type) for f in schema]
    return pa.Table.from_arrays(arrays, schema=schema)


def _rows_differ(a: pa.Table, b: pa.Table) -> list[bool]:
    """Per row: does any column differ (NULLs equal NULLs, NaNs equal NaNs)?"""
    differ = pa.array([False] * a.num_rows)
    for name in a.column_names:
        x, y = a.column(name), b.column(name)
        if pa.types.is_null(x.type):
            continue
        same = pc.fill_null(pc.equal(x, y), False)
        same = pc.or_(same, pc.and_(pc.is_null(x), pc.is_null(y)))
        if pa.types.is_floating(x.type):
            same = pc.or_(same, pc.fill_null(pc.and_(pc.is_nan(x), pc.is_nan(y)), False))
        differ = pc.or_(differ, pc.invert(same))
    return [bool(d) for d in differ.to_pylist()]
