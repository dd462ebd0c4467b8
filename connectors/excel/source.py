"""Excel sheets as a source: typed cells, a header row, one schema for the whole sheet.

The sheet is walked once to learn how wide it is and which type each column's cells add
up to (so every batch has the same schema), then read in batches. A stream is
`Book.xlsx` (the connection's `sheet`, or the first) or `Book.xlsx#Orders`. Row
positions are the row numbers Excel shows (`Book.xlsx#Orders:5`). Empty rows are not
records; a row with an error cell (#N/A, #DIV/0!, ...) is quarantined whole.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
from openpyxl.utils import get_column_letter

from ferryman.connectors.base import ROW_POSITION, Batch, Position, Reject, Source
from ferryman.connectors.errors import TerminalError
from ferryman.connectors.excel.cells import ARROW, Cell, cell_value, kind_of, merge
from ferryman.connectors.excel.options import ExcelOptions
from ferryman.connectors.excel.sheets import Sheet, open_sheet


@dataclass
class _Shape:
    names: list[str]
    kinds: list[str | None]

    def types(self) -> list[pa.DataType]:
        return [ARROW[k or "str"] for k in self.kinds]


class ExcelSource(Source):
    """Each workbook (or workbook#sheet) in the connection's folder is a stream."""

    kind = "excel"

    def __init__(self, name: str, options: ExcelOptions) -> None:
        self.name = name
        self.options = options
        self.root = Path(options.path)
        self._shapes: dict[str, tuple[tuple[int, int], _Shape]] = {}

    def describe(self, stream: str) -> str:
        return f"{stream} in {self.name} ({self.root})"

    def _open(self, stream: str) -> tuple[Path, Sheet]:
        file, _, sheet = stream.partition("#")
        path = self.root / file
        if not path.is_file():
            raise TerminalError(
                f"connection {self.name!r}: file {file!r} not found in {self.root};"
                " check `file:` in the spec and `path:` in ferryman.yaml"
            )
        return path, open_sheet(path, sheet or self.options.sheet, self.describe(stream))

    def columns(self, stream: str) -> list[str]:
        return list(self._shape(stream).names)

    def _shape(self, stream: str) -> _Shape:
        path, sheet = self._open(stream)
        stat = path.stat()
        key = (stat.st_size, stat.st_mtime_ns)
        cached = self._shapes.get(stream)
        if cached is not None and cached[0] == key:
            sheet.close()
            return cached[1]
        header: list[Cell] = []
        kinds: list[str | None] = []
        try:
            for number, cells in sheet.rows(max(self.options.header_row, 1)):
                if number == self.options.header_row:
                    header = cells
                    continue
                kinds += [None] * (len(cells) - len(kinds))
                for i, c in enumerate(cells):
                    kinds[i] = merge(kinds[i], kind_of(c.value))
        finally:
            sheet.close()
        width = max(_width(header), _used_width(kinds))
        shape = _Shape(self._names(header, width), (kinds + [None] * width)[:width])
        self._shapes[stream] = (key, shape)
        return shape

    def _names(self, header: list[Cell], width: int) -> list[str]:
        given = self.options.columns or []
        names = []
        for i in range(width):
            if i < len(given):
                names.append(given[i])
                continue
            value = header[i].value if i < len(header) else None
            text = cell_value(value, "text") if value is not None else ""
            names.append(str(text).strip() or get_column_letter(i + 1))
        return _unique(names)

    def read_batches(
        self, stream: str, batch_size: int, after: Position | None = None
    ) -> Iterator[Batch]:
        shape = self._shape(stream)
        first = self.options.header_row + 1
        if after is not None and isinstance(after.value, int):
            first = after.value
        done = after.rows if after else 0
        _, sheet = self._open(stream)
        try:
            yield from self._batches(stream, sheet, shape, first, done, batch_size)
        finally:
            sheet.close()

    def _batches(
        self, stream: str, sheet: Sheet, shape: _Shape, first: int, done: int, batch_size: int
    ) -> Iterator[Batch]:
        width = len(shape.names)
        rows: list[list[Any]] = []
        positions: list[str] = []
        rejects: list[Reject] = []
        start = end = Position(done, first)
        number = 0
        for row_no, cells in sheet.rows(first):
            if all(c.value is None and c.error is None for c in cells):
                continue
            end = Position(end.rows + 1, row_no + 1)
            errors = [(i, c.error) for i, c in enumerate(cells) if c.error is not None]
            if errors:
                rejects.append(_reject(stream, row_no, cells, errors, shape.names))
            else:
                values = [c.value for c in cells[:width]] + [None] * (width - len(cells))
                rows.append([cell_value(v, k) for v, k in zip(values, shape.kinds, strict=True)])
                positions.append(f"{stream}:{row_no}")
            if len(rows) + len(rejects) >= batch_size:
                yield _batch(stream, number, shape, rows, positions, rejects, start, end)
                number, start, rows, positions, rejects = number + 1, end, [], [], []
        if rows or rejects:
            yield _batch(stream, number, shape, rows, positions, rejects, start, end)


def _width(cells: list[Cell]) -> int:
    used = [i for i, c in enumerate(cells) if c.value is not None]
    return used[-1] + 1 if used else 0


def _used_width(kinds: list[str | None]) -> int:
    used = [i for i, k in enumerate(kinds) if k is not None]
    return used[-1] + 1 if used else 0


def _reject(
    stream: str,
    row: int,
    cells: list[Cell],
    errors: Sequence[tuple[int, str | None]],
    names: list[str],
) -> Reject:
    where = ", ".join(f"{get_column_letter(i + 1)}{row} holds {e}" for i, e in errors)
    first = errors[0][0]
    return Reject(
        row=row,
        position=f"{stream}:{row}",
        column=names[first] if first < len(names) else None,
        raw_value=repr([c.error or c.value for c in cells]),
        rule="malformed_record",
        message=f"row {row}: an error cell is no value: {where}",
    )


def _batch(
    stream: str,
    number: int,
    shape: _Shape,
    rows: list[list[Any]],
    positions: list[str],
    rejects: list[Reject],
    start: Position,
    end: Position,
) -> Batch:
    columns = list(zip(*rows, strict=True)) if rows else [()] * len(shape.names)
    arrays = [pa.array(col, t) for col, t in zip(columns, shape.types(), strict=True)]
    arrays.append(pa.array(positions, pa.string()))
    data = pa.Table.from_arrays(arrays, names=[*shape.names, ROW_POSITION])
    return Batch(stream, number, data, start, end, tuple(rejects))


def _unique(names: list[str]) -> list[str]:
    seen: dict[str, int] = {}
    out = []
    for name in names:
        seen[name] = seen.get(name, 0) + 1
        out.append(name if seen[name] == 1 else f"{name}_{seen[name]}")
    return out
