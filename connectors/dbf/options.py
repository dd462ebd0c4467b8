"""Connection options of the `dbf` kind: a folder of dBase/FoxPro tables."""

from __future__ import annotations

import codecs
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator


class DbfOptions(BaseModel):
    """A folder of .dbf files (with their .dbt/.fpt memo files beside them)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    path: str = Field(description="Folder holding the .dbf files (relative to the project).")
    encoding: str | None = Field(
        default=None,
        description="Code page of the text, e.g. cp866, cp850, cp1252. Default: the one the"
        " file's header names (its language driver byte); a file that names none is read as"
        " ASCII and a record with other bytes is quarantined, so say it for those.",
    )
    missing_memo: Literal["fail", "null"] = Field(
        default="fail",
        description="When a table has memo fields but its .dbt/.fpt file is missing: fail"
        " (the memo text is data), or load the memo columns as NULL.",
    )

    @field_validator("encoding")
    @classmethod
    def _known_encoding(cls, v: str | None) -> str | None:
        if v is None:
            return v
        try:
            codecs.lookup(v)
        except LookupError:
            raise ValueError(
                f"unknown encoding {v!r}; use a Python codec name like cp850 or cp866"
            ) from None
        return v
