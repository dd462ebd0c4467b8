"""Connection options of the `dbf` kind: a folder of dBase/FoxPro tables."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from ferryman.connectors.encoding import Encoding


class DbfOptions(BaseModel):
    """A folder of .dbf files (with their .dbt/.fpt memo files beside them)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    path: str = Field(description="Folder holding the .dbf files (relative to the project).")
    encoding: Encoding | None = Field(
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
