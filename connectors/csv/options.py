"""Connection options of the `csv` kind: a folder of delimited files and how to parse them.

The dialect options can be overridden per file (or glob) under `files:`, for a folder
holding exports with different dialects behind one connection.
"""

from __future__ import annotations

import fnmatch
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from ferryman.connectors.encoding import EncodingOrAuto


def _one_char(v: str | None, what: str) -> str | None:
    if v is not None and len(v) != 1:
        raise ValueError(f"{what} must be one character, got {v!r}")
    return v


class CsvDialect(BaseModel):
    """How one delimited file is written."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    encoding: EncodingOrAuto = Field(
        default="utf-8",
        description="Byte encoding, e.g. cp1252, latin-1, cp866, gb18030, shift_jis, utf-16"
        " (a BOM decides the byte order); `auto` detects it per file. Always say it: legacy"
        " exports are rarely UTF-8.",
    )
    delimiter: str = Field(default=",", description="Field separator (one character).")
    quote: str | None = Field(default='"', description="Quote character; null for none.")
    escape: str | None = Field(
        default=None,
        description="Escape character (e.g. a backslash): the next character is taken"
        " literally, also outside quotes. Null for none.",
    )
    doublequote: bool = Field(
        default=True, description='A doubled quote inside a quoted value is one quote ("").'
    )
    header: bool = Field(default=True, description="First record holds the column names.")
    columns: list[str] | None = Field(
        default=None,
        description="Column names. Without a header they name the fields; with one they"
        " replace the header's names (same count).",
    )
    skip_lines: int = Field(
        default=0, ge=0, description="Physical lines to skip before the header (junk preamble)."
    )
    comment: str | None = Field(
        default=None,
        min_length=1,
        description="Lines starting with this prefix (outside a quoted value) are skipped.",
    )
    skip_blank_lines: bool = Field(
        default=True, description="Empty lines are skipped rather than read as records."
    )
    line_terminator: str | None = Field(
        default=None,
        min_length=1,
        description="Record terminator. Null: CRLF, LF or CR. Else only this string ends a"
        " record, e.g. '¶'; then CR and LF are ordinary characters.",
    )
    newlines_in_values: bool = Field(
        default=True, description="Quoted values may span lines (RFC 4180)."
    )
    skip_initial_space: bool = Field(
        default=False, description='Ignore blanks right after a delimiter (`a, "b"`).'
    )
    trailing_delimiter: bool = Field(
        default=False,
        description="Every record ends with a delimiter (`1|a|`): the empty last field is"
        " dropped, header included.",
    )

    @field_validator("delimiter")
    @classmethod
    def _delimiter(cls, v: str) -> str:
        _one_char(v, "delimiter")
        if v in "\r\n":
            raise ValueError("delimiter cannot be a line break")
        return v

    @field_validator("quote")
    @classmethod
    def _quote(cls, v: str | None) -> str | None:
        return _one_char(v, "quote")

    @field_validator("escape")
    @classmethod
    def _escape(cls, v: str | None) -> str | None:
        return _one_char(v, "escape")

    @model_validator(mode="after")
    def _names(self) -> CsvDialect:
        if not self.header and self.columns is None:
            raise ValueError("header is false: list the column names under `columns:`")
        if self.columns is not None:
            dupes = sorted({c for c in self.columns if self.columns.count(c) > 1})
            if dupes:
                raise ValueError(f"columns repeats {', '.join(map(repr, dupes))}")
        return self


class CsvFileOptions(BaseModel):
    """Per-file overrides of the connection's dialect (any subset of its keys)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    encoding: str | None = Field(default=None, description="Overrides `encoding`.")
    delimiter: str | None = Field(default=None, description="Overrides `delimiter`.")
    quote: str | None = Field(default=None, description="Overrides `quote`.")
    escape: str | None = Field(default=None, description="Overrides `escape`.")
    doublequote: bool | None = Field(default=None, description="Overrides `doublequote`.")
    header: bool | None = Field(default=None, description="Overrides `header`.")
    columns: list[str] | None = Field(default=None, description="Overrides `columns`.")
    skip_lines: int | None = Field(default=None, description="Overrides `skip_lines`.")
    comment: str | None = Field(default=None, description="Overrides `comment`.")
    skip_blank_lines: bool | None = Field(default=None, description="Overrides `skip_blank_lines`.")
    line_terminator: str | None = Field(default=None, description="Overrides `line_terminator`.")
    newlines_in_values: bool | None = Field(
        default=None, description="Overrides `newlines_in_values`."
    )
    skip_initial_space: bool | None = Field(
        default=None, description="Overrides `skip_initial_space`."
    )
    trailing_delimiter: bool | None = Field(
        default=None, description="Overrides `trailing_delimiter`."
    )


class CsvOptions(CsvDialect):
    """A folder of delimited text files; each file is a stream named by its file name."""

    path: str = Field(description="Folder holding the files (relative to the project).")
    files: dict[str, CsvFileOptions] = Field(
        default_factory=dict,
        description="Dialect overrides per file name or glob (`'*.tsv': {delimiter: \"\\t\"}`);"
        " the first matching key wins, in file order.",
    )

    @model_validator(mode="after")
    def _overrides_valid(self) -> CsvOptions:
        for pattern in self.files:
            self.dialect_for(pattern)  # raises with the merged problem
        return self

    def dialect_for(self, stream: str) -> CsvDialect:
        """The dialect of file `stream`: connection options, then the first matching
        `files:` entry (explicitly set keys only)."""
        base: dict[str, Any] = {k: getattr(self, k) for k in CsvDialect.model_fields}
        for pattern, override in self.files.items():
            if pattern == stream or fnmatch.fnmatchcase(stream, pattern):
                base.update(override.model_dump(exclude_unset=True))
                break
        return CsvDialect.model_validate(base)
