"""dBase / FoxPro / Visual FoxPro tables as a source, read record by record.

Records have a fixed length, so a resumed read seeks straight to the record after the
last one committed. Deleted records (flag '*') are not rows of the table: they are
skipped, counted in `deleted` and logged per read, and take no part in the accounting
(rows read = rows + rejects). A record with a field that cannot be read (a bad date, text
that is not in the code page, a memo pointer past the memo file) becomes one
`malformed_record` reject with its record number and its raw bytes.

Written here rather than with dbfread: dbfread turns N fields into floats (12.30 becomes
12.3 and long numbers lose digits), cannot start at a record, has no Varchar/_NullFlags
support and raises on the first bad value; the format is small enough to read exactly.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import pyarrow as pa

from ferryman.connectors.base import ROW_POSITION, Batch, Position, Reject
from ferryman.connectors.dbf.header import (
    LANGUAGE_DRIVERS,
    UNSUPPORTED_DRIVERS,
    FieldDef,
    Header,
    read_header,
)
from ferryman.connectors.dbf.memo import MemoFile, find_memo
from ferryman.connectors.dbf.options import DbfOptions
from ferryman.connectors.dbf.values import FieldProblem, Reader, arrow_type, make_reader, varchar
from ferryman.connectors.errors import TerminalError
from ferryman.connectors.folder import FolderSource

log = logging.getLogger(__name__)
_Problem = tuple[str | None, str]
"""(column at fault or None for the whole record, what is wrong)."""
_BUFFER = 1 << 20
# A header that names no code page: read as ASCII, and say so when a byte is not.
_NO_CODE_PAGE = "ascii"


@dataclass
class _Table:
    header: Header
    codec: str
    fields: list[FieldDef]
    names: list[str]
    types: list[pa.DataType]
    readers: list[Reader]
    memo: MemoFile | None


class DbfSource(FolderSource):
    """Each .dbf file in the connection's folder is a stream, named by its file name."""

    kind = "dbf"

    def __init__(self, name: str, options: DbfOptions) -> None:
        self.name = name
        self.options = options
        self.root = Path(options.path)
        self.deleted: dict[str, int] = {}
        """Deleted records skipped by the last read of each stream."""

    def describe(self, stream: str) -> str:
        return f"{stream} in {self.name} ({self.root})"

    def columns(self, stream: str) -> list[str]:
        path = self._path(stream)
        with path.open("rb") as fh:
            header = read_header(fh, path.stat().st_size, self.describe(stream))
        return _names(header.columns(), self._codec(header, self.describe(stream)))

    def _table(self, path: Path, fh: BinaryIO, stream: str) -> _Table:
        where = self.describe(stream)
        header = read_header(fh, path.stat().st_size, where)
        codec = self._codec(header, where)
        fields = header.columns()
        memo = None
        if any(f.type in "MGPW" or (f.type == "B" and not header.visual_foxpro) for f in fields):
            memo = find_memo(path, header.version, where, self.options.missing_memo == "fail")
        try:
            readers = [make_reader(f, header, codec, memo) for f in fields]
        except FieldProblem as err:
            raise TerminalError(f"{where}: {err}") from None
        names = _names(fields, codec)
        types = [arrow_type(f, header) for f in fields]
        return _Table(header, codec, fields, names, types, readers, memo)

    def _codec(self, header: Header, where: str) -> str:
        if self.options.encoding:
            return self.options.encoding
        driver = header.language_driver
        if driver in UNSUPPORTED_DRIVERS:
            raise TerminalError(
                f"{where}: the header names code page {UNSUPPORTED_DRIVERS[driver]}, which"
                " Python has no codec for; set `encoding:` to the nearest one (e.g. cp852)"
            )
        return LANGUAGE_DRIVERS.get(driver, _NO_CODE_PAGE)

    def read_batches(
        self, stream: str, batch_size: int, after: Position | None = None
    ) -> Iterator[Batch]:
        path = self._path(stream)
        self.deleted[stream] = 0
        with path.open("rb", buffering=_BUFFER) as fh:
            table = self._table(path, fh, stream)
            try:
                yield from self._read(stream, fh, table, batch_size, after)
            finally:
                if table.memo is not None:
                    table.memo.close()
        if self.deleted[stream]:
            log.warning(
                "%s: skipped %d deleted record(s): they are not rows of the table",
                self.describe(stream),
                self.deleted[stream],
            )

    def _read(
        self, stream: str, fh: BinaryIO, table: _Table, batch_size: int, after: Position | None
    ) -> Iterator[Batch]:
        h = table.header
        done = after.rows if after else 0
        index = _start(fh, h, after)
        start = Position(done, index)
        rows: list[tuple[object, ...]] = []
        positions: list[str] = []
        rejects: list[Reject] = []
        number = 0
        fh.seek(h.header_length + index * h.record_length)
        while index < h.records:
            record = fh.read(h.record_length)
            index += 1
            if not record or record[:1] == b"\x1a":
                log.warning("%s: the header promises %d records, the file ends before record %d",
                            self.describe(stream), h.records, index)  # fmt: skip
                break
            if record[:1] == b"*":
                self.deleted[stream] += 1
                continue
            row, problems = _decode(table, record)
            if not problems:
                rows.append(row)
                positions.append(f"{stream}:{index}")
            else:
                rejects.append(_reject(stream, index, record, problems))
            if len(rows) + len(rejects) >= batch_size:
                end = Position(start.rows + len(rows) + len(rejects), index)
                yield _batch(stream, number, table, rows, positions, rejects, start, end)
                number, start, rows, positions, rejects = number + 1, end, [], [], []
        if rows or rejects:
            end = Position(start.rows + len(rows) + len(rejects), index)
            yield _batch(stream, number, table, rows, positions, rejects, start, end)


def _start(fh: BinaryIO, h: Header, after: Position | None) -> int:
    """The physical index of the first record to read."""
    if after is None:
        return 0
    if isinstance(after.value, int):
        return after.value
    index = seen = 0  # a position saved without its index: count live records
    while seen < after.rows and index < h.records:
        fh.seek(h.header_length + index * h.record_length)
        if fh.read(1) != b"*":
            seen += 1
        index += 1
    return index


def _decode(table: _Table, record: bytes) -> tuple[tuple[object, ...], list[_Problem]]:
    """The record's values, and what is wrong with it (nothing: a row)."""
    if len(record) < table.header.record_length:
        return (), [(None, f"the file ends {len(record)} bytes into this record")]
    flags = 0
    nulls = table.header.null_flags
    if nulls is not None:
        flags = int.from_bytes(record[nulls.offset : nulls.offset + nulls.length], "little")
    values: list[object] = []
    problems: list[_Problem] = []
    for f, name, read in zip(table.fields, table.names, table.readers, strict=True):
        if f.null_bit is not None and flags >> f.null_bit & 1:
            values.append(None)
            continue
        raw = record[f.offset : f.offset + f.length]
        if f.type in "VQ":
            raw = varchar(raw, f, flags)
        try:
            values.append(read(raw))
        except (FieldProblem, ValueError) as err:
            problems.append((name, f"{name} ({f.type}{f.length}): {err}"))
            values.append(None)
    return tuple(values), problems


def _reject(stream: str, index: int, record: bytes, problems: list[_Problem]) -> Reject:
    return Reject(
        row=index,
        position=f"{stream}:{index}",
        column=problems[0][0],
        raw_value=repr(record),
        rule="malformed_record",
        message=f"record {index} cannot be read: " + "; ".join(m for _, m in problems),
    )


def _batch(
    stream: str,
    number: int,
    table: _Table,
    rows: list[tuple[object, ...]],
    positions: list[str],
    rejects: list[Reject],
    start: Position,
    end: Position,
) -> Batch:
    columns = list(zip(*rows, strict=True)) if rows else [()] * len(table.names)
    arrays = [pa.array(col, t) for col, t in zip(columns, table.types, strict=True)]
    arrays.append(pa.array(positions, pa.string()))
    data = pa.Table.from_arrays(arrays, names=[*table.names, ROW_POSITION])
    return Batch(stream, number, data, start, end, tuple(rejects))


def _names(fields: list[FieldDef], codec: str) -> list[str]:
    """Field names in the table's code page (they were read as latin-1, losslessly)."""
    return _unique([f.name.encode("latin-1").decode(codec, "replace") for f in fields])


def _unique(names: list[str]) -> list[str]:
    """DBF allows two fields of one name (dbase_03 has two Point_ID): the later get _2, _3."""
    seen: dict[str, int] = {}
    out = []
    for name in names:
        seen[name] = seen.get(name, 0) + 1
        out.append(name if seen[name] == 1 else f"{name}_{seen[name]}")
    return out
