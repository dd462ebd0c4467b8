"""Connection options of the `jsonl` kind: a folder of JSON Lines files."""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from ferryman.connectors.encoding import Encoding


def _ascii_framing(v: str) -> str:
    if "\n{}".encode(v) != b"\n{}":
        raise ValueError(
            f"encoding {v!r} does not write newlines and braces as ASCII bytes; re-encode"
            " the files as UTF-8 (JSON Lines is UTF-8 by definition)"
        )
    return v


AsciiFramedEncoding = Annotated[Encoding, AfterValidator(_ascii_framing)]


class JsonlOptions(BaseModel):
    """A folder of JSON Lines files: one JSON object per line."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    path: str = Field(description="Folder holding the files (relative to the project).")
    encoding: AsciiFramedEncoding = Field(
        default="utf-8", description="Byte encoding of the files (a leading BOM is skipped)."
    )
    columns: dict[str, str] | None = Field(
        default=None,
        description="Column name -> path of the value in each object, e.g."
        " `customer_city: customer.address.city` or `first_tag: tags.0`. Without it every"
        " leaf of every object becomes a column named by its path joined with `separator`.",
    )
    separator: str = Field(
        default="__",
        min_length=1,
        description="Joins the keys of a nested field into its column name: a.b.c -> a__b__c.",
    )
    max_depth: int = Field(
        default=10,
        ge=1,
        description="Objects nested deeper than this are kept whole, as JSON text.",
    )
