"""Cut a mainframe file into records: fixed length, or variable length behind a 4-byte RDW.

Reads sequentially with a bounded buffer; a resumed read seeks straight to the byte
offset kept in the position, so resuming costs nothing however far into the file it is.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO

from ferryman.connectors.errors import TerminalError
from ferryman.connectors.mainframe.options import EbcdicOptions


@dataclass(frozen=True)
class Frame:
    number: int
    """1-based record number in the file."""
    offset: int
    """Byte offset of the record (of its RDW for variable records) in the file."""
    data: bytes
    end: int
    """Byte offset just after the record: where the next one starts."""
    problem: str | None = None
    """Set when the bytes do not form a whole record (a truncated last record)."""


def frames(
    fh: BinaryIO,
    options: EbcdicOptions,
    record_size: int,
    start: int,
    first_number: int,
    stop: int,
    where: str,
) -> Iterator[Frame]:
    """Records from byte `start` (a record boundary) up to byte `stop`."""
    fh.seek(start)
    if options.record_format == "fixed":
        yield from _fixed(fh, options.record_length or record_size, start, first_number, stop)
    else:
        yield from _variable(fh, options, start, first_number, stop, where)


def _fixed(fh: BinaryIO, size: int, offset: int, number: int, stop: int) -> Iterator[Frame]:
    while offset < stop:
        data = fh.read(min(size, stop - offset))
        if not data:
            return
        end = offset + len(data)
        problem = None
        if len(data) < size:
            problem = f"the file ends {len(data)} bytes into this record of {size} bytes"
        yield Frame(number, offset, data, end, problem)
        offset, number = end, number + 1


def _variable(
    fh: BinaryIO, options: EbcdicOptions, offset: int, number: int, stop: int, where: str
) -> Iterator[Frame]:
    while offset < stop:
        rdw = fh.read(min(4, stop - offset))
        if len(rdw) < 4:
            if rdw:
                yield Frame(number, offset, rdw, offset + len(rdw), "the file ends inside an RDW")
            return
        length = rdw_length(rdw, options)
        if length < 0 or (length == 0 and not any(rdw)):
            raise TerminalError(
                f"{where}: record {number} at byte {offset}: RDW {rdw.hex().upper()} gives a"
                f" length of {length + 4 if options.rdw_includes_header else length} bytes,"
                " which cannot be; is the file really RECFM=V with RDWs? Check"
                " `rdw_big_endian`, `rdw_includes_header` and `skip_header_bytes`"
            )
        want = min(length, stop - offset - 4)
        data = fh.read(want)
        end = offset + 4 + len(data)
        problem = None
        if len(data) < length:
            problem = f"the file ends {len(data)} bytes into this record of {length} bytes"
        yield Frame(number, offset, data, end, problem)
        offset, number = end, number + 1


def rdw_length(rdw: bytes, options: EbcdicOptions) -> int:
    """Bytes of data after the RDW (negative when the RDW is impossible)."""
    if options.rdw_big_endian:
        value = int.from_bytes(rdw[0:2], "big")
    else:
        value = int.from_bytes(rdw[2:4], "little")
    return value - 4 if options.rdw_includes_header else value


def skip_records(
    fh: BinaryIO, options: EbcdicOptions, record_size: int, start: int, count: int, stop: int
) -> int:
    """Byte offset of record `count + 1` (for a position saved without its byte offset)."""
    if options.record_format == "fixed":
        return min(start + count * (options.record_length or record_size), stop)
    offset = start
    for _ in range(count):
        fh.seek(offset)
        rdw = fh.read(4)
        if len(rdw) < 4:
            break
        offset = min(offset + 4 + max(rdw_length(rdw, options), 0), stop)
    return offset
