"""Sources whose streams are the files of one folder (CSV, fixed width, DBF, EBCDIC, JSON
Lines, Parquet, Excel): one place that resolves a stream to its file, and says clearly
where it looked when the file is not there."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pyarrow as pa

from ferryman.connectors.base import ROW_POSITION, Batch, Position, Reject, Source
from ferryman.connectors.errors import TerminalError


class FolderSource(Source):
    """A source reading files named by the stream from the folder `root`."""

    name: str
    root: Path

    def _path(self, stream: str) -> Path:
        path = self.root / stream
        if not path.is_file():
            raise TerminalError(
                f"connection {self.name!r}: file {stream!r} not found in {self.root};"
                " check `file:` in the spec and `path:` in ferryman.yaml"
            )
        return path


def text_batch(
    stream: str,
    number: int,
    names: list[str],
    rows: Sequence[Sequence[str]],
    positions: Sequence[str],
    rejects: Sequence[Reject],
    start: int,
    end: int,
) -> Batch:
    """A batch of text values as read from a file, with each row's position."""
    cols = list(zip(*rows, strict=True)) if rows else [()] * len(names)
    arrays = [pa.array(c, pa.string()) for c in cols]
    arrays.append(pa.array(positions, pa.string()))
    data = pa.Table.from_arrays(arrays, names=[*names, ROW_POSITION])
    return Batch(stream, number, data, Position(rows=start), Position(rows=end), tuple(rejects))


class TextRows:
    """The rows, positions and rejects of the batch being read from a text file;
    `flush()` turns them into a Batch and starts the next."""

    def __init__(self, stream: str, names: Sequence[str]) -> None:
        self.stream = stream
        self.names = list(names)
        self.rows: list[list[str]] = []
        self.positions: list[str] = []
        self.rejects: list[Reject] = []

    @property
    def size(self) -> int:
        return len(self.rows) + len(self.rejects)

    def flush(self, number: int, consumed: int) -> Batch:
        batch = text_batch(
            self.stream,
            number,
            self.names,
            self.rows,
            self.positions,
            self.rejects,
            consumed - self.size,
            consumed,
        )
        self.rows, self.positions, self.rejects = [], [], []
        return batch
