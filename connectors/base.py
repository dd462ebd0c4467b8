"""The contracts every connector implements: a Source yields bounded batches with their
position, a Target writes a batch inside a transaction it is handed.

Nothing here knows about mappings, GX or Prefect. A batch carries raw source values (as
read, no coercion) plus the position of every row, so that a row can always be traced back
to where it came from (file:line, or the source key) when it is quarantined.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, Self

import pyarrow as pa

# Column added to every batch: where each row came from, human-readable
# ("exports/customers.csv:17", "CUSTMAST rowid=42"). Never a real source column name.
ROW_POSITION = "__ferryman_position"


@dataclass(frozen=True)
class Position:
    """Resume token for a stream: everything before (and including) it has been read.

    `value` is connector-defined and JSON-serialisable (a row offset, the last key seen,
    a byte offset). `rows` is how many source rows precede the next batch.
    """

    rows: int = 0
    value: Any = None

    def to_json(self) -> dict[str, Any]:
        return {"rows": self.rows, "value": self.value}

    @classmethod
    def from_json(cls, data: Mapping[str, Any] | None) -> Position:
        if not data:
            return cls()
        return cls(rows=int(data.get("rows", 0)), value=data.get("value"))


@dataclass(frozen=True)
class Batch:
    """A bounded slice of one stream (table or file), as read from the source.

    `data` holds the source columns plus ROW_POSITION. `start` is the position before the
    first row of this batch and `end` the position after its last row: a resumed run that
    restarts from `end` reads exactly the rows that follow.
    """

    stream: str
    number: int
    data: pa.Table
    start: Position
    end: Position
    rejects: tuple[Reject, ...] = ()
    """Records the source could not turn into a row (ragged, undecodable). They count as
    read and go to quarantine; they are not in `data`."""

    @property
    def num_rows(self) -> int:
        return int(self.data.num_rows)

    @property
    def rows_read(self) -> int:
        return self.num_rows + len(self.rejects)


@dataclass(frozen=True)
class Reject:
    """One reason one source row was held back (the quarantine's raw material).

    Produced by sources (malformed records), the mapping (cast, map, date errors),
    validation (row-level expectations) and the load step (duplicate keys, missing
    parents). A row may have several rejects; it is quarantined once.
    """

    row: int
    """Index of the row within its batch (0-based; for a source reject, its record index)."""
    position: str
    """Where the row came from, e.g. `CUSTMAST rowid=42` or `exports/x.csv:17`."""
    column: str | None
    """Column at fault; None when the whole record is at fault."""
    raw_value: str | None
    """The offending value (or raw record) as text; None when absent."""
    rule: str
    """Short machine name of the failing rule: `cast:integer`, `map`, `parse_date`,
    `required`, `expect_column_values_to_match_regex`, `duplicate_key`, `foreign_key`,
    `malformed_record`."""
    message: str
    """A sentence for a tired engineer: what is wrong with this value."""


@dataclass(frozen=True)
class TargetCapabilities:
    """What a target engine can do, as data (the flow decides how to load from this)."""

    transactional_ddl: bool
    native_bulk_load: bool
    supports_upsert: bool
    has_schemas: bool
    max_identifier_length: int
    max_bind_parameters: int


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


class Connector(ABC):
    """Common base: a named kind, built from its connection options."""

    kind: ClassVar[str]
    """The registry name, e.g. "sql" or "csv"."""

    def close(self) -> None:  # noqa: B027 - optional hook, most connectors hold nothing
        """Release pooled connections or open files."""

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class Source(Connector):
    """Reads one stream (a table, a query, a file) as bounded batches."""

    @abstractmethod
    def columns(self, stream: str) -> list[str]:
        """The source column names of `stream`, in source order (no data read)."""

    @abstractmethod
    def read_batches(
        self, stream: str, batch_size: int, after: Position | None = None
    ) -> Iterator[Batch]:
        """Yield batches of at most `batch_size` rows, starting after `after`.

        Memory is bounded by the batch size: implementations stream, they never load the
        whole stream. Batch numbers continue from the resumed position's batch count is
        the caller's business; numbers here start at 0 for the first batch yielded.
        """

    def describe(self, stream: str) -> str:
        """How to name this stream in messages (no secrets)."""
        return stream


class Target(Connector):
    """Writes batches into tables, always inside a transaction the caller opened.

    The caller (the flow) owns the transaction so that a batch's rows, its quarantine rows
    and its ledger row commit together or not at all.
    """

    capabilities: TargetCapabilities

    @abstractmethod
    def begin(self) -> Any:
        """A context manager yielding a transactional connection; commits on clean exit."""

    @abstractmethod
    def ensure_table(self, conn: Any, schema: TableSchema) -> list[str]:
        """Create the table if missing; if present, return the differences that make it
        unusable (missing columns, incompatible types). An empty list means it fits."""

    @abstractmethod
    def insert(self, conn: Any, table: str, data: pa.Table) -> int:
        """Insert all rows of `data` (columns named as in the table); return rows written."""

    @abstractmethod
    def existing_keys(
        self, conn: Any, table: str, columns: Sequence[str], keys: pa.Table
    ) -> pa.Table:
        """The subset of `keys` (columns `columns`) already present in `table`."""

    @abstractmethod
    def count(self, conn: Any, table: str) -> int:
        """Rows in `table` now."""

    def describe(self) -> str:
        """How to name this target in messages (never with a password)."""
        return self.kind
