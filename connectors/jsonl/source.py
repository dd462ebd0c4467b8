"""JSON Lines files as a source: one object per line, nested fields flattened to columns.

A JSON Lines file has no header, so the file is read once, streaming, to learn its columns
and their types before the batches are read (every batch then has the same schema, and a
key first seen on the last line is not lost). A line that is not a JSON object (broken
JSON, a bare value, bytes not in the encoding) becomes a `malformed_record` reject with
its line number and text; blank lines are not records. Positions keep the byte offset, so
a resumed read seeks straight to the next line.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa

from ferryman.connectors.base import ROW_POSITION, Batch, Position, Reject
from ferryman.connectors.errors import TerminalError
from ferryman.connectors.folder import FolderSource
from ferryman.connectors.jsonl.flatten import LineProblem, Shape, flattener, parse_line, picker
from ferryman.connectors.jsonl.options import JsonlOptions

_BUFFER = 1 << 20
_BOM = b"\xef\xbb\xbf"


class JsonlSource(FolderSource):
    """Each file in the connection's folder is a stream, named by its file name."""

    kind = "jsonl"

    def __init__(self, name: str, options: JsonlOptions) -> None:
        self.name = name
        self.options = options
        self.root = Path(options.path)
        self._shapes: dict[str, tuple[tuple[int, int], Shape]] = {}
        self._extract: Callable[[dict[str, Any]], dict[str, Any]] = (
            picker(options.columns)
            if options.columns is not None
            else flattener(options.separator, options.max_depth)
        )

    def describe(self, stream: str) -> str:
        return f"{stream} in {self.name} ({self.root})"

    def columns(self, stream: str) -> list[str]:
        return list(self._shape(stream).kinds)

    def _shape(self, stream: str) -> Shape:
        """Columns and types of the whole file (one streaming pass, cached)."""
        path = self._path(stream)
        stat = path.stat()
        key = (stat.st_size, stat.st_mtime_ns)
        cached = self._shapes.get(stream)
        if cached is not None and cached[0] == key:
            return cached[1]
        shape = Shape(list(self.options.columns) if self.options.columns else None)
        for _line, _end, obj in self._lines(path, 0, 1):
            if isinstance(obj, dict):
                shape.add(self._extract(obj))
        self._shapes[stream] = (key, shape)
        return shape

    def _lines(self, path: Path, offset: int, line: int) -> Iterator[tuple[int, int, Any]]:
        """(line number, offset after it, the object or the LineProblem and raw bytes)."""
        with path.open("rb", buffering=_BUFFER) as fh:
            fh.seek(offset)
            for raw in fh:
                offset += len(raw)
                if line == 1 and raw.startswith(_BOM):
                    raw = raw[len(_BOM) :]
                content = raw.rstrip(b"\r\n")
                if content.strip():
                    yield line, offset, self._parse(content)
                line += 1

    def _parse(self, content: bytes) -> Any:
        try:
            text = content.decode(self.options.encoding)
        except UnicodeDecodeError as err:
            problem = LineProblem(
                f"bytes {content[err.start : err.end].hex().upper()} are not"
                f" {self.options.encoding}; is `encoding:` right?"
            )
            return problem, repr(content)
        try:
            return parse_line(text)
        except LineProblem as err:
            return err, text

    def read_batches(
        self, stream: str, batch_size: int, after: Position | None = None
    ) -> Iterator[Batch]:
        shape = self._shape(stream)
        names, types = list(shape.kinds), shape.types()
        done, offset, line = _resume(after)
        start = Position(done, {"offset": offset, "line": line})
        rows: list[tuple[Any, ...]] = []
        positions: list[str] = []
        rejects: list[Reject] = []
        number = 0
        stop = start
        for line_no, end, parsed in self._lines(self._path(stream), offset, line):
            stop = Position(start.rows + len(rows) + len(rejects) + 1,
                            {"offset": end, "line": line_no + 1})  # fmt: skip
            if isinstance(parsed, dict):
                rows.append(shape.cells(self._extract(parsed)))
                positions.append(f"{stream}:{line_no}")
            else:
                rejects.append(_reject(stream, line_no, *parsed))
            if len(rows) + len(rejects) >= batch_size:
                yield _batch(stream, number, names, types, rows, positions, rejects, start, stop)
                number, start, rows, positions, rejects = number + 1, stop, [], [], []
        if rows or rejects:
            yield _batch(stream, number, names, types, rows, positions, rejects, start, stop)


def _resume(after: Position | None) -> tuple[int, int, int]:
    if after is None:
        return 0, 0, 1
    value = after.value
    if isinstance(value, dict) and "offset" in value:
        return after.rows, int(value["offset"]), int(value.get("line", 1))
    if after.rows:
        raise TerminalError(
            f"cannot resume a JSON Lines file from {after.to_json()}: the position has no byte"
            " offset (was it saved by another connector kind?)"
        )
    return 0, 0, 1


def _reject(stream: str, line: int, problem: LineProblem, raw: str) -> Reject:
    return Reject(
        row=line,
        position=f"{stream}:{line}",
        column=None,
        raw_value=raw,
        rule="malformed_record",
        message=f"line {line}: {problem}",
    )


def _batch(
    stream: str,
    number: int,
    names: list[str],
    types: list[pa.DataType],
    rows: list[tuple[Any, ...]],
    positions: list[str],
    rejects: list[Reject],
    start: Position,
    end: Position,
) -> Batch:
    columns = list(zip(*rows, strict=True)) if rows else [()] * len(names)
    arrays = [pa.array(col, t) for col, t in zip(columns, types, strict=True)]
    arrays.append(pa.array(positions, pa.string()))
    data = pa.Table.from_arrays(arrays, names=[*names, ROW_POSITION])
    return Batch(stream, number, data, start, end, tuple(rejects))
