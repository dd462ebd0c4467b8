"""Stream a delimited file as batches of text values, quarantining what cannot be read.

Values are never converted here (a '0012' stays '0012'; the mapping decides). A record
that cannot become a row (wrong number of fields, undecodable bytes, a NUL byte, an
unterminated quote) is not dropped: it becomes a `malformed_record` reject with its record
number, line and raw text (raw bytes for undecodable ones), and the rest of the file
still loads. Memory is bounded by the batch size: the file is decoded and parsed in a
stream, never read whole.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa

from connectors.base import ROW_POSITION, Batch, Position, Reject, Source
from connectors.csv.options import AUTO, CsvDialect, CsvOptions
from connectors.csv.parser import Record, records
from connectors.encoding import (
    Detection,
    concrete_codec,
    detect_encoding,
    raw_bytes,
    undecodable_summary,
)
from connectors.errors import TerminalError

log = logging.getLogger("ferryman.connectors.csv")


class CsvSource(Source):
    """Each file in the connection's folder is a stream, named by its file name."""

    kind = "csv"

    def __init__(self, name: str, options: CsvOptions) -> None:
        self.name = name
        self.options = options
        self.root = Path(options.path)
        self.detected: dict[str, Detection] = {}
        """Encodings found by `encoding: auto`, per stream (also logged)."""

    def _path(self, stream: str) -> Path:
        path = self.root / stream
        if not path.is_file():
            raise TerminalError(
                f"connection {self.name!r}: file {stream!r} not found in {self.root};"
                " check `file:` in the spec and `path:` in ferryman.yaml"
            )
        return path

    def dialect(self, stream: str) -> CsvDialect:
        """The dialect of `stream` with its encoding decided (detected when `auto`)."""
        d = self.options.dialect_for(stream)
        if d.encoding != AUTO:
            return d
        if stream not in self.detected:
            path = self._path(stream)
            try:
                found = detect_encoding(path)
            except ValueError as err:
                raise TerminalError(
                    f"connection {self.name!r}: {err}; set `encoding:` for this file"
                ) from err
            self.detected[stream] = found
            log.info("%s: encoding detected as %s", self.describe(stream), found.describe())
        return d.model_copy(update={"encoding": self.detected[stream].encoding})

    def describe(self, stream: str) -> str:
        d = self.options.dialect_for(stream)
        enc = d.encoding
        if stream in self.detected:
            enc = f"auto: {self.detected[stream].describe()}"
        return f"{stream} in {self.name} ({self.root}, {enc})"

    def columns(self, stream: str) -> list[str]:
        d = self.dialect(stream)
        if not d.header and d.columns is not None:
            return list(d.columns)
        recs = records(self._path(stream), d, d.encoding)
        names = self._header(stream, d, recs)
        if names is None:
            raise TerminalError(
                f"{self.describe(stream)}: the file is empty, there is no header line to take"
                " the column names from; list them under `columns:` with `header: false`"
            )
        return names

    def _header(self, stream: str, d: CsvDialect, recs: Iterator[Record]) -> list[str] | None:
        """Consume the header record (when there is one) and return the column names;
        None for an empty file."""
        if not d.header:
            return list(d.columns or [])
        first = next(recs, None)
        if first is None:
            return None
        where = f"{self.describe(stream)}, header on line {first.line}"
        if first.problem is not None:
            raise TerminalError(f"{where}: {first.problem}: {first.raw(d.line_terminator)!r}")
        names = [n.lstrip("\ufeff") for n in first.fields]
        if d.columns is not None:
            if len(d.columns) != len(names):
                raise TerminalError(
                    f"{where}: `columns:` lists {len(d.columns)} names, the header has"
                    f" {len(names)} fields; list one name per field"
                )
            return list(d.columns)
        bad = sorted({n for n in names if names.count(n) > 1 or not n.strip()})
        if bad:
            raise TerminalError(
                f"{where}: column names empty or repeated: {bad}; name the columns under"
                " `columns:` (they replace the header's names)"
                + ("; or set `trailing_delimiter: true`" if names[-1] == "" else "")
            )
        return names

    def read_batches(
        self, stream: str, batch_size: int, after: Position | None = None
    ) -> Iterator[Batch]:
        if batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, got {batch_size}")
        d = self.dialect(stream)
        path = self._path(stream)
        recs = records(path, d, d.encoding)
        names = self._header(stream, d, recs)
        if names is None:
            return
        builder = _Builder(stream, names, d, concrete_codec(path, d.encoding))
        skip = after.rows if after else 0
        consumed = 0
        number = 0
        for rec in recs:
            consumed += 1
            if consumed <= skip:
                continue
            builder.add(rec)
            if builder.size >= batch_size:
                yield builder.flush(number, consumed)
                number += 1
        if builder.size:
            yield builder.flush(number, consumed)


class _Builder:
    """Collects one batch's rows and rejects."""

    def __init__(self, stream: str, names: list[str], d: CsvDialect, codec: str) -> None:
        self.stream = stream
        self.names = names
        self.width = len(names)
        self.d = d
        self.codec = codec
        self.rows: list[list[str]] = []
        self.positions: list[str] = []
        self.rejects: list[Reject] = []

    @property
    def size(self) -> int:
        return len(self.rows) + len(self.rejects)

    def add(self, rec: Record) -> None:
        if rec.problem is None and len(rec.fields) == self.width:
            self.rows.append(rec.fields)
            self.positions.append(f"{self.stream}:{rec.number}")
        else:
            self.rejects.append(self._reject(rec))

    def _reject(self, rec: Record) -> Reject:
        raw = rec.raw(self.d.line_terminator)
        where = f"record {rec.number} (line {rec.line})"
        if rec.problem == "undecodable bytes":
            message = (
                f"{where}: bytes that are not valid {self.d.encoding}:"
                f" {undecodable_summary(raw)}; raw_value holds the record's bytes. Fix the"
                " file, or set the right `encoding:` (or `encoding: auto` to detect it)"
            )
            value = repr(raw_bytes(raw, self.codec))
        elif rec.problem is not None:
            message, value = f"{where}: {rec.problem}", raw
        else:
            message, value = f"{where}: {_ragged(len(rec.fields), self.width, self.d)}", raw
        return Reject(
            rec.number, f"{self.stream}:{rec.number}", None, value, "malformed_record", message
        )

    def flush(self, number: int, consumed: int) -> Batch:
        cols = list(zip(*self.rows, strict=True)) if self.rows else [()] * self.width
        arrays = [pa.array(c, pa.string()) for c in cols]
        arrays.append(pa.array(self.positions, pa.string()))
        data = pa.Table.from_arrays(arrays, names=[*self.names, ROW_POSITION])
        start = Position(rows=consumed - self.size)
        batch = Batch(
            self.stream, number, data, start, Position(rows=consumed), tuple(self.rejects)
        )
        self.rows, self.positions, self.rejects = [], [], []
        return batch


def _ragged(got: int, want: int, d: CsvDialect) -> str:
    message = f"record has {got} fields, the header has {want}"
    if got == want + 1 and not d.trailing_delimiter:
        message += " (if every record ends with a delimiter, set `trailing_delimiter: true`)"
    return message
