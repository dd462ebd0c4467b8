"""Connection options of the `ebcdic` kind: a folder of mainframe record files described by
COBOL copybooks."""

from __future__ import annotations

from functools import partial
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

from ferryman.connectors.encoding import check_encoding

# The standard library has cp037, cp273, cp500 and cp1140; the `ebcdic` package adds
# cp1141, cp1148 and the other national EBCDIC pages (it registers them on import).
CODE_PAGES = ("cp037", "cp273", "cp500", "cp1140", "cp1141", "cp1148")


def _single_byte_digits(v: str) -> str:
    if "0".encode(v) not in (b"\xf0", b"0"):
        raise ValueError(
            f"code page {v!r} does not write digits as single bytes (EBCDIC F0-F9 or"
            " ASCII 30-39); COBOL records need one of those"
        )
    return v


CodePage = Annotated[
    str,
    AfterValidator(partial(check_encoding, what="code page", examples=CODE_PAGES)),
    AfterValidator(_single_byte_digits),
]
"""An EBCDIC code page (or an ASCII-family codec) whose digits are single bytes."""


class RedefinesSelector(BaseModel):
    """Which variant of a REDEFINES area a record holds, decided by another field."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    field: str = Field(
        description="COBOL name of the item whose value decides, e.g. REC-TYPE (read as text,"
        " trimmed)."
    )
    when: dict[str, str] = Field(
        description="Value of `field` -> the variant to decode: the redefined item itself or"
        " one of the items that REDEFINE it. The other variants are NULL. A value not listed"
        " quarantines the record."
    )


class EbcdicOptions(BaseModel):
    """A folder of EBCDIC record files; each file is a stream decoded by a copybook."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    path: str = Field(description="Folder holding the files (relative to the project).")
    copybook: str | None = Field(
        default=None,
        description="COBOL copybook describing the records of every file: relative to the"
        " project folder (like `path`), or a file of that name in `path`.",
    )
    copybooks: dict[str, str] = Field(
        default_factory=dict,
        description="File name -> its own copybook (in `path`), overriding `copybook`.",
    )
    copybook_format: Literal["fixed", "free"] = Field(
        default="fixed",
        description="fixed: columns 1-6 sequence numbers, column 7 indicator (* comment),"
        " code in columns 8-72. free: code anywhere, comments start with * or *>.",
    )
    code_page: CodePage = Field(
        default="cp037",
        description="EBCDIC code page of the text items: cp037 (US/Canada), cp273 (Germany,"
        " Austria), cp500 (international), cp1140/cp1141/cp1148 (the same with the euro sign),"
        " or another Python codec: an ASCII-family one (latin-1, utf-8) for copybook-described"
        " ASCII files, whose DISPLAY numbers are then ASCII digits.",
    )
    record_format: Literal["fixed", "variable"] = Field(
        default="fixed",
        description="fixed: every record has the copybook's length (or `record_length`)."
        " variable: each record starts with a 4-byte RDW (RECFM=V transferred with RDW).",
    )
    record_length: int | None = Field(
        default=None,
        gt=0,
        description="Fixed records: bytes per record when it differs from the copybook's"
        " length (bytes past the copybook are ignored).",
    )
    rdw_big_endian: bool = Field(
        default=True,
        description="The RDW length is big-endian in bytes 1-2 (mainframe); false reads a"
        " little-endian length from bytes 3-4.",
    )
    rdw_includes_header: bool = Field(
        default=True,
        description="The RDW length counts the 4 RDW bytes themselves (IBM's definition);"
        " false when it counts only the data after it.",
    )
    skip_header_bytes: int = Field(
        default=0, ge=0, description="Bytes of a file header to skip before the first record."
    )
    skip_trailer_bytes: int = Field(
        default=0, ge=0, description="Bytes of a file trailer to ignore after the last record."
    )
    trim: Literal["none", "left", "right", "both"] = Field(
        default="right",
        description="Spaces removed from text items (PIC X pads with trailing spaces).",
    )
    control_chars: Literal["space", "keep"] = Field(
        default="space",
        description="space: control characters in text items (low-values 0x00 and other"
        " C0/C1 controls) become spaces before trimming, as padding; keep: as the code page"
        " decodes them (PostgreSQL refuses NUL in text).",
    )
    redefines: dict[str, RedefinesSelector] = Field(
        default_factory=dict,
        description="Redefined item (COBOL name) -> how to pick the variant each record holds."
        " Without a selector every variant is decoded.",
    )

    @model_validator(mode="after")
    def _has_copybook(self) -> EbcdicOptions:
        if self.copybook is None and not self.copybooks:
            raise ValueError("name the record layout: `copybook: FILE.cpy` (or `copybooks:`)")
        return self
