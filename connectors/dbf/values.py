"""Field values of a DBF record, each field type to its Arrow type.

Typed fields keep their type: D is a date, L a boolean, I an integer, Y an exact
decimal(19,4), T a timestamp, B (Visual FoxPro) a double. N and F are numbers written as
ASCII text in the file: they stay that exact text (trimmed), never pass through a float,
and the mapping's cast checks them against the target type. C and memo fields are text
decoded with the table's code page (C fields lose their trailing padding; a blank C field
is '', dBase has no NULL text); G, P, W, Q and dBase B memos are bytes. Blank numbers,
dates and logicals ('?') are NULL, and so is a Visual FoxPro field whose null bit is set.
"""

from __future__ import annotations

import datetime as dt
import struct
from collections.abc import Callable
from decimal import Decimal

import pyarrow as pa

from ferryman.connectors.dbf.header import FieldDef, Header
from ferryman.connectors.dbf.memo import MemoFile, MemoProblem


class FieldProblem(ValueError):
    """The bytes of a field are not a value of its type."""


Reader = Callable[[bytes], object]

_TRUE = frozenset(b"TtYy")
_FALSE = frozenset(b"FfNn")
_JULIAN_EPOCH = 1721425  # julian day number of 0001-01-01 minus one


def arrow_type(f: FieldDef, header: Header) -> pa.DataType:
    kind = f.type
    if kind == "D":
        return pa.date32()
    if kind == "L":
        return pa.bool_()
    if kind in "I+":
        return pa.int32()
    if kind == "Y":
        return pa.decimal128(19, 4)
    if kind in "T@":
        return pa.timestamp("ms")
    if kind in "BO" and (header.visual_foxpro or kind == "O"):
        return pa.float64()
    if kind in "GPWQB":
        return pa.binary()
    return pa.string()


def make_reader(f: FieldDef, header: Header, codec: str, memo: MemoFile | None) -> Reader:
    """A function from the field's bytes to its value (None for NULL)."""
    kind = f.type
    text = _texts(codec)
    if kind in "CV":
        return lambda raw: text(raw.rstrip(b" \x00"))
    if kind in "NF":
        return _number
    if kind == "D":
        return _date
    if kind == "L":
        return _logical
    if kind == "I":
        return lambda raw: struct.unpack("<i", raw)[0]
    if kind == "Y":
        return lambda raw: Decimal(struct.unpack("<q", raw)[0]).scaleb(-4)
    if kind == "T":
        return _datetime
    if kind == "B" and header.visual_foxpro:
        return lambda raw: struct.unpack("<d", raw)[0]
    if kind == "Q":
        return lambda raw: raw
    if kind in "MGPWB":
        return _memo(memo, None if kind in "GPWB" else text, header.visual_foxpro)
    raise FieldProblem(f"field {f.name} has type {kind!r}, which ferryman cannot read")


def _texts(codec: str) -> Callable[[bytes], str]:
    def decode(raw: bytes) -> str:
        try:
            return raw.decode(codec)
        except UnicodeDecodeError as err:
            hint = (
                "the file's header names no code page: set `encoding:` (cp437, cp850 and"
                " cp1252 are the usual ones)"
                if codec == "ascii"
                else "is `encoding:` right?"
            )
            raise FieldProblem(
                f"bytes {raw[err.start : err.end].hex().upper()} are not {codec} text; {hint}"
            ) from None

    return decode


def _number(raw: bytes) -> str | None:
    text = raw.strip(b" \x00").decode("ascii", "replace")
    return text or None


def _date(raw: bytes) -> dt.date | None:
    text = raw.strip(b" \x00")
    if not text or text == b"00000000":
        return None
    try:
        return dt.datetime.strptime(text.decode("ascii"), "%Y%m%d").date()
    except (ValueError, UnicodeDecodeError):
        raise FieldProblem(f"{text!r} is not a date (YYYYMMDD)") from None


def _logical(raw: bytes) -> bool | None:
    b = raw[0] if raw else 0x20
    if b in _TRUE:
        return True
    if b in _FALSE:
        return False
    if b in b" ?\x00":
        return None
    raise FieldProblem(f"{raw!r} is not a logical value (T/F/Y/N/?)")


def _datetime(raw: bytes) -> dt.datetime | None:
    day, ms = struct.unpack("<ii", raw)
    if day == 0 and ms == 0:
        return None
    try:
        date = dt.date.fromordinal(day - _JULIAN_EPOCH)
    except ValueError:
        raise FieldProblem(f"julian day {day} is not a date") from None
    return dt.datetime.combine(date, dt.time()) + dt.timedelta(milliseconds=ms)


def _memo(
    memo: MemoFile | None, text: Callable[[bytes], str] | None, binary_pointer: bool
) -> Reader:
    def read(raw: bytes) -> object:
        if memo is None:
            return None  # `missing_memo: null`
        if binary_pointer and len(raw) == 4:
            block = struct.unpack("<I", raw)[0]
        else:
            digits = raw.strip(b" \x00")
            if not digits:
                return None
            if not digits.isdigit():
                raise FieldProblem(f"memo pointer {raw!r} is not a block number")
            block = int(digits)
        if block == 0:
            return None
        try:
            data = memo.read(block)
        except MemoProblem as err:
            raise FieldProblem(str(err)) from None
        return text(data) if text is not None else data

    return read


def varchar(raw: bytes, f: FieldDef, flags: int) -> bytes:
    """VFP V/Q fields: when the field's varlength bit is set, the last byte holds the length."""
    if f.varlength_bit is not None and flags >> f.varlength_bit & 1:
        return raw[: raw[-1]]
    return raw
