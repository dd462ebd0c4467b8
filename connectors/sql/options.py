"""Connection options of the `sql` kind, as written in ferryman.yaml."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr


class SqlPartition(BaseModel):
    """Read each table as consecutive key ranges, one statement per range.

    Each range is its own query (and, on a server, its own short transaction), read one
    after the other; batches run on across range boundaries, so the rows, their order and
    the batches are those of an unpartitioned read. A batch's position names the range and
    the last key read in it, so a resumed run restarts inside that range.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    ranges: int = Field(
        ge=1,
        le=256,
        description="How many key ranges to split each table into (1 to 256).",
    )
    column: str | None = Field(
        default=None,
        description="Column whose values are split into ranges, the same name in every table"
        " read; default: each table's first primary-key column (SQLite: rowid when there is"
        " no primary key). A column outside the primary key is read in (column, primary key)"
        " order; in a table without a primary key it must be unique and NOT NULL.",
    )
    bounds: Literal["quantiles", "min_max"] = Field(
        default="quantiles",
        description="How the range limits are found: `quantiles` gives ranges of equal row"
        " counts (one NTILE pass over the column; any orderable type); `min_max` splits"
        " MIN..MAX into equal widths (two index look-ups; integer columns only).",
    )
    tables: tuple[str, ...] | None = Field(
        default=None,
        description="Partition only these tables (names as in `source: {table: ...}`); default:"
        " every table read through this connection.",
    )

    def applies_to(self, table: str) -> bool:
        return self.tables is None or table in self.tables


class SqlOptions(BaseModel):
    """A database reached through SQLAlchemy."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    url: SecretStr = Field(
        description="SQLAlchemy URL, e.g. postgresql+psycopg://user@host/db; put passwords in"
        " the environment: ${TARGET_URL}."
    )
    schema_: str | None = Field(
        default=None,
        alias="schema",
        description="Schema (PostgreSQL) holding the tables; the connection's default if unset.",
    )
    partition: SqlPartition | None = Field(
        default=None,
        description="Read tables as key ranges, each range a resumable position (source only;"
        " a target ignores it), e.g. `partition: {ranges: 8}`.",
    )
