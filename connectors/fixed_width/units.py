"""A fixed-width file's text as numpy arrays of character units, one unit per character.

Field positions count characters after decoding, so the fast path needs an array in which
character N is element N; then a field is a plain slice (`pyarrow.compute.binary_slice`)
and only the sliced values are turned into UTF-8:

- `ByteUnits`: a single-byte code page (cp1252, latin-1, cp437, cp037, ... any codec with
  a 256-entry charmap table): the file's own bytes, one per character, never decoded
  whole. Also pure-ASCII text (a UTF-8/UTF-16 file's block with no other character).
- `WideUnits`: any other text, decoded exactly as the Python reader decodes it and
  re-encoded as UTF-32-LE (4 bytes a character; an undecodable byte, kept as a lone
  surrogate, is one unit too).

`text()` gives back exactly the `str` the Python reader sees for a run of units; records
the fast path does not read go through the Python reader with that text.
"""

from __future__ import annotations

import codecs
import functools
import sys
from typing import ClassVar

import numpy as np
import pyarrow as pa

from ferryman.connectors.encoding import ESCAPE, ensure_registered

WHITESPACE = "".join(c for c in map(chr, range(0x3001)) if c.isspace())
"""Every character `str.isspace()` accepts (none is above U+3000; a test checks all)."""

_UNDEFINED = "\ufffe"  # a charmap table's mark for a byte the code page does not define
_NONE = np.zeros(0, np.intp)


def _offsets(arr: pa.Array) -> np.ndarray:
    return np.frombuffer(arr.buffers()[1], np.int32, len(arr) + 1, arr.offset * 4)


def _data(arr: pa.Array, lo: int, hi: int) -> np.ndarray:
    buf = arr.buffers()[2]
    if buf is None or hi == lo:
        return np.zeros(0, np.uint8)
    return np.frombuffer(buf, np.uint8, hi - lo, lo)


def _string(n: int, offsets: np.ndarray, data: bytes | np.ndarray) -> pa.StringArray:
    return pa.StringArray.from_buffers(
        n, pa.py_buffer(offsets.astype(np.int32)), pa.py_buffer(data)
    )


class ByteUnits:
    """One byte per character: a single-byte code page, or ASCII."""

    width: ClassVar[int] = 1

    def __init__(self, codec: str, table: str) -> None:
        self.codec = codec
        chars = [None if c == _UNDEFINED else c for c in table]
        self._bad = np.array([c is None for c in chars])
        self._bad_bytes = bytes(b for b, c in enumerate(chars) if c is None)
        self._space = np.array([c is not None and c.isspace() for c in chars])
        self._extra = np.array([len((c or "\ufffd").encode()) - 1 for c in chars], np.uint8)
        self._ascii = all(chars[b] == chr(b) for b in range(128))
        self._units = {c: b for b, c in enumerate(chars) if c is not None}
        self._unique = {c for c in self._units if chars.count(c) == 1}
        self.placeholder = self._units.get("?", 0)
        """A byte put in place of undecodable ones before decoding a block's values (the
        records holding them are read by the Python reader from the real bytes)."""
        ensure_registered()

    def unit(self, char: str) -> int | None:
        """The byte of `char`; None when the code page has none (so it never occurs)."""
        return self._units.get(char)

    def unique(self, chars: str) -> bool:
        """Whether each of `chars` comes from one byte only (or from none)."""
        return all(c in self._unique or c not in self._units for c in chars)

    def read(self, block: bytes | str) -> tuple[np.ndarray, np.ndarray]:
        """The block's units, and where the undecodable ones are (the Python reader
        escapes each such byte as one character)."""
        if isinstance(block, str):  # ASCII text
            return np.frombuffer(block.encode("ascii"), np.uint8), _NONE
        units = np.frombuffer(block, np.uint8)
        bad = self._bad_bytes
        if not bad or (bad[0] >= 0x80 and block.isascii()):
            return units, _NONE
        if len(bad) <= 16 and not any(bytes([b]) in block for b in bad):
            return units, _NONE
        return units, np.flatnonzero(self._bad[units])

    def text(self, units: np.ndarray) -> str:
        return units.tobytes().decode(self.codec, ESCAPE)

    def is_space(self, units: np.ndarray) -> np.ndarray:
        return self._space[units]

    def to_utf8(self, arr: pa.BinaryArray) -> pa.StringArray:
        """The values of `arr` (this code page's bytes) as UTF-8 text, exactly as decoding
        them would give (no undecodable byte may be left in them)."""
        offsets = _offsets(arr)
        lo, hi = int(offsets[0]), int(offsets[-1])
        data = _data(arr, lo, hi)
        if self._ascii and (data.size == 0 or int(data.max()) < 0x80):
            return arr.view(pa.string())
        utf8 = data.tobytes().decode(self.codec).encode("utf-8")
        rel = offsets - lo
        if len(utf8) != data.size:
            extra = self._extra[data]
            at = np.flatnonzero(extra)
            value = np.searchsorted(rel, at, "right") - 1
            added = np.bincount(value, extra[at], len(arr)).astype(np.int64)
            rel = rel + np.concatenate(([0], np.cumsum(added)))
        return _string(len(arr), rel, utf8)


class WideUnits:
    """Four bytes per character (UTF-32-LE of the decoded text)."""

    width: ClassVar[int] = 4
    placeholder = ord("?")

    def unit(self, char: str) -> int:
        return ord(char)

    def read(self, block: bytes | str) -> tuple[np.ndarray, np.ndarray]:
        """The block's units, and where the lone surrogates (undecodable bytes) are."""
        assert isinstance(block, str)
        try:
            return np.frombuffer(block.encode("utf-32-le"), "<u4"), _NONE
        except UnicodeEncodeError:
            units = np.frombuffer(block.encode("utf-32-le", "surrogatepass"), "<u4")
            return units, np.flatnonzero((units >= 0xD800) & (units <= 0xDFFF))

    def text(self, units: np.ndarray) -> str:
        return units.tobytes().decode("utf-32-le", "surrogatepass")

    def is_space(self, units: np.ndarray) -> np.ndarray:
        return np.isin(units, _SPACE_UNITS)

    def to_utf8(self, arr: pa.BinaryArray) -> pa.StringArray:
        offsets = _offsets(arr)
        lo, hi = int(offsets[0]), int(offsets[-1])
        cps = _data(arr, lo, hi).view("<u4")
        rel = (offsets - lo) // 4
        if cps.size == 0 or int(cps.max()) < 0x80:
            return _string(len(arr), rel, cps.astype(np.uint8))
        utf8 = cps.tobytes().decode("utf-32-le").encode("utf-8")
        size = 1 + (cps >= 0x80) + (cps >= 0x800) + (cps >= 0x10000)
        ends = np.concatenate(([0], np.cumsum(size, dtype=np.int64)))
        return _string(len(arr), ends[rel], utf8)


_SPACE_UNITS = np.array([ord(c) for c in WHITESPACE], np.uint32)
ASCII_TABLE = "".join(map(chr, range(128))) + _UNDEFINED * 128
ASCII = ByteUnits("ascii", ASCII_TABLE)
WIDE = WideUnits()


@functools.lru_cache(maxsize=64)
def byte_units(codec: str, chars: str) -> ByteUnits | None:
    """`ByteUnits` for `codec` when it is a single-byte code page whose `chars` (the line
    terminators) each come from one byte; None otherwise (the text is read wide)."""
    table = _table(codec)
    if table is None:
        return None
    units = ByteUnits(codec, table)
    if not units.unique(chars) or "?" not in table:
        return None
    return units


def _table(codec: str) -> str | None:
    """The 256-entry table of a charmap codec, checked against the codec itself."""
    info = codecs.lookup(codec)
    table: object
    if info.name in ("iso8859-1", "latin-1"):
        table = "".join(map(chr, range(256)))
    elif info.name == "ascii":
        table = ASCII_TABLE
    else:
        module = sys.modules.get(getattr(info.incrementaldecoder, "__module__", ""))
        table = getattr(module, "decoding_table", None)
    if not isinstance(table, str) or len(table) != 256:
        return None
    ensure_registered()
    expected = "".join(chr(0xDC00 + b) if c == _UNDEFINED else c for b, c in enumerate(table))
    if bytes(range(256)).decode(codec, ESCAPE) != expected:
        return None
    return table
