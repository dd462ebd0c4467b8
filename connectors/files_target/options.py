"""Options of a file export: where the files go and in which format."""

from __future__ import annotations

import codecs
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator


class FileTargetOptions(BaseModel):
    """A folder receiving one file per batch, per table: `<path>/<table>/part-000003.parquet`."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    path: str = Field(description="Folder receiving the files (relative to the project).")
    format: Literal["parquet", "csv"] = Field(default="parquet", description="File format.")
    compression: Literal["zstd", "snappy", "gzip", "none"] = Field(
        default="zstd", description="Parquet compression codec."
    )
    encoding: str = Field(
        default="utf-8",
        description="CSV only: byte encoding of the files (a value the encoding cannot hold"
        " fails the batch, naming the column and the row).",
    )
    delimiter: str = Field(
        default=",", min_length=1, max_length=1, description="CSV only: field separator."
    )

    @field_validator("encoding")
    @classmethod
    def _known_encoding(cls, v: str) -> str:
        try:
            codecs.lookup(v)
        except LookupError:
            raise ValueError(f"unknown encoding {v!r}; use a Python codec name") from None
        return v
