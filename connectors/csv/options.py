"""Connection options of the `csv` kind: a folder of delimited files and how to parse them."""

from __future__ import annotations

import codecs

from pydantic import BaseModel, ConfigDict, Field, field_validator


class CsvOptions(BaseModel):
    """A folder of delimited text files sharing one dialect."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    path: str = Field(description="Folder holding the files (relative to the project).")
    encoding: str = Field(
        default="utf-8",
        description="Byte encoding of the files, e.g. cp1252, latin-1, utf-16. Always say it:"
        " legacy exports are rarely UTF-8.",
    )
    delimiter: str = Field(default=",", min_length=1, max_length=1, description="Field separator.")
    quote: str | None = Field(default='"', description="Quote character; null for none.")
    header: bool = Field(default=True, description="First record holds the column names.")
    columns: list[str] | None = Field(
        default=None, description="Column names when the files have no header."
    )
    newlines_in_values: bool = Field(
        default=True, description="Quoted values may span lines (RFC 4180)."
    )

    @field_validator("encoding")
    @classmethod
    def _known_encoding(cls, v: str) -> str:
        try:
            codecs.lookup(v)
        except LookupError:
            raise ValueError(
                f"unknown encoding {v!r}; use a Python codec name like cp1252"
            ) from None
        return v
