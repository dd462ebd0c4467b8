"""Stream a fixed-width file as batches of text values.

Each line is a record; each column is a slice of it, trimmed of its padding. Numeric
fields with an implied decimal point or a separate sign are rewritten as plain decimal
text (`0001250-` with 2 decimals -> `-12.50`), still text: the mapping casts. A record
that cannot be read (too short beyond the tolerance, data past the layout, undecodable
bytes, a numeric field that is not a number) is quarantined with its line number and raw
text; the rest of the file loads. Short lines (editors and exports trim trailing blanks)
are padded, not rejected.

Two engines give exactly the same batches: the Python reader below (line by line) and the
fast path (`arrow.py`, whole blocks with numpy/pyarrow, 20 to 30 times faster), which
hands each record it cannot read exactly to the Python reader's own per-record code (the
rule is in `arrow.py`).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Literal

from ferryman.connectors.base import Batch, Position, Reject
from ferryman.connectors.encoding import (
    AUTO,
    concrete_codec,
    decoded_chunks,
    detect_encoding,
    has_undecodable,
    raw_bytes,
    split_lines,
    undecodable_summary,
)
from ferryman.connectors.errors import TerminalError
from ferryman.connectors.fixed_width.arrow import FastRead
from ferryman.connectors.fixed_width.layout import Column, read_layout_file, resolve
from ferryman.connectors.fixed_width.options import FieldLayout, FixedWidthOptions
from ferryman.connectors.folder import FolderSource, TextRows

log = logging.getLogger("ferryman.connectors.fixed_width")


class _BadField(ValueError):
    def __init__(self, column: str, value: str, why: str) -> None:
        super().__init__(why)
        self.column, self.value = column, value


class FixedWidthSource(FolderSource):
    """Each file in the connection's folder is a stream, read with the connection's layout."""

    kind = "fixed_width"

    def __init__(
        self,
        name: str,
        options: FixedWidthOptions,
        _engine: Literal["auto", "python"] = "auto",
    ) -> None:
        """`_engine` is for tests: `python` forces the Python reader for every record."""
        self.name = name
        self.options = options
        self.root = Path(options.path)
        self._engine = _engine
        self._columns: list[Column] | None = None
        self._encodings: dict[str, str] = {}
        self.engines: dict[str, str] = {}
        """How the last read of each stream went: `arrow`, `arrow (N records by the Python
        reader)` or `python (forced)`."""

    @property
    def layout(self) -> list[Column]:
        """The resolved layout (a layout file is read on first use)."""
        if self._columns is None:
            o = self.options
            fields = o.layout
            if fields is None:
                fields = self._layout_file(self.root / str(o.layout_file))
            try:
                self._columns = resolve(fields, o.base, o.trim)
            except ValueError as err:
                raise TerminalError(f"connection {self.name!r}: bad layout: {err}") from err
        return self._columns

    def _layout_file(self, path: Path) -> list[FieldLayout]:
        if not path.is_file():
            raise TerminalError(
                f"connection {self.name!r}: layout file {path} not found; `layout_file` is"
                " relative to `path`"
            )
        try:
            return read_layout_file(path)
        except ValueError as err:
            raise TerminalError(f"connection {self.name!r}: bad layout file: {err}") from err

    @property
    def record_length(self) -> int:
        return self.options.record_length or max(c.hi for c in self.layout)

    def _encoding(self, stream: str, path: Path) -> str:
        if self.options.encoding != AUTO:
            return self.options.encoding
        if stream not in self._encodings:
            found = detect_encoding(path)
            log.info("%s: encoding detected as %s", self.describe(stream), found.describe())
            self._encodings[stream] = found.encoding
        return self._encodings[stream]

    def describe(self, stream: str) -> str:
        enc = self._encodings.get(stream, self.options.encoding)
        return f"{stream} in {self.name} ({self.root}, fixed width, {enc})"

    def columns(self, stream: str) -> list[str]:
        self._path(stream)
        return [c.name for c in self.layout]

    def read_batches(
        self, stream: str, batch_size: int, after: Position | None = None
    ) -> Iterator[Batch]:
        if batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, got {batch_size}")
        path = self._path(stream)
        encoding = self._encoding(stream, path)
        codec = concrete_codec(path, encoding)
        reader = _Records(self, stream, codec)
        skip = after.rows if after else 0
        if self._engine == "python":
            self.engines[stream] = "python (forced)"
            yield from self._python_batches(path, encoding, reader, batch_size, skip)
            return
        fast = FastRead(
            stream, self.layout, self.options, self.record_length, reader, skip, batch_size
        )
        yield from fast.batches(path, encoding, codec)
        n = fast.python_records
        self.engines[stream] = f"arrow ({n} records by the Python reader)" if n else "arrow"

    def _python_batches(
        self, path: Path, encoding: str, reader: _Records, batch_size: int, skip: int
    ) -> Iterator[Batch]:
        lines = split_lines(decoded_chunks(path, encoding), self.options.line_terminator)
        consumed = number = 0
        for line_no, line in enumerate(lines, start=1):
            if line_no <= self.options.skip_lines:
                continue
            body = _body(line, self.options.line_terminator)
            if self.options.skip_blank_lines and not body.strip():
                continue
            consumed += 1
            if consumed <= skip:
                continue
            reader.add(line_no, body)
            if reader.size >= batch_size:
                yield reader.flush(number, consumed)
                number += 1
        if reader.size:
            yield reader.flush(number, consumed)


def _body(line: str, terminator: str | None) -> str:
    if terminator is not None:
        return line.removesuffix(terminator)
    return line.rstrip("\r\n")


class _Records(TextRows):
    """Cuts lines into rows and rejects for one batch."""

    def __init__(self, src: FixedWidthSource, stream: str, codec: str) -> None:
        super().__init__(stream, [c.name for c in src.layout])
        self.codec = codec
        self.layout = src.layout
        self.length = src.record_length
        self.opts = src.options

    def add(self, line_no: int, body: str) -> None:
        got = self.record(line_no, body)
        if isinstance(got, Reject):
            self.rejects.append(got)
        else:
            self.rows.append(got)
            self.positions.append(f"{self.stream}:{line_no}")

    def record(self, line_no: int, body: str) -> list[str] | Reject:
        """One record's values, or why it is quarantined (both engines use this)."""
        where = f"{self.stream}:{line_no}"
        problem = self._length_problem(body)
        if problem is None and has_undecodable(body):
            problem = f"bytes that are not valid {self.opts.encoding}: {undecodable_summary(body)}"
            return _reject(line_no, where, None, repr(raw_bytes(body, self.codec)), problem)
        if problem is not None:
            return _reject(line_no, where, None, body, problem)
        try:
            return [_value(c, body) for c in self.layout]
        except _BadField as bad:
            return _reject(line_no, where, bad.column, bad.value, str(bad), body)

    def _length_problem(self, body: str) -> str | None:
        n, want, tol = len(body), self.length, self.opts.tolerance
        if n < want and tol is not None and want - n > tol:
            return (
                f"record is {n} characters, the layout needs {want} (tolerance {tol});"
                " raise `tolerance` if short records are expected"
            )
        if n > want and self.opts.extra == "reject" and body[want:].strip():
            return (
                f"record is {n} characters, the layout ends at {want}: data past the layout"
                f" ({body[want : want + 20]!r}) would be lost; fix `record_length`/the layout,"
                " or set `extra: ignore`"
            )
        return None


def _reject(
    line_no: int, where: str, column: str | None, value: str, problem: str, record: str = ""
) -> Reject:
    what = f"line {line_no}" + (f", field {column!r}" if column else "")
    extra = f"; record: {record!r}" if record else ""
    return Reject(line_no, where, column, value, "malformed_record", f"{what}: {problem}{extra}")


def _trim(value: str, how: str) -> str:
    if how == "both":
        return value.strip(" \x00")
    if how == "right":
        return value.rstrip(" \x00")
    if how == "left":
        return value.lstrip(" \x00")
    return value


def _value(col: Column, body: str) -> str:
    raw = body[col.lo : col.hi]
    value = _trim(raw, col.trim)
    if "\x00" in value:
        raise _BadField(col.name, raw, "NUL byte (0x00) inside the value")
    return _number(col, raw) if col.numeric else value


def _number(col: Column, raw: str) -> str:
    """Implied decimals and separate signs turned into plain decimal text."""
    v = raw.strip(" \x00")
    if not v:
        return ""
    negative = False
    if col.sign == "trailing" and v[-1] in "+-":
        negative, v = v[-1] == "-", v[:-1].rstrip()
    elif col.sign == "leading" and v[0] in "+-":
        negative, v = v[0] == "-", v[1:].lstrip()
    if not (v.isascii() and v.isdigit()):
        where = {"none": "", "leading": " (sign first)", "trailing": " (sign last)"}[col.sign]
        raise _BadField(col.name, raw, f"{raw!r} is not a number{where}")
    if col.decimals:
        v = v.rjust(col.decimals + 1, "0")
        v = f"{v[: -col.decimals].lstrip('0') or '0'}.{v[-col.decimals :]}"
    return f"-{v}" if negative else v
