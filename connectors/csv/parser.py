"""Split a delimited file into records, streaming, never failing on one bad record.

Python's C `csv` reader does the field parsing; it is fed one line at a time by `_Feed`,
which remembers the lines of the current record. So every record, good or bad, comes with
its record number, the line it starts on and its raw text, and a bad record (undecodable
bytes, a NUL byte, an unterminated quote, an oversized field) is reported as such while
the next record parses normally.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from ferryman.connectors.csv.options import CsvDialect
from ferryman.connectors.encoding import decoded_chunks, has_undecodable, split_lines

# Stand-ins for CR/LF inside a record when a custom terminator is used: the csv module
# would otherwise end the record on them. Private-use characters never met in legacy data.
_CR, _LF = "\ue000", "\ue001"
# Stand-in for an escaped N (`\N`, MySQL's NULL): the csv module would make it a bare "N",
# turning a NULL into the letter N. A whole field `\N` is handed on as the text `\N` (for
# the spec's null markers); inside a longer value it is an escaped, literal N.
_ESC_N = "\ue002"


@dataclass(frozen=True, slots=True)
class Record:
    """One record of a file (the header included)."""

    number: int
    """Record number, 1-based; blank, comment and skipped lines count, so it is the line
    number unless a quoted value spans lines."""
    line: int
    """Line the record starts on, 1-based."""
    fields: list[str]
    lines: list[str]
    """The record's raw lines as decoded, terminators included."""
    problem: str | None = None
    """Why the record cannot be used (then `fields` is whatever was parsed)."""

    def raw(self, terminator: str | None) -> str:
        text = "".join(self.lines)
        if terminator is not None:
            return text.removesuffix(terminator)
        return text.rstrip("\r\n") if text.endswith(("\r", "\n")) else text


class _SpansLines(Exception):
    """A quoted value continues past the end of its line while values may not span lines."""


class _Feed:
    """The line iterator handed to csv.reader: skips blank/comment lines between records
    and keeps the lines of the record being parsed."""

    def __init__(self, lines: Iterator[str], d: CsvDialect) -> None:
        self._lines = lines
        self._pending: str | None = None
        self._comment = d.comment
        self._skip_blank = d.skip_blank_lines
        self._multiline = d.newlines_in_values
        self._terminator = d.line_terminator
        self._escaped_n = None if d.escape is None else d.escape + "N"
        self.lines: list[str] = []
        self.line_no = 0
        self.start = 0
        self.eof_mid_record = False
        self.nul = False

    def begin(self) -> None:
        self.lines = []
        self.eof_mid_record = False
        self.nul = False

    def pull(self) -> str:
        if self._pending is not None:
            line, self._pending = self._pending, None
        else:
            line = next(self._lines)
        self.line_no += 1
        return line

    def __iter__(self) -> _Feed:
        return self

    def __next__(self) -> str:
        if not self.lines:
            line = self.pull()
            while self._ignorable(line):
                line = self.pull()
            self.start = self.line_no
        else:
            try:
                line = self.pull()
            except StopIteration:
                self.eof_mid_record = True
                raise
            if not self._multiline:
                self._pending = line
                self.line_no -= 1
                raise _SpansLines
        self.lines.append(line)
        if "\x00" in line:
            self.nul = True
        if self._terminator is not None:
            line = self._prepare(line)
        if self._escaped_n is not None and self._escaped_n in line:
            line = line.replace(self._escaped_n, self._escaped_n[0] + _ESC_N)
        return line

    def _body(self, line: str) -> str:
        t = self._terminator
        if t is None:
            return line.rstrip("\r\n")
        return line.removesuffix(t)

    def _ignorable(self, line: str) -> bool:
        if self._comment is not None and line.startswith(self._comment):
            return True
        if not self._skip_blank:
            return False
        if self._terminator is None:  # lines end at the first CR/LF: blank iff it starts so
            return line[:1] in ("\r", "\n", "")
        return not self._body(line).strip("\r\n")

    def _prepare(self, line: str) -> str:
        body = self._body(line)
        if "\r" in body or "\n" in body:
            body = body.replace("\r", _CR).replace("\n", _LF)
        return body + "\n"


def _restore(fields: list[str], terminator: str) -> list[str]:
    return [
        f.replace("\n", terminator).replace(_CR, "\r").replace(_LF, "\n")
        if ("\n" in f or _CR in f or _LF in f)
        else f
        for f in fields
    ]


class _Watched:
    """Decoded chunks, noting whether any undecodable byte was met so far (one regex
    search per MiB instead of one per line)."""

    def __init__(self, chunks: Iterator[str]) -> None:
        self._chunks = chunks
        self.dirty = False

    def __iter__(self) -> Iterator[str]:
        for chunk in self._chunks:
            if not self.dirty and has_undecodable(chunk):
                self.dirty = True
            yield chunk


def _unescape_n(fields: list[str], escape: str) -> list[str]:
    return [
        (escape + "N" if f == _ESC_N else f.replace(_ESC_N, "N")) if _ESC_N in f else f
        for f in fields
    ]


def _reader(feed: Iterable[str], d: CsvDialect) -> Iterator[list[str]]:
    return csv.reader(
        feed,
        delimiter=d.delimiter,
        quotechar=d.quote,
        quoting=csv.QUOTE_NONE if d.quote is None else csv.QUOTE_MINIMAL,
        escapechar=d.escape,
        doublequote=d.doublequote,
        skipinitialspace=d.skip_initial_space,
        strict=False,
    )


def records(path: Path, d: CsvDialect, encoding: str, chunk: int = 1 << 16) -> Iterator[Record]:
    """Every record of `path` (header first), good or bad, in file order, decoding
    `chunk` bytes at a time (small: reading just the header stays cheap)."""
    chunks = _Watched(decoded_chunks(path, encoding, chunk))
    lines = split_lines(iter(chunks), d.line_terminator)
    feed = _Feed(lines, d)
    for _ in range(d.skip_lines):
        if next(lines, None) is None:
            return
        feed.line_no += 1
    reader = _reader(feed, d)
    continuation = 0  # lines that continued a record: record number = line - continuation
    while True:
        feed.begin()
        problem: str | None = None
        try:
            fields = next(reader)
        except StopIteration:
            return
        except _SpansLines:
            fields, problem = [], "a quoted value is not closed on its line"
            problem += " (values may not span lines: newlines_in_values is false)"
        except csv.Error as err:
            fields, problem = [], f"cannot parse: {err}"
        rec_lines = feed.lines
        if not rec_lines:  # only ignorable lines were left
            return
        number = feed.start - continuation
        continuation += len(rec_lines) - 1
        problem = problem or _problem(feed, rec_lines, chunks.dirty)
        if d.line_terminator is not None:
            fields = _restore(fields, d.line_terminator)
        if d.escape is not None:
            fields = _unescape_n(fields, d.escape)
        if d.trailing_delimiter and fields and fields[-1] == "":
            fields.pop()
        yield Record(number, feed.start, fields, rec_lines, problem)


def _problem(feed: _Feed, lines: list[str], dirty: bool) -> str | None:
    if feed.eof_mid_record:
        return (
            f"unterminated quoted value: the quote opened in the record starting on line"
            f" {feed.start} is never closed before the end of the file"
        )
    if dirty and any(has_undecodable(line) for line in lines):
        return "undecodable bytes"
    if feed.nul:
        return "NUL byte (0x00) in the record: a binary or corrupted export"
    return None


def split_record(text: str, d: CsvDialect) -> list[str] | None:
    """The fields of one whole record's raw text (no terminator), as `records` parses
    them, for the fast path (no escape, comment or custom terminator). None when the csv
    module does not read the text as exactly one record."""
    reader = _reader(split_lines(iter([text]), None), d)
    try:
        fields = next(reader)
        if next(reader, None) is not None:
            return None
    except (StopIteration, csv.Error):
        return None
    if d.trailing_delimiter and fields and fields[-1] == "":
        fields.pop()
    return fields


def ragged(got: int, want: int, d: CsvDialect) -> str:
    """The message for a record with the wrong number of fields."""
    message = f"record has {got} fields, the header has {want}"
    if got == want + 1 and not d.trailing_delimiter:
        message += " (if every record ends with a delimiter, set `trailing_delimiter: true`)"
    return message
