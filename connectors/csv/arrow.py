"""Fast path of the `csv` source: pyarrow's streaming reader, giving exactly what the
Python parser (`parser.py`) gives: the same values, `FILE:N` positions, rejects (rule, raw
value, message), batch boundaries and resume positions, about 20 times faster.

**Which dialects** (`refusal`): delimiter and quote (or no quote) single ASCII characters,
different from each other and from CR/LF; `doublequote: true`; no `escape` (pyarrow reads
the field `\\N` as `N`, the csv module keeps `\\N`); no `comment`; `line_terminator: null`
(CR, LF, CRLF); `skip_blank_lines: true`; `skip_initial_space: false`. Every encoding
(BOMs, UTF-16/32 included), `skip_lines`, `header`/`columns`, `trailing_delimiter` and
`newlines_in_values` are handled. Other dialects are read by the Python parser.

**How.** Skipped lines and the header are read by the Python parser (same header rules,
same errors). The rest of the file is decoded in Python exactly as the Python path decodes
it (BOM stripped), re-encoded as UTF-8 and streamed to `pyarrow.csv.open_csv` in 1 MiB
blocks, every column a string that is never null. One thread: on 2 cores readahead
measured no faster, and only a single-threaded reader numbers the invalid rows, which is
what places each ragged record among the rows. Record N = the header's number (or
`skip_lines`) + the record's index in the data; its line = N + the line breaks inside the
values before it.

**Hand-over.** The fast path stops and the Python parser continues from the end of the
last batch yielded (nothing twice, memory still bounded by a batch) when the data holds
what the fast path cannot read or number exactly:
  - undecodable bytes (the UTF-8 re-encoding of an escaped byte fails) or a NUL byte;
  - a blank line followed by more data (the Python path counts blank lines in N, pyarrow
    skips them without saying where); trailing blank lines are fine;
  - a quote never closed (a sentinel record appended after the data is swallowed);
  - a value or ragged record longer than the csv module's field limit (131072), or a
    record longer than a block (pyarrow fails);
  - with `trailing_delimiter`, a value after the last delimiter;
  - with `newlines_in_values: false`, a value spanning lines;
  - a ragged record the csv module does not read as one record (never seen; checked).
"""

from __future__ import annotations

import csv
import re
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from ferryman.connectors.base import ROW_POSITION, Batch, Position, Reject
from ferryman.connectors.csv.options import CsvDialect
from ferryman.connectors.csv.parser import ragged, split_record

BLOCK = 1 << 20
_FIELD_LIMIT = csv.field_size_limit()
_SENTINEL = b"\n\x00\n"  # NUL never reaches pyarrow otherwise: the stream refuses it
_LINE_END = re.compile(r"\r\n|\n|\r")


class Fallback(Exception):
    """The fast path cannot go on exactly; the Python parser takes over."""


def refusal(d: CsvDialect) -> str | None:
    """Why the fast path cannot read dialect `d` exactly (None: it can)."""
    checks = [
        (d.escape is not None, "an escape character"),
        (d.comment is not None, "comment lines"),
        (d.line_terminator is not None, "a custom line terminator"),
        (not d.skip_blank_lines, "skip_blank_lines is false"),
        (d.skip_initial_space, "skip_initial_space is true"),
        (not d.doublequote, "doublequote is false"),
        (not _plain(d.delimiter), "a non-ASCII delimiter"),
        (d.quote is not None and not _plain(d.quote), "a non-ASCII or line-break quote"),
        (d.quote == d.delimiter, "the quote is the delimiter"),
    ]
    return next((why for bad, why in checks if bad), None)


def _plain(c: str) -> bool:
    return c.isascii() and c not in "\r\n"


def after_lines(chunks: Iterator[str], lines: int) -> Iterator[str]:
    """The text after the first `lines` physical lines (ended by CR, LF or CRLF)."""
    buf = ""
    for chunk in chunks:
        buf += chunk
        while lines:
            m = _LINE_END.search(buf)
            if m is None or (m.group() == "\r" and m.end() == len(buf)):
                break  # no line end yet, or a CR that may be half of a CRLF
            buf = buf[m.end() :]
            lines -= 1
        if not lines:
            if buf:
                yield buf
            yield from chunks
            return


class _Utf8Stream:
    """The data as checked UTF-8 bytes, read by pyarrow through `pa.PythonFile`."""

    def __init__(self, text: Iterator[str]) -> None:
        self._text = text
        self._data = b""
        self._pos = 0
        self._eof = False
        self._prev = 10  # data starts a line: a leading CR or LF is a blank line
        self._tail = False  # a blank line was seen: only blank lines may follow
        self.closed = False

    def read(self, size: int = -1) -> bytes:
        """Up to `size` bytes of the current chunk (a short read is not the end)."""
        while self._pos >= len(self._data) and not self._eof:
            self._fill()
        end = len(self._data) if size < 0 else self._pos + size
        out = self._data[self._pos : end]
        self._pos += len(out)
        return out

    def close(self) -> None:
        self.closed = True

    def _fill(self) -> None:
        text = next(self._text, None)
        if text is None:
            self._eof = True
            self._data, self._pos = _SENTINEL, 0
            return
        try:
            data = text.encode("utf-8")
        except UnicodeEncodeError:
            raise Fallback("undecodable bytes") from None
        self._check(data)
        self._data, self._pos = data, 0

    def _check(self, data: bytes) -> None:
        if b"\x00" in data:
            raise Fallback("a NUL byte")
        at = 0 if self._tail else _blank_line(self._prev, data)
        if at >= 0 and data[at:].strip(b"\r\n"):
            raise Fallback("a blank line between records")
        self._tail = at >= 0
        self._prev = data[-1]


def _blank_line(prev: int, data: bytes) -> int:
    """Where in `data` the first empty line starts, -1 for none: a line break right after
    LF, or CR after CR (`prev` is the byte before `data`)."""
    if (prev == 10 and data[0] in (10, 13)) or (prev == 13 and data[0] == 13):
        return 0
    a = np.frombuffer(data, np.uint8)
    nxt = a[1:]
    hits = []
    lf = np.flatnonzero(a[:-1] == 10)
    if lf.size:
        hits.append(lf[(nxt[lf] == 10) | (nxt[lf] == 13)][:1])
    cr = np.flatnonzero(a[:-1] == 13)
    if cr.size:
        hits.append(cr[nxt[cr] == 13][:1])
    found = np.concatenate(hits) if hits else np.array([], np.int64)
    return int(found.min()) + 1 if found.size else -1


@dataclass(frozen=True, slots=True)
class _Invalid:
    number: int
    """1-based index of the record in the data (pyarrow's row number)."""
    text: str


@dataclass(frozen=True, slots=True)
class Layout:
    """Where the data starts and how its records are numbered."""

    stream: str
    names: list[str]
    base: int
    """Record number before the first data record (header's number, or skip_lines)."""
    first_line: int
    """Physical line the data starts on."""


class ArrowRead:
    """One fast read of a file's data. After `batches()` is exhausted, `fallback` says
    why it stopped early (None: it read everything), and `rows`/`number` are where the
    Python parser takes over (records consumed, next batch number)."""

    def __init__(
        self, layout: Layout, d: CsvDialect, text: Iterator[str], skip: int, batch_size: int
    ) -> None:
        self.fallback: str | None = None
        self.rows = skip
        self.number = 0
        self._at = layout
        self._d = d
        self._text = text
        self._skip = skip
        self._size_limit = batch_size
        self._width = len(layout.names)
        self._out_names = [*layout.names, ROW_POSITION]
        self._prefix = pa.scalar(f"{layout.stream}:")
        self._queue: deque[_Invalid] = deque()
        self._k = 0  # records of the data read so far
        self._breaks = 0  # line breaks inside those records
        self._pieces: list[list[pa.Array]] = []
        self._rejects: list[Reject] = []
        self._size = 0

    def batches(self) -> Iterator[Batch]:
        try:
            yield from self._read()
        except (Fallback, pa.ArrowInvalid) as err:
            self.fallback = str(err).split("\n")[0]

    def _open(self) -> pacsv.CSVStreamingReader:
        width = self._width + (1 if self._d.trailing_delimiter else 0)
        names = [f"f{i}" for i in range(width)]
        return pacsv.open_csv(
            pa.PythonFile(_Utf8Stream(self._text), mode="r"),
            read_options=pacsv.ReadOptions(use_threads=False, block_size=BLOCK, column_names=names),
            parse_options=pacsv.ParseOptions(
                delimiter=self._d.delimiter,
                quote_char=self._d.quote if self._d.quote is not None else False,
                double_quote=True,
                escape_char=False,
                newlines_in_values=True,
                ignore_empty_lines=True,
                invalid_row_handler=self._on_invalid,
            ),
            convert_options=pacsv.ConvertOptions(
                column_types=dict.fromkeys(names, pa.string()),
                strings_can_be_null=False,
                quoted_strings_can_be_null=False,
            ),
        )

    def _on_invalid(self, row: pacsv.InvalidRow) -> str:
        if not isinstance(row.number, int) or row.number < 1:
            return "error"  # cannot be placed: pyarrow fails, the Python parser takes over
        self._queue.append(_Invalid(row.number, row.text))
        return "skip"

    def _read(self) -> Iterator[Batch]:
        held: pa.RecordBatch | None = None
        for rb in self._open():
            if rb.num_rows == 0:
                continue
            if held is not None:
                yield from self._take(held)
            held = rb
        held = self._strip_sentinel(held)
        if held is not None:
            yield from self._take(held)
        while self._queue:
            yield from self._invalid(self._queue.popleft())
        if self._size:
            yield self._flush()

    def _strip_sentinel(self, last: pa.RecordBatch | None) -> pa.RecordBatch | None:
        """Drop the sentinel record; fail when an open quote swallowed it."""
        if self._queue and self._queue[-1].text == "\x00":
            self._queue.pop()
            return last
        if last is not None and last.num_columns == 1 and last.column(0)[-1].as_py() == "\x00":
            return last.slice(0, last.num_rows - 1)
        raise Fallback("a quoted value is never closed")

    def _take(self, rb: pa.RecordBatch) -> Iterator[Batch]:
        """Merge this block's rows with the invalid records pyarrow numbered among them."""
        cols = self._columns(rb)
        breaks = self._row_breaks(cols)
        i, n = 0, rb.num_rows
        while i < n:
            q = self._queue[0].number if self._queue else None
            if q is not None and q <= self._k:
                raise Fallback("pyarrow numbered an invalid record out of order")
            if q == self._k + 1:
                yield from self._invalid(self._queue.popleft())
                continue
            run = n - i if q is None else min(n - i, q - self._k - 1)
            if self._k < self._skip:
                run = min(run, self._skip - self._k)
            else:
                run = min(run, self._size_limit - self._size)
            self._valid(cols, i, run, breaks)
            i += run
            if self._size >= self._size_limit:
                yield self._flush()

    def _columns(self, rb: pa.RecordBatch) -> list[pa.Array]:
        cols = list(rb.columns)
        if self._d.trailing_delimiter:
            offsets, _ = _extent(cols.pop())
            if offsets[-1] != offsets[0]:
                raise Fallback("a value after the trailing delimiter")
        for col in cols:
            offsets, _ = _extent(col)
            if len(offsets) > 1 and int(np.diff(offsets).max()) > _FIELD_LIMIT:
                raise Fallback("a value over the csv module's field limit")
        return cols

    def _row_breaks(self, cols: list[pa.Array]) -> np.ndarray | None:
        """Line breaks inside each row's values (None: none in this block)."""
        total: np.ndarray | None = None
        for col in cols:
            offsets, data = _extent(col)
            if data is None:
                continue
            raw = memoryview(data)[int(offsets[0]) : int(offsets[-1])].tobytes()
            if b"\n" not in raw and b"\r" not in raw:
                continue
            counts = [pc.count_substring(col, s).to_numpy() for s in ("\n", "\r", "\r\n")]
            per = counts[0] + counts[1] - counts[2]
            total = per if total is None else total + per
        if total is not None and not self._d.newlines_in_values:
            raise Fallback("a quoted value spans lines (newlines_in_values is false)")
        return total

    def _valid(self, cols: list[pa.Array], i: int, run: int, breaks: np.ndarray | None) -> None:
        first = self._at.base + self._k + 1
        self._k += run
        if breaks is not None:
            self._breaks += int(breaks[i : i + run].sum())
        if self._k <= self._skip:
            return
        numbers = pa.array(np.arange(first, first + run, dtype=np.int64))
        where = pc.binary_join_element_wise(self._prefix, pc.cast(numbers, pa.string()), "")
        self._pieces.append([c.slice(i, run) for c in cols] + [where])
        self._size += run

    def _invalid(self, bad: _Invalid) -> Iterator[Batch]:
        if bad.number != self._k + 1:
            raise Fallback("pyarrow numbered an invalid record out of order")
        self._k += 1
        number = self._at.base + self._k
        line = self._at.first_line + self._k - 1 + self._breaks
        breaks = len(_LINE_END.findall(bad.text))
        if breaks and not self._d.newlines_in_values:
            raise Fallback("a quoted value spans lines (newlines_in_values is false)")
        if len(bad.text) > _FIELD_LIMIT:
            raise Fallback("a record over the csv module's field limit")
        self._breaks += breaks
        if self._k <= self._skip:
            return
        fields = split_record(bad.text, self._d)
        if fields is None:
            raise Fallback("the csv module does not read a ragged record as one record")
        pos = f"{self._at.stream}:{number}"
        if len(fields) == self._width:  # e.g. no trailing delimiter on this one record
            self._pieces.append([pa.array([f], pa.string()) for f in [*fields, pos]])
        else:
            message = f"record {number} (line {line}): {ragged(len(fields), self._width, self._d)}"
            self._rejects.append(Reject(number, pos, None, bad.text, "malformed_record", message))
        self._size += 1
        if self._size >= self._size_limit:
            yield self._flush()

    def _flush(self) -> Batch:
        if self._pieces:
            batches = [pa.RecordBatch.from_arrays(p, names=self._out_names) for p in self._pieces]
            data = pa.Table.from_batches(batches)
        else:
            empty = [pa.array([], pa.string()) for _ in self._out_names]
            data = pa.Table.from_arrays(empty, names=self._out_names)
        start, end = Position(rows=self._k - self._size), Position(rows=self._k)
        batch = Batch(self._at.stream, self.number, data, start, end, tuple(self._rejects))
        self.number += 1
        self.rows = self._k
        self._pieces, self._rejects, self._size = [], [], 0
        return batch


def _extent(col: pa.Array) -> tuple[np.ndarray, pa.Buffer | None]:
    """A string array's offsets (as numpy) and data buffer."""
    bufs = col.buffers()
    offsets = np.frombuffer(bufs[1], dtype=np.int32, count=len(col) + 1, offset=col.offset * 4)
    return offsets, bufs[2]
