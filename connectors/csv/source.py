"""Stream a delimited file as batches of text values, quarantining what cannot be read.

Values are never converted here (a '0012' stays '0012'; the mapping decides). A record
that cannot become a row (wrong number of fields, undecodable bytes, a NUL byte, an
unterminated quote) is not dropped: it becomes a `malformed_record` reject with its record
number, line and raw text (raw bytes for undecodable ones), and the rest of the file
still loads. Memory is bounded by the batch size: the file is decoded and parsed in a
stream, never read whole.

Two engines give exactly the same batches: the Python parser (`parser.py`, any dialect,
any bad byte) and, where the dialect allows, pyarrow's streaming reader (`arrow.py`, about
20 times faster), which hands over to the Python parser mid-file when the data holds
something it cannot read exactly (the rule and the cases are in `arrow.py`).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Literal

from ferryman.connectors.base import Batch, Position, Reject
from ferryman.connectors.csv.arrow import ArrowRead, Layout, after_lines, refusal
from ferryman.connectors.csv.options import CsvDialect, CsvOptions
from ferryman.connectors.csv.parser import Record, ragged, records
from ferryman.connectors.encoding import (
    AUTO,
    Detection,
    concrete_codec,
    decoded_chunks,
    detect_encoding,
    raw_bytes,
    undecodable_summary,
)
from ferryman.connectors.errors import TerminalError
from ferryman.connectors.folder import FolderSource, TextRows

log = logging.getLogger("ferryman.connectors.csv")


class CsvSource(FolderSource):
    """Each file in the connection's folder is a stream, named by its file name."""

    kind = "csv"

    def __init__(
        self,
        name: str,
        options: CsvOptions,
        _engine: Literal["auto", "arrow", "python"] = "auto",
    ) -> None:
        """`_engine` is for tests: `python` forces the Python parser; `arrow` fails when
        the dialect is not one the fast path reads (mid-file hand-overs still happen)."""
        self.name = name
        self.options = options
        self.root = Path(options.path)
        self._engine = _engine
        self.detected: dict[str, Detection] = {}
        """Encodings found by `encoding: auto`, per stream (also logged)."""
        self.engines: dict[str, str] = {}
        """How the last read of each stream was parsed: `arrow`, `python (why)` or
        `arrow, then python after record N (why)`."""

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
        found = self._header_record(stream, d, recs)
        return None if found is None else found[0]

    def _header_record(
        self, stream: str, d: CsvDialect, recs: Iterator[Record]
    ) -> tuple[list[str], Record | None] | None:
        """The column names and the header record (None without a header)."""
        if not d.header:
            return list(d.columns or []), None
        first = next(recs, None)
        if first is None:
            return None
        return self._names(stream, d, first), first

    def _names(self, stream: str, d: CsvDialect, first: Record) -> list[str]:
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
        found = self._header_record(stream, d, recs)
        if found is None:
            return
        names, header = found
        skip, number = (after.rows if after else 0), 0
        why = "forced" if self._engine == "python" else refusal(d)
        if why is None:
            fast = ArrowRead(
                _layout(stream, names, d, header),
                d,
                after_lines(decoded_chunks(path, d.encoding), _lines_before_data(d, header)),
                skip,
                batch_size,
            )
            yield from fast.batches()
            if fast.fallback is None:
                self.engines[stream] = "arrow"
                return
            skip, number, why = fast.rows, fast.number, fast.fallback
            self.engines[stream] = f"arrow, then python after record {skip} ({why})"
            log.info("%s: the Python parser takes over after record %d: %s",
                     self.describe(stream), skip, why)  # fmt: skip
        elif self._engine == "arrow":
            raise ValueError(f"{self.describe(stream)}: the arrow engine cannot read {why}")
        else:
            self.engines[stream] = f"python ({why})"
        builder = _Builder(stream, names, d, concrete_codec(path, d.encoding))
        yield from _python_batches(recs, builder, batch_size, skip, number)


def _lines_before_data(d: CsvDialect, header: Record | None) -> int:
    return d.skip_lines if header is None else header.line + len(header.lines) - 1


def _layout(stream: str, names: list[str], d: CsvDialect, header: Record | None) -> Layout:
    base = d.skip_lines if header is None else header.number
    return Layout(stream, names, base, _lines_before_data(d, header) + 1)


def _python_batches(
    recs: Iterator[Record], builder: _Builder, batch_size: int, skip: int, number: int
) -> Iterator[Batch]:
    """The Python parser's batches after the first `skip` records, numbered from
    `number`."""
    consumed = 0
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


class _Builder(TextRows):
    """Collects one batch's rows and rejects."""

    def __init__(self, stream: str, names: list[str], d: CsvDialect, codec: str) -> None:
        super().__init__(stream, names)
        self.width = len(names)
        self.d = d
        self.codec = codec

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
            message, value = f"{where}: {ragged(len(rec.fields), self.width, self.d)}", raw
        return Reject(
            rec.number, f"{self.stream}:{rec.number}", None, value, "malformed_record", message
        )
