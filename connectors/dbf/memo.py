"""Memo files: the variable-length text and binary values a DBF record points into.

- `.dbt` of dBase III: 512-byte blocks, a memo runs up to a 0x1A (end of file) byte.
- `.dbt` of dBase IV: block size in the header, each memo starts with FF FF 08 00 and
  its length.
- `.fpt` of FoxPro / Visual FoxPro: block size in the header (big-endian), each memo
  starts with its type and length (big-endian).

A memo is read by seeking to its block: random access, one memo in memory at a time.
"""

from __future__ import annotations

import struct
from pathlib import Path
from typing import BinaryIO

from ferryman.connectors.errors import TerminalError

_MAX_MEMO = 1 << 30


class MemoProblem(ValueError):
    """A memo pointer leads nowhere sensible (past the end, bad block header)."""


class MemoFile:
    """An open memo file; `read(block)` gives the memo's bytes."""

    def __init__(self, path: Path, kind: str) -> None:
        self.path = path
        self.kind = kind
        self._fh: BinaryIO = path.open("rb")
        self.size = path.stat().st_size
        head = self._fh.read(512)
        if kind == "fpt":
            self.block_size = struct.unpack(">H", head[6:8])[0] or 64
        elif kind == "dbt4":
            self.block_size = struct.unpack("<H", head[20:22])[0] or 512
        else:
            self.block_size = 512

    def close(self) -> None:
        self._fh.close()

    def read(self, block: int) -> bytes:
        if block <= 0:
            return b""
        offset = block * self.block_size
        if offset >= self.size:
            raise MemoProblem(
                f"memo block {block} is past the end of {self.path.name} ({self.size} bytes)"
            )
        self._fh.seek(offset)
        if self.kind == "fpt":
            return self._sized(">I", 4, 8)
        if self.kind == "dbt4":
            marker = self._fh.read(4)
            self._fh.seek(offset)
            if marker == b"\xff\xff\x08\x00":
                return self._sized("<I", 4, 8, counts_header=True)
        return self._terminated()

    def _sized(self, fmt: str, at: int, header: int, counts_header: bool = False) -> bytes:
        head = self._fh.read(header)
        if len(head) < header:
            raise MemoProblem(f"memo header cut short in {self.path.name}")
        length = struct.unpack(fmt, head[at : at + 4])[0] - (header if counts_header else 0)
        if not 0 <= length <= min(_MAX_MEMO, self.size):
            raise MemoProblem(f"memo length {length} in {self.path.name} cannot be")
        return self._fh.read(length)

    def _terminated(self) -> bytes:
        """dBase III: the memo runs to the first 0x1A (usually doubled)."""
        chunks = []
        while True:
            chunk = self._fh.read(self.block_size)
            if not chunk:
                break
            end = chunk.find(b"\x1a")
            if end >= 0:
                chunks.append(chunk[:end])
                break
            chunks.append(chunk)
        return b"".join(chunks)


def find_memo(dbf: Path, version: int, where: str, required: bool) -> MemoFile | None:
    """The memo file beside `dbf` (same name, .dbt or .fpt, any case)."""
    kind = "fpt" if version in (0x30, 0x31, 0x32, 0xF5, 0xFB) else "dbt"
    if kind == "dbt" and version in (0x8B, 0xCB, 0x7B):
        kind = "dbt4"
    suffix = ".fpt" if kind == "fpt" else ".dbt"
    for candidate in dbf.parent.iterdir():
        if candidate.stem == dbf.stem and candidate.suffix.lower() == suffix:
            return MemoFile(candidate, kind)
    if required:
        raise TerminalError(
            f"{where}: its memo file {dbf.stem}{suffix} is missing; copy it next to"
            f" {dbf.name}, or set `missing_memo: null` to load the memo columns as NULL"
        )
    return None
