"""Mainframe record files (EBCDIC, described by a COBOL copybook) as a source.

Every value is text: PIC X decoded with the code page, numbers (zoned, packed, binary) as
exact decimal text. A record with an item that cannot be decoded (a bad packed nibble, a
letter in a zoned number, a truncated last record) becomes one `malformed_record` reject
with its record number and its bytes in hex; the rest of the file still loads.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa

from ferryman.connectors.base import ROW_POSITION, Batch, Position, Reject
from ferryman.connectors.encoding import ensure_codecs
from ferryman.connectors.errors import TerminalError
from ferryman.connectors.folder import FolderSource
from ferryman.connectors.mainframe.copybook import CopybookError, parse_copybook
from ferryman.connectors.mainframe.framing import Frame, frames, skip_records
from ferryman.connectors.mainframe.layout import build_layout
from ferryman.connectors.mainframe.options import EbcdicOptions
from ferryman.connectors.mainframe.record import Problem, RecordDecoder

_BUFFER = 1 << 20


class EbcdicSource(FolderSource):
    """Each file in the connection's folder is a stream, named by its file name."""

    kind = "ebcdic"

    def __init__(self, name: str, options: EbcdicOptions) -> None:
        ensure_codecs()
        self.name = name
        self.options = options
        self.root = Path(options.path)
        self._decoders: dict[str, RecordDecoder] = {}

    def describe(self, stream: str) -> str:
        return f"{stream} in {self.name} ({self.root}, {self.options.code_page})"

    def decoder(self, stream: str) -> RecordDecoder:
        """The stream's copybook, parsed once and laid out."""
        book = self.options.copybooks.get(stream, self.options.copybook)
        if book is None:
            raise TerminalError(
                f"connection {self.name!r}: no copybook for {stream!r}; add it under"
                " `copybooks:` or set `copybook:`"
            )
        if book not in self._decoders:
            path = self._copybook(book)
            text = path.read_text(encoding="utf-8", errors="replace")
            try:
                root = parse_copybook(text, free_format=self.options.copybook_format == "free")
                layout = build_layout(root)
            except CopybookError as err:
                raise CopybookError(f"{path}: {err}") from None
            self._decoders[book] = RecordDecoder(layout, self.options, f"{self.name} ({book})")
        return self._decoders[book]

    def _copybook(self, book: str) -> Path:
        """The copybook as named (a project makes it absolute, relative to its folder),
        else by that name in the data folder."""
        places = [self.root / book, self.root / Path(book).name]
        for place in places:
            if place.is_file():
                return place
        raise TerminalError(
            f"connection {self.name!r}: copybook {book!r} not found; looked for"
            f" {' and '.join(str(p) for p in dict.fromkeys(places))}"
        )

    def columns(self, stream: str) -> list[str]:
        self._path(stream)
        return self.decoder(stream).layout.columns()

    def read_batches(
        self, stream: str, batch_size: int, after: Position | None = None
    ) -> Iterator[Batch]:
        decoder = self.decoder(stream)
        path = self._path(stream)
        o = self.options
        stop = max(path.stat().st_size - o.skip_trailer_bytes, o.skip_header_bytes)
        done = after.rows if after else 0
        with path.open("rb", buffering=_BUFFER) as fh:
            start = o.skip_header_bytes
            if after is not None and isinstance(after.value, int):
                start = after.value
            elif done:
                start = skip_records(fh, o, decoder.layout.size, start, done, stop)
            records = frames(fh, o, decoder.layout.size, start, done + 1, stop, stream)
            yield from self._batches(stream, decoder, records, batch_size, Position(done, start))

    def _batches(
        self,
        stream: str,
        decoder: RecordDecoder,
        records: Iterator[Frame],
        batch_size: int,
        start: Position,
    ) -> Iterator[Batch]:
        names = decoder.layout.columns()
        rows: list[list[str | None]] = []
        positions: list[str] = []
        rejects: list[Reject] = []
        number = 0
        end = start
        for frame in records:
            row, problems = decoder.decode(frame.data)
            if frame.problem is not None or problems:
                rejects.append(_reject(stream, frame, problems))
            else:
                rows.append(row)
                positions.append(f"{stream}:{frame.number}")
            end = Position(rows=frame.number, value=frame.end)
            if len(rows) + len(rejects) >= batch_size:
                yield _batch(stream, number, names, rows, positions, rejects, start, end)
                number, start = number + 1, end
                rows, positions, rejects = [], [], []
        if rows or rejects:
            yield _batch(stream, number, names, rows, positions, rejects, start, end)


def _batch(
    stream: str,
    number: int,
    names: list[str],
    rows: list[list[str | None]],
    positions: list[str],
    rejects: list[Reject],
    start: Position,
    end: Position,
) -> Batch:
    columns = list(zip(*rows, strict=True)) if rows else [()] * len(names)
    arrays = [pa.array(col, pa.string()) for col in columns]
    arrays.append(pa.array(positions, pa.string()))
    data = pa.Table.from_arrays(arrays, names=[*names, ROW_POSITION])
    return Batch(stream, number, data, start, end, tuple(rejects))


def _reject(stream: str, frame: Frame, problems: list[Problem]) -> Reject:
    reasons = [frame.problem] if frame.problem else []
    reasons += [p.describe() for p in problems]
    return Reject(
        row=frame.number,
        position=f"{stream}:{frame.number}",
        column=problems[0].field.column if problems and not frame.problem else None,
        raw_value=frame.data.hex().upper(),
        rule="malformed_record",
        message=f"record {frame.number} (byte {frame.offset}) cannot be decoded: "
        + "; ".join(reasons),
    )
