"""Connection options of the `fixed_width` kind: a folder of fixed-width files sharing one
layout, given inline (YAML) or as a CSV layout file."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from ferryman.connectors.encoding import EncodingOrAuto

Trim = Literal["both", "left", "right", "none"]
Sign = Literal["none", "leading", "trailing"]


class FieldLayout(BaseModel):
    """One column: where it is in the record and how to read its text."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1, description="Column name.")
    start: int = Field(description="First character (0- or 1-based, see `base`).")
    length: int | None = Field(default=None, ge=1, description="Width in characters.")
    end: int | None = Field(
        default=None, description="Last character, inclusive (instead of `length`)."
    )
    implied_decimals: int = Field(
        default=0,
        ge=0,
        description="Digits after an implied decimal point: with 2, `0001250` reads `12.50`."
        " The field must then hold digits (and the sign, if `sign` says where).",
    )
    sign: Sign = Field(
        default="none",
        description="Where a `+`/`-` sign sits: `leading` (`-0001250`), `trailing`"
        " (`0001250-`) or `none`.",
    )
    trim: Trim | None = Field(default=None, description="Overrides the connection's `trim`.")

    @model_validator(mode="after")
    def _extent(self) -> FieldLayout:
        if (self.length is None) == (self.end is None):
            raise ValueError(f"field {self.name!r}: give exactly one of `length` or `end`")
        if self.end is not None and self.end < self.start:
            raise ValueError(f"field {self.name!r}: end {self.end} is before start {self.start}")
        return self

    @property
    def numeric(self) -> bool:
        return self.implied_decimals > 0 or self.sign != "none"

    def span(self, base: int) -> tuple[int, int]:
        """0-based [from, to) slice bounds."""
        lo = self.start - base
        width = self.length if self.length is not None else (self.end or 0) - self.start + 1
        return lo, lo + width


class FixedWidthOptions(BaseModel):
    """A folder of fixed-width files; each file is a stream named by its file name."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    path: str = Field(description="Folder holding the files (relative to the project).")
    encoding: EncodingOrAuto = Field(
        default="utf-8",
        description="Byte encoding (cp1252, latin-1, cp437, ...; `auto` detects it). Column"
        " positions count characters after decoding (bytes, for single-byte code pages).",
    )
    layout: list[FieldLayout] | None = Field(
        default=None, description="The columns, in record order (or use `layout_file`)."
    )
    layout_file: str | None = Field(
        default=None,
        description="CSV file with a header naming `column` (or `name`), `start`, and"
        " `length` or `end`; optional `implied_decimals`, `sign`. Relative to the project folder.",
    )
    base: Literal[0, 1] = Field(
        default=0, description="Whether `start`/`end` count from 0 or from 1 (COBOL, Census)."
    )
    line_terminator: str | None = Field(
        default=None,
        min_length=1,
        description="Record terminator; null: CRLF, LF or a lone CR (old Mac, some mainframe"
        " transfers).",
    )
    record_length: int | None = Field(
        default=None, ge=1, description="Expected record length; default: end of the last field."
    )
    tolerance: int | None = Field(
        default=None,
        ge=0,
        description="How many characters a record may be short and still be read (padded"
        " with blanks); null: any. Shorter records are quarantined.",
    )
    extra: Literal["reject", "ignore"] = Field(
        default="reject",
        description="Non-blank characters past `record_length`: quarantine the record"
        " (`reject`), or ignore them (`ignore`).",
    )
    trim: Trim = Field(default="both", description="Padding blanks to strip from values.")
    skip_lines: int = Field(default=0, ge=0, description="Header lines to skip.")
    skip_blank_lines: bool = Field(default=True, description="Skip empty lines.")

    @model_validator(mode="after")
    def _one_layout(self) -> FixedWidthOptions:
        if (self.layout is None) == (self.layout_file is None):
            raise ValueError("give the columns in exactly one of `layout` or `layout_file`")
        if self.layout is not None:
            from ferryman.connectors.fixed_width.layout import resolve

            resolve(self.layout, self.base, self.trim)
        return self
