"""Decoding legacy text files without losing a record to one bad byte.

pyarrow (and Python's strict codecs) fail a whole file on the first undecodable byte.
Here every undecodable byte is kept, escaped as a lone surrogate U+DC00+byte (which no
valid decoding produces), so the reader can quarantine exactly the records that hold one,
with their raw bytes, and load the rest.

Also: byte-order marks, streaming the file as lines split on any terminator (CR, LF,
CRLF, or a custom one such as pgloader's `¶`) in bounded memory, an optional encoding
detection (charset-normalizer) that says what it found and how sure it is, and the
`Encoding` option type every file connector's options use.
"""

from __future__ import annotations

import codecs
import contextlib
import re
from collections.abc import Iterator
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Annotated, BinaryIO

from pydantic import AfterValidator

ESCAPE = "ferryman.escape"
"""Codec error handler: undecodable byte b -> U+DC00+b; on encode, the reverse."""

_BAD = re.compile("[\udc00-\udcff]")
_UNIVERSAL = re.compile(r"\r\n|\n|\r")
_CHUNK = 1 << 20
_MARGIN = 0.1
_PREFERRED = (
    "utf_8",
    "cp1252",
    "cp1251",
    "cp1250",
    "cp866",
    "gb18030",
    "shift_jis",
    "cp932",
    "big5",
    "euc_kr",
    "cp850",
    "cp437",
    "latin_1",
)
_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32-le"),  # before UTF-16 LE: it starts with the same bytes
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)


AUTO = "auto"
"""`encoding: auto`: detect each file's encoding (`detect_encoding`)."""

_EXAMPLES = ("cp1252", "latin-1", "cp850", "cp866", "gb18030", "shift_jis", "utf-16")


def ensure_codecs() -> None:
    """Register the `ebcdic` package's codecs (it does so on import): cp1141, cp1148 and the
    other national EBCDIC pages the standard library lacks. Without the package only the
    standard library's exist, and the others are reported as unknown."""
    with contextlib.suppress(ImportError):
        import ebcdic  # noqa: F401


def check_encoding(
    name: str, what: str = "encoding", examples: tuple[str, ...] = _EXAMPLES, auto: bool = False
) -> str:
    """`name` if Python has a codec of that name (or it is `auto` where detection is
    offered); else a ValueError saying what would do."""
    if auto and name == AUTO:
        return name
    ensure_codecs()
    try:
        codecs.lookup(name)
    except LookupError:
        detect = ", or `auto` to detect it" if auto else ""
        raise ValueError(
            f"unknown {what} {name!r}; use a Python codec name like {', '.join(examples)}{detect}"
        ) from None
    return name


Encoding = Annotated[str, AfterValidator(check_encoding)]
"""An option naming a text encoding: any Python codec (EBCDIC pages included)."""

EncodingOrAuto = Annotated[str, AfterValidator(partial(check_encoding, auto=True))]
"""An `Encoding`, or `auto` to detect each file's."""


def _escape(err: UnicodeError) -> tuple[str | bytes, int]:
    if isinstance(err, UnicodeDecodeError):
        if err.encoding.startswith(("utf-16", "utf-32")):
            # keep the code-unit alignment: escape the whole bad unit
            bad = err.object[err.start : err.end]
            return "".join(chr(0xDC00 + b) for b in bad), err.end
        # one byte at a time, so the codec resynchronises on the very next byte and a bad
        # lead byte never swallows the delimiter or newline that follows it
        return chr(0xDC00 + err.object[err.start]), err.start + 1
    if isinstance(err, UnicodeEncodeError):
        chars = err.object[err.start : err.end]
        if all(0xDC00 <= ord(c) <= 0xDCFF for c in chars):
            return bytes(ord(c) - 0xDC00 for c in chars), err.end
    raise err


def ensure_registered() -> None:
    """Register the `ferryman.escape` error handler (idempotent, explicit, no import side
    effect)."""
    try:
        codecs.lookup_error(ESCAPE)
    except LookupError:
        codecs.register_error(ESCAPE, _escape)


def has_undecodable(text: str) -> bool:
    return _BAD.search(text) is not None


def raw_bytes(text: str, encoding: str) -> bytes:
    """The bytes `text` was decoded from (escaped bytes restored), for quarantine."""
    out = bytearray()
    pos = 0
    for m in _BAD.finditer(text):
        out += text[pos : m.start()].encode(encoding, errors="replace")
        out.append(ord(m.group()) - 0xDC00)
        pos = m.end()
    out += text[pos:].encode(encoding, errors="replace")
    return bytes(out)


def undecodable_summary(text: str, limit: int = 8) -> str:
    """`0x81 at char 5, 0x9d at char 12` for a message."""
    hits = [f"0x{ord(m.group()) - 0xDC00:02x} at char {m.start() + 1}" for m in _BAD.finditer(text)]
    more = f" (+{len(hits) - limit} more)" if len(hits) > limit else ""
    return ", ".join(hits[:limit]) + more


def strip_bom(head: bytes, encoding: str) -> tuple[str, int]:
    """The concrete codec and BOM length for a file starting with `head`.

    A UTF-8/16/32 BOM decides the byte order and is skipped (never part of the first
    column name). `utf-16`/`utf-32` without a BOM are read little-endian, as Python and
    Windows do; say `utf-16-be` for big-endian files without a BOM.
    """
    name = codecs.lookup(encoding).name
    family = {"utf-8-sig": "utf-8"}.get(name, name)
    for bom, codec in _BOMS:
        base = codec if codec == "utf-8" else codec[:-3]  # utf-16-le -> utf-16
        if head.startswith(bom) and family in (codec, base):
            return codec, len(bom)
    if family in ("utf-16", "utf-32"):
        return f"{family}-le", 0
    return family, 0


def _open_decoded(path: Path, encoding: str) -> tuple[BinaryIO, codecs.IncrementalDecoder, str]:
    ensure_registered()
    fh = path.open("rb")
    codec, skip = strip_bom(fh.read(4), encoding)
    fh.seek(skip)
    return fh, codecs.getincrementaldecoder(codec)(errors=ESCAPE), codec


def decoded_chunks(path: Path, encoding: str, chunk: int = _CHUNK) -> Iterator[str]:
    """The file as text chunks of about `chunk` bytes (bounded memory)."""
    fh, decoder, _ = _open_decoded(path, encoding)
    with fh:
        while data := fh.read(chunk):
            text = decoder.decode(data)
            if text:
                yield text
        tail = decoder.decode(b"", final=True)
        if tail:
            yield tail


def concrete_codec(path: Path, encoding: str) -> str:
    """The codec actually used for `path` (BOM resolved), e.g. utf-16-le."""
    with path.open("rb") as fh:
        return strip_bom(fh.read(4), encoding)[0]


def split_lines(chunks: Iterator[str], terminator: str | None) -> Iterator[str]:
    """Lines with their terminator kept (the last one may have none).

    `terminator=None` splits on CRLF, LF and lone CR (old Mac exports); anything else
    (`¶`, `\\r\\n`, `~`) is the only terminator. A CRLF split across two chunks stays one
    terminator.
    """
    carry = ""
    for text in chunks:
        buf = carry + text
        if terminator is None:
            # a trailing CR may be the first half of a CRLF in the next chunk
            hold = 1 if buf.endswith("\r") else 0
            pieces = _UNIVERSAL.split(buf[: len(buf) - hold] if hold else buf)
            ends = _UNIVERSAL.findall(buf[: len(buf) - hold] if hold else buf)
            for piece, end in zip(pieces, ends, strict=False):
                yield piece + end
            carry = pieces[-1] + ("\r" if hold else "")
        else:
            parts = buf.split(terminator)
            for part in parts[:-1]:
                yield part + terminator
            carry = parts[-1]
    if carry:
        yield carry


@dataclass(frozen=True)
class Detection:
    """What `detect_encoding` found and how sure it is."""

    encoding: str
    confidence: float
    """0..1: 1 - charset-normalizer's mess ratio of the sample (1.0 for a BOM or ASCII)."""
    bom: bool
    sample_bytes: int
    language: str = ""

    def describe(self) -> str:
        how = "BOM" if self.bom else f"confidence {self.confidence:.2f}"
        lang = f", looks {self.language}" if self.language and self.language != "Unknown" else ""
        return f"{self.encoding} ({how}{lang}, from the first {self.sample_bytes} bytes)"


def detect_encoding(path: Path, sample: int = 1 << 20) -> Detection:
    """Guess the encoding of `path` from its first `sample` bytes.

    A BOM is certain. Otherwise charset-normalizer is asked; the sample is cut at its last
    line break so a multi-byte character is never split. Raises ValueError when nothing
    fits (binary data).
    """
    with path.open("rb") as fh:
        head = fh.read(sample)
    for bom, codec in _BOMS:
        if head.startswith(bom):
            return Detection(codec, 1.0, True, len(head))
    cut = max(head.rfind(b"\n"), head.rfind(b"\r"))
    body = head[: cut + 1] if 0 < cut < len(head) - 1 and len(head) == sample else head
    if body.isascii():
        return Detection("utf-8", 1.0, False, len(body), "ASCII (a subset of UTF-8)")
    from charset_normalizer import from_bytes

    found = list(from_bytes(body))
    if not found:
        raise ValueError(f"{path}: no text encoding fits the first {len(body)} bytes")
    best = min(found, key=lambda m: m.chaos)
    choice, name = best, best.encoding
    # Short or repetitive samples make exotic code pages (mac_latin2, cp775) win by a hair
    # over the one that wrote the file. Legacy exports are overwhelmingly the common
    # Windows/DOS/CJK code pages: one of those that decodes nearly as cleanly wins.
    for preferred in _PREFERRED:
        near = [m for m in found if m.chaos <= best.chaos + _MARGIN]
        hit = next((m for m in near if preferred in m.could_be_from_charset), None)
        if hit is not None:
            choice, name = hit, preferred
            break
    return Detection(
        codecs.lookup(name).name,
        round(1.0 - float(choice.chaos), 3),
        False,
        len(body),
        str(choice.language),
    )
