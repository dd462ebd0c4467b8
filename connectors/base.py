"""The contracts every connector implements: a Source yields bounded batches with their
position, a Target writes a batch inside a transaction it is handed. The Target contract
lives in `ferryman.connectors.target` and is re-exported here.

Nothing here knows about mappings, GX or Prefect. A batch carries raw source values (as
read, no coercion) plus the position of every row, so that a row can always be traced back
to where it came from (file:line, or the source key) when it is quarantined.
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pyarrow as pa

from ferryman.connectors.connector import Connector
from ferryman.connectors.errors import TerminalError
from ferryman.connectors.target import (
    ColumnSchema,
    IndexSchema,
    PinnedTarget,
    PlannedDdl,
    TableSchema,
    Target,
    TargetCapabilities,
    Upserted,
)

__all__ = [
    "ROW_POSITION",
    "Batch",
    "ColumnSchema",
    "Connector",
    "IndexSchema",
    "PinnedTarget",
    "PlannedDdl",
    "Position",
    "Reject",
    "Source",
    "TableSchema",
    "Target",
    "TargetCapabilities",
    "Upserted",
]

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

    def lookup_tables(self) -> list[str]:
        """The tables a `lookup: {source: ...}` step may read here (tables and views).

        Optional: the default says this kind answers no lookups."""
        raise TerminalError(f"a {self.kind} connection cannot answer table lookups")

    def lookup(self, table: str, key: str, value: str, codes: Sequence[str]) -> pa.Table:
        """Rows of `table` whose `key` column, as text, is one of `codes`: a table of two
        columns, `key` (text) and `value` (as stored). One round trip per call, chunked
        below the engine's limits. Raises TerminalError for a missing table or column."""
        raise TerminalError(f"a {self.kind} connection cannot answer table lookups")
