"""Stream a delimited file with pyarrow's incremental reader, every value kept as text.

Values are never converted here (a '0012' stays '0012'; the mapping decides). A record
with the wrong number of fields is not dropped: it becomes a `malformed_record` reject
with its record number and raw text, and the rest of the file still loads.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.csv as pacsv

from connectors.base import ROW_POSITION, Batch, Position, Reject, Source
from connectors.csv.options import CsvOptions
from connectors.errors import TerminalError

_BLOCK_SIZE = 4 << 20


class CsvSource(Source):
    """Each file in the connection's folder is a stream, named by its file name."""

    kind = "csv"

    def __init__(self, name: str, options: CsvOptions) -> None:
        self.name = name
        self.options = options
        self.root = Path(options.path)

    def _path(self, stream: str) -> Path:
        path = self.root / stream
        if not path.is_file():
            raise TerminalError(
                f"connection {self.name!r}: file {stream!r} not found in {self.root};"
                " check `file:` in the spec and `path:` in ferryman.yaml"
            )
        return path

    def describe(self, stream: str) -> str:
        return f"{stream} in {self.name} ({self.root}, {self.options.encoding})"

    def columns(self, stream: str) -> list[str]:
        if self.options.columns is not None:
            return list(self.options.columns)
        reader = self._open(self._path(stream), [])
        names = list(reader.schema.names)
        reader.close()
        return names

    def _open(self, path: Path, bad: list[Any]) -> pacsv.CSVStreamingReader:
        o = self.options

        def on_invalid(row: Any) -> str:
            bad.append(row)
            return "skip"

        names = o.columns
        read = pacsv.ReadOptions(
            use_threads=False,
            block_size=_BLOCK_SIZE,
            encoding=o.encoding,
            column_names=names,
            autogenerate_column_names=False,
        )
        parse = pacsv.ParseOptions(
            delimiter=o.delimiter,
            quote_char=o.quote if o.quote else False,
            newlines_in_values=o.newlines_in_values,
            invalid_row_handler=on_invalid,
        )
        try:
            header = names or _header(path, o)
            convert = pacsv.ConvertOptions(
                column_types=dict.fromkeys(header, pa.string()),
                strings_can_be_null=False,
                quoted_strings_can_be_null=False,
            )
            return pacsv.open_csv(
                path, read_options=read, parse_options=parse, convert_options=convert
            )
        except (pa.ArrowInvalid, UnicodeDecodeError) as err:
            raise TerminalError(f"{self.describe(path.name)}: cannot read: {err}") from err

    def read_batches(
        self, stream: str, batch_size: int, after: Position | None = None
    ) -> Iterator[Batch]:
        path = self._path(stream)
        skip = after.rows if after else 0
        bad: list[Any] = []
        reader = self._open(path, bad)
        first_record = 1 if self.options.columns is not None else 2
        state = _Numbering(next_record=first_record)
        pending: list[pa.RecordBatch] = []
        pending_rows = 0
        consumed = 0  # records (good + bad) accounted so far, including skipped ones
        number = 0
        try:
            for rb in reader:
                pending.append(rb)
                pending_rows += rb.num_rows
                while pending_rows >= batch_size:
                    chunk, pending, pending_rows = _take(pending, batch_size)
                    batch, consumed = self._batch(stream, chunk, bad, state, consumed, skip, number)
                    if batch is not None:
                        yield batch
                        number += 1
        except (pa.ArrowInvalid, UnicodeDecodeError) as err:
            raise TerminalError(f"{self.describe(stream)}: cannot read: {err}") from err
        chunk = pa.Table.from_batches(pending, schema=reader.schema)
        batch, consumed = self._batch(stream, chunk, bad, state, consumed, skip, number, final=True)
        if batch is not None:
            yield batch

    def _batch(
        self,
        stream: str,
        chunk: pa.Table,
        bad: list[Any],
        state: _Numbering,
        consumed: int,
        skip: int,
        number: int,
        final: bool = False,
    ) -> tuple[Batch | None, int]:
        records = state.number(chunk.num_rows, bad, final)
        rejects = []
        positions: list[str] = []
        keep: list[int] = []
        start = consumed
        for rec in records:
            consumed += 1
            if consumed <= skip:
                continue
            if rec.bad is not None:
                rejects.append(_malformed(stream, rec.record, rec.bad))
            else:
                keep.append(rec.index)
                positions.append(f"{stream}:{rec.record}")
        if not keep and not rejects:
            return None, consumed
        data = chunk.take(pa.array(keep, pa.int64())) if len(keep) != chunk.num_rows else chunk
        data = data.append_column(ROW_POSITION, pa.array(positions, pa.string()))
        begin = Position(rows=max(start, skip))
        return Batch(stream, number, data, begin, Position(rows=consumed), tuple(rejects)), consumed


class _Record:
    __slots__ = ("bad", "index", "record")

    def __init__(self, record: int, index: int, bad: Any) -> None:
        self.record, self.index, self.bad = record, index, bad


class _Numbering:
    """Gives good rows their record numbers, interleaving the bad records the parser
    reported (pyarrow numbers records from 1, header included, and skips bad ones; it
    reports them in order, before the rows that follow them are yielded)."""

    def __init__(self, next_record: int) -> None:
        self.next_record = next_record
        self.bad_seen = 0

    def number(self, good_rows: int, bad: list[Any], final: bool) -> list[_Record]:
        out: list[_Record] = []
        for i in range(good_rows):
            while self.bad_seen < len(bad) and bad[self.bad_seen].number == self.next_record:
                out.append(_Record(self.next_record, -1, bad[self.bad_seen]))
                self.bad_seen += 1
                self.next_record += 1
            out.append(_Record(self.next_record, i, None))
            self.next_record += 1
        if final:
            while self.bad_seen < len(bad):
                out.append(_Record(bad[self.bad_seen].number, -1, bad[self.bad_seen]))
                self.bad_seen += 1
        return out


def _malformed(stream: str, record: int, row: Any) -> Reject:
    return Reject(
        row=record,
        position=f"{stream}:{record}",
        column=None,
        raw_value=str(row.text),
        rule="malformed_record",
        message=f"record has {row.actual_columns} fields, the header has {row.expected_columns}",
    )


def _take(pending: list[pa.RecordBatch], n: int) -> tuple[pa.Table, list[pa.RecordBatch], int]:
    table = pa.Table.from_batches(pending)
    head, tail = table.slice(0, n), table.slice(n)
    rest = tail.to_batches()
    return head, rest, tail.num_rows


def _header(path: Path, o: CsvOptions) -> list[str]:
    reader = pacsv.open_csv(
        path,
        read_options=pacsv.ReadOptions(use_threads=False, encoding=o.encoding, block_size=1 << 16),
        parse_options=pacsv.ParseOptions(
            delimiter=o.delimiter,
            quote_char=o.quote if o.quote else False,
            newlines_in_values=o.newlines_in_values,
            invalid_row_handler=lambda _row: "skip",
        ),
    )
    names = list(reader.schema.names)
    reader.close()
    return names
