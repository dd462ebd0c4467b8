"""Parquet files as a source: streamed with pyarrow's `iter_batches`, types kept as stored.

Memory holds one row group's worth of decoded batches at most (pyarrow reads a row group
at a time); batches are re-cut to exactly `batch_size` rows. A resumed read uses the row
groups' row counts from the footer to start at the row group holding the next row, and
skips only the rows of that group that were already read.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from ferryman.connectors.base import ROW_POSITION, Batch, Position, Source
from ferryman.connectors.errors import TerminalError
from ferryman.connectors.parquet.options import ParquetOptions


class ParquetSource(Source):
    """Each Parquet file in the connection's folder is a stream, named by its file name."""

    kind = "parquet"

    def __init__(self, name: str, options: ParquetOptions) -> None:
        self.name = name
        self.options = options
        self.root = Path(options.path)

    def describe(self, stream: str) -> str:
        return f"{stream} in {self.name} ({self.root})"

    def _open(self, stream: str) -> pq.ParquetFile:
        path = self.root / stream
        if not path.is_file():
            raise TerminalError(
                f"connection {self.name!r}: file {stream!r} not found in {self.root};"
                " check `file:` in the spec and `path:` in ferryman.yaml"
            )
        try:
            return pq.ParquetFile(path)
        except (pa.ArrowInvalid, OSError) as err:
            raise TerminalError(
                f"{self.describe(stream)}: not a readable Parquet file: {err}"
            ) from err

    def columns(self, stream: str) -> list[str]:
        names = list(self._open(stream).schema_arrow.names)
        wanted = self.options.columns
        if wanted is None:
            return names
        missing = [c for c in wanted if c not in names]
        if missing:
            raise TerminalError(
                f"{self.describe(stream)}: no column {', '.join(map(repr, missing))};"
                f" it has {', '.join(names)}"
            )
        return list(wanted)

    def read_batches(
        self, stream: str, batch_size: int, after: Position | None = None
    ) -> Iterator[Batch]:
        columns = self.columns(stream)
        pf = self._open(stream)
        done = after.rows if after else 0
        group, skip = _locate(pf, done)
        pending: list[pa.RecordBatch] = []
        pending_rows = 0
        number = 0
        groups = list(range(group, pf.metadata.num_row_groups))
        reader = pf.iter_batches(batch_size=batch_size, row_groups=groups, columns=columns)
        try:
            for rb in reader:
                if skip:
                    cut = min(skip, rb.num_rows)
                    rb, skip = rb.slice(cut), skip - cut
                pending.append(rb)
                pending_rows += rb.num_rows
                while pending_rows >= batch_size:
                    table = pa.Table.from_batches(pending)
                    head, tail = table.slice(0, batch_size), table.slice(batch_size)
                    yield _batch(stream, number, head, done)
                    number, done = number + 1, done + batch_size
                    pending, pending_rows = tail.to_batches(), tail.num_rows
        except (pa.ArrowInvalid, OSError) as err:
            raise TerminalError(f"{self.describe(stream)}: cannot read: {err}") from err
        if pending_rows:
            yield _batch(stream, number, pa.Table.from_batches(pending), done)


def _locate(pf: pq.ParquetFile, done: int) -> tuple[int, int]:
    """(row group holding row `done`, rows of it to skip)."""
    meta = pf.metadata
    for group in range(meta.num_row_groups):
        rows = meta.row_group(group).num_rows
        if done < rows:
            return group, done
        done -= rows
    return meta.num_row_groups, 0


def _batch(stream: str, number: int, table: pa.Table, done: int) -> Batch:
    rows = table.num_rows
    positions = pa.array([f"{stream}:{done + i + 1}" for i in range(rows)], pa.string())
    data = table.combine_chunks().append_column(ROW_POSITION, positions)
    return Batch(stream, number, data, Position(rows=done), Position(rows=done + rows))
