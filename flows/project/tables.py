"""The spec's indexes, created on the target once a table's load is done."""

from __future__ import annotations

from collections.abc import Sequence

from ferryman.connectors.base import IndexSchema, Target
from ferryman.mappings.model import Index


def create_indexes(target: Target, table: str, indexes: Sequence[Index]) -> list[str]:
    """Create the indexes the table does not have yet (by name), in a transaction of their
    own; returns the created names."""
    if not indexes:
        return []
    wanted = []
    for ix in indexes:
        assert ix.name is not None  # CompiledMapping.indexes() names every index
        wanted.append(IndexSchema(ix.name, tuple(ix.columns), ix.unique))
    with target.begin() as conn:
        return target.create_indexes(conn, table, wanted)
