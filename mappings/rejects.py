"""A rejected row: what failed, where it came from, and why (the quarantine's raw material).

Produced by the mapping (cast, lookup, map, filter errors) and by validation (row-level
expectations) and by the load step (duplicate keys, missing parents); written by the flow
into the quarantine table in the same transaction as the batch.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Reject:
    """One reason one source row was held back. A row may have several rejects."""

    row: int
    """Index of the row within its batch (0-based)."""
    position: str
    """Where the row came from, e.g. `CUSTMAST rowid=42` or `exports/x.csv:17`."""
    column: str | None
    """Target column (or source column) at fault; None when the whole row is at fault."""
    raw_value: str | None
    """The offending value as read, as text; None when absent."""
    rule: str
    """Short machine name of the failing rule: `cast:integer`, `map`, `parse_date`,
    `required`, `expect_column_values_to_match_regex`, `duplicate_key`, `foreign_key`."""
    message: str
    """A sentence for a tired engineer: what is wrong with this value."""
