"""Read a DBF header: version, record count and length, field descriptors, code page.

Covers dBase II, dBase III/IV/V, FoxBase/FoxPro and Visual FoxPro (whose field flags
mark hidden system fields and nullable fields). dBase 7 (0x8C, 48-byte descriptors) is
refused with a clear message rather than misread.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import BinaryIO

from ferryman.connectors.errors import TerminalError

VFP_VERSIONS = {0x30, 0x31, 0x32}

# Language driver id (header byte 29) -> Python codec. 0x00 means "not recorded".
LANGUAGE_DRIVERS: dict[int, str] = {
    0x01: "cp437", 0x02: "cp850", 0x03: "cp1252", 0x04: "mac_roman", 0x08: "cp865",
    0x09: "cp437", 0x0A: "cp850", 0x0B: "cp437", 0x0D: "cp437", 0x0E: "cp850",
    0x0F: "cp437", 0x10: "cp850", 0x11: "cp437", 0x12: "cp850", 0x13: "cp932",
    0x14: "cp850", 0x15: "cp437", 0x16: "cp850", 0x17: "cp865", 0x18: "cp437",
    0x19: "cp437", 0x1A: "cp850", 0x1B: "cp437", 0x1C: "cp863", 0x1D: "cp850",
    0x1F: "cp852", 0x22: "cp852", 0x23: "cp852", 0x24: "cp860", 0x25: "cp850",
    0x26: "cp866", 0x37: "cp850", 0x40: "cp852", 0x4D: "cp936", 0x4E: "cp949",
    0x4F: "cp950", 0x50: "cp874", 0x57: "cp1252", 0x58: "cp1252", 0x59: "cp1252",
    0x64: "cp852", 0x65: "cp866", 0x66: "cp865", 0x67: "cp861", 0x6A: "cp737",
    0x6B: "cp857", 0x6C: "cp863", 0x78: "cp950", 0x79: "cp949", 0x7A: "cp936",
    0x7B: "cp932", 0x7C: "cp874", 0x7D: "cp1255", 0x7E: "cp1256", 0x86: "cp737",
    0x87: "cp852", 0x88: "cp857", 0x96: "mac_cyrillic", 0x97: "mac_latin2",
    0x98: "mac_greek", 0xC8: "cp1250", 0xC9: "cp1251", 0xCA: "cp1254", 0xCB: "cp1253",
    0xCC: "cp1257",
}  # fmt: skip
# Code pages some DBF writers used that Python has no codec for.
UNSUPPORTED_DRIVERS = {0x68: "Kamenicky (cp895)", 0x69: "Mazovia (cp620)"}


@dataclass(frozen=True)
class FieldDef:
    name: str
    type: str
    offset: int
    """Offset inside the record (the deletion flag is byte 0)."""
    length: int
    decimals: int
    flags: int = 0
    null_bit: int | None = None
    varlength_bit: int | None = None

    @property
    def hidden(self) -> bool:
        """VFP system fields (_NullFlags) are not columns of the table."""
        return bool(self.flags & 0x01)


@dataclass(frozen=True)
class Header:
    version: int
    records: int
    header_length: int
    record_length: int
    language_driver: int
    fields: tuple[FieldDef, ...]

    @property
    def visual_foxpro(self) -> bool:
        return self.version in VFP_VERSIONS

    @property
    def null_flags(self) -> FieldDef | None:
        return next((f for f in self.fields if f.type == "0"), None)

    def columns(self) -> list[FieldDef]:
        return [f for f in self.fields if not f.hidden and f.type != "0"]


def read_header(fh: BinaryIO, size: int, where: str) -> Header:
    fh.seek(0)
    head = fh.read(32)
    if len(head) < 8:
        raise TerminalError(f"{where}: {len(head)} bytes is too short for a DBF header")
    version = head[0]
    if version == 0x02 and _dbase2(head, size):
        return _read_dbase2(fh, head, where)
    if version & 0x07 == 0x04 or version == 0x8C:
        raise TerminalError(
            f"{where}: dBase 7 files (version byte {version:#04x}) are not supported; export"
            " the table from dBase as dBase IV or CSV"
        )
    records, header_length, record_length = struct.unpack("<IHH", head[4:12])
    fields = _descriptors(fh.read(max(header_length - 32, 0)), version in VFP_VERSIONS, where)
    return Header(version, records, header_length, record_length, head[29], fields)


def _dbase2(head: bytes, size: int) -> bool:
    """Version byte 2 is dBase II or FoxBase: dBase II has no header length at bytes 8-9,
    so a dBase III reading of it gives one that cannot be."""
    header_length = struct.unpack("<H", head[8:10])[0] if len(head) >= 10 else 0
    return header_length < 33 or header_length > size


def _read_dbase2(fh: BinaryIO, head: bytes, where: str) -> Header:
    records = struct.unpack("<H", head[1:3])[0]
    record_length = struct.unpack("<H", head[6:8])[0]
    fh.seek(8)
    block = fh.read(32 * 16 + 1)
    fields, offset = [], 1
    for i in range(0, 32 * 16, 16):
        entry = block[i : i + 16]
        if len(entry) < 16 or entry[0] == 0x0D:
            break
        name = entry[:11].split(b"\0")[0].decode("latin-1").strip()
        fields.append(FieldDef(name, chr(entry[11]), offset, entry[12], entry[15]))
        offset += entry[12]
    return Header(0x02, records, 8 + 32 * 16 + 1, record_length, 0, tuple(fields))


def _descriptors(block: bytes, vfp: bool, where: str) -> tuple[FieldDef, ...]:
    fields: list[FieldDef] = []
    offset, bit = 1, 0
    for i in range(0, len(block) - 31, 32):
        entry = block[i : i + 32]
        if entry[0] == 0x0D:
            break
        name = entry[:11].split(b"\0")[0].decode("latin-1").strip()  # re-decoded later
        kind, length, decimals = chr(entry[11]), entry[16], entry[17]
        if kind == "C" and not vfp:
            length += decimals << 8  # Clipper/FoxPro: long character fields
            decimals = 0
        flags = entry[18] if vfp else 0
        varlength = null = None
        if vfp and not flags & 0x01:
            if kind in "VQ":
                varlength, bit = bit, bit + 1
            if flags & 0x02:
                null, bit = bit, bit + 1
        fields.append(FieldDef(name, kind, offset, length, decimals, flags, null, varlength))
        offset += length
    if not fields and not block.startswith(b"\x0d"):
        raise TerminalError(f"{where}: no field descriptors found; is this a DBF file?")
    return tuple(fields)
