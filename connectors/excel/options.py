"""Connection options of the `excel` kind: a folder of workbooks."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class ExcelOptions(BaseModel):
    """A folder of .xlsx/.xls workbooks. A stream is `Book.xlsx` (the sheet below) or
    `Book.xlsx#Orders` (that sheet)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    path: str = Field(description="Folder holding the workbooks (relative to the project).")
    sheet: str | int | None = Field(
        default=None,
        description="Sheet read when the stream names none: its name, or its number (1 is"
        " the first sheet). Default: the first sheet.",
    )
    header_row: int = Field(
        default=1,
        ge=0,
        description="Row (as Excel numbers them) holding the column names; the data starts"
        " below it and the rows above are ignored. 0: no header row (use `columns`).",
    )
    columns: list[str] | None = Field(
        default=None,
        description="Column names, left to right; they replace the header row's. Without"
        " names a column is named by its letter (A, B, ...).",
    )
