"""Row-level steps of a compiled mapping that look at several rows at once: dedup within a
batch, and the grouping that lets several specs share one read of a source stream."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ferryman.mappings.model import Dedup, MappingSpec
from ferryman.mappings.rejects import Reject

_I = "__ferryman_i"
_BY = "__ferryman_by"
_WIN = "__ferryman_winner"


def dedup_losers(
    keys: pa.Table, by: pa.Array | None, rule: Dedup, index: pa.Array, positions: pa.Array
) -> tuple[pa.Array, list[Reject]]:
    """Which rows lose to another row with the same key, and their rejects.

    `keys` holds the mapped key columns of the rows still in the batch (in read order),
    `by` the mapped `dedup.by` column for keep: latest. Rows with a NULL in the key are
    never duplicates (as in SQL, NULL equals nothing). Returns a boolean mask over the
    rows and one `duplicate_key` Reject per losing row, naming the row that was kept.
    """
    n = keys.num_rows
    names = keys.column_names
    table = keys.append_column(_I, pa.array(np.arange(n, dtype=np.int64)))
    if by is not None:
        table = table.append_column(_BY, by)
    complete = pa.repeat(pa.scalar(True), n)
    for name in names:
        complete = pc.and_(complete, pc.is_valid(table.column(name)))
    candidates = table.filter(complete)
    winners = _winners(candidates, names, rule)
    if winners.num_rows == candidates.num_rows:
        return pa.repeat(pa.scalar(False), n), []
    joined = candidates.join(winners, keys=names, join_type="inner", use_threads=False)
    lost = joined.filter(pc.not_equal(joined.column(_I), joined.column(_WIN)))
    lost = lost.sort_by(_I)
    mask = pc.is_in(pa.array(np.arange(n, dtype=np.int64)), value_set=lost.column(_I))
    return mask, _rejects(lost, names, rule, index, positions)


def _winners(candidates: pa.Table, names: list[str], rule: Dedup) -> pa.Table:
    if rule.keep in ("first", "last"):
        how = "min" if rule.keep == "first" else "max"
        grouped = candidates.group_by(names, use_threads=False).aggregate([(_I, how)])
        return grouped.select([*names, f"{_I}_{how}"]).rename_columns([*names, _WIN])
    # latest: the greatest `by`; NULL `by` loses to any value; ties go to the last read.
    order = pc.sort_indices(
        candidates, sort_keys=[(_BY, "descending", "at_end"), (_I, "descending", "at_end")]
    )
    ordered = candidates.take(order)
    grouped = ordered.group_by(names, use_threads=False).aggregate([(_I, "first")])
    return grouped.select([*names, f"{_I}_first"]).rename_columns([*names, _WIN])


def _rejects(
    lost: pa.Table, names: list[str], rule: Dedup, index: pa.Array, positions: pa.Array
) -> list[Reject]:
    keep = {"first": "the first row read", "last": "the last row read"}.get(
        rule.keep, f"the row with the latest {rule.by}"
    )
    out = []
    values = [lost.column(c).to_pylist() for c in names]
    for j, (i, w) in enumerate(
        zip(lost.column(_I).to_pylist(), lost.column(_WIN).to_pylist(), strict=True)
    ):
        key = describe_key(names, [v[j] for v in values])
        out.append(
            Reject(
                row=index[i].as_py(),
                position=positions[i].as_py(),
                column=",".join(names),
                raw_value=key,
                rule="duplicate_key",
                message=f"key {key} repeats the row at {positions[w].as_py()}, which was kept"
                f" (dedup keeps {keep})",
            )
        )
    return out


def describe_key(columns: Sequence[str], values: Sequence[Any]) -> str:
    return ", ".join(f"{c}={v!r}" for c, v in zip(columns, values, strict=True))


def group_by_stream(specs: Iterable[MappingSpec]) -> dict[tuple[str, str], list[MappingSpec]]:
    """Specs that read the same stream of the same connection, together: splitting one
    source row into several targets is several specs on one stream, and the flow may read
    the stream once and apply each spec's mapping to every batch. Each target still
    accounts for every source row (read = loaded + quarantined + filtered)."""
    groups: dict[tuple[str, str], list[MappingSpec]] = {}
    for spec in specs:
        for stream_spec in spec.stream_specs():
            key = (stream_spec.source.connection, stream_spec.source.stream)
            groups.setdefault(key, []).append(stream_spec)
    return groups
