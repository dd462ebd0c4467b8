"""Connection options of the `parquet` kind: a folder of Parquet files."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class ParquetOptions(BaseModel):
    """A folder of Parquet files; each file is a stream."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    path: str = Field(description="Folder holding the files (relative to the project).")
    columns: list[str] | None = Field(
        default=None,
        description="Read only these columns (Parquet is columnar: the others are not even"
        " read from disk). Default: all.",
    )
