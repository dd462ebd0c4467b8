"""Option models of a spec that are not fields or tables themselves: cast options, surrogate
keys, in-batch dedup and indexes. Re-exported by `ferryman.mappings.model`."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator, model_validator

from ferryman.mappings._strict import IDENTIFIER, StrictModel


class CastOptions(StrictModel):
    """How the cast to the field's type reads values that have no single obvious form."""

    true_words: list[str] | None = Field(
        default=None,
        min_length=1,
        description="boolean: the texts that mean true (matched ignoring case and blanks),"
        " e.g. [J, Y, ja]; replaces the defaults true/t/yes/y/1.",
    )
    false_words: list[str] | None = Field(
        default=None,
        min_length=1,
        description="boolean: the texts that mean false, e.g. [N, nein];"
        " replaces the defaults false/f/no/n/0.",
    )
    timezone: str | None = Field(
        default=None,
        description="timestamp/timestamptz: the IANA zone the source's local times are in"
        " (e.g. Europe/Paris). timestamptz stores the instant; timestamp stores the wall"
        " time in this zone of zoned values. Default UTC.",
    )
    encoding: Literal["hex", "base64", "utf8"] | None = Field(
        default=None,
        description="binary: how text values hold the bytes (hex, base64, or the UTF-8"
        " bytes of the text). Default hex.",
    )

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, v: str | None) -> str | None:
        if v is None:
            return v
        import zoneinfo

        try:
            zoneinfo.ZoneInfo(v)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            from difflib import get_close_matches

            close = get_close_matches(v, sorted(zoneinfo.available_timezones()), n=1)
            hint = f" Did you mean {close[0]!r}?" if close else ""
            raise ValueError(
                f"unknown time zone {v!r}; use an IANA name like Europe/Paris or UTC.{hint}"
            ) from None
        return v

    @model_validator(mode="after")
    def _words_disjoint(self) -> CastOptions:
        both = {w.strip().lower() for w in self.true_words or []} & {
            w.strip().lower() for w in self.false_words or []
        }
        if both:
            raise ValueError(f"{sorted(both)} cannot mean both true and false")
        return self


CAST_OPTION_TYPES = {
    "true_words": ("boolean",),
    "false_words": ("boolean",),
    "timezone": ("timestamp", "timestamptz"),
    "encoding": ("binary",),
}


class Surrogate(StrictModel):
    """A new key made by ferryman: the same legacy key always gets the same new key."""

    from_: str | list[str] = Field(
        alias="from", description="Legacy key column(s) whose values identify the row."
    )

    @property
    def columns(self) -> list[str]:
        return [self.from_] if isinstance(self.from_, str) else list(self.from_)


class Dedup(StrictModel):
    """Keep one row per key within each batch; the others are quarantined as duplicates.

    Across batches the load step quarantines keys already in the target, so with
    `keep: first` the first row read wins overall; `last` and `latest` decide within a
    batch (a later batch cannot replace a row already loaded in `insert` mode).
    """

    key: list[str] = Field(min_length=1, description="Target columns that identify a row.")
    keep: Literal["first", "last", "latest"] = Field(
        default="first",
        description="Which row wins: the first read, the last read, or the latest by"
        " the column `by` (ties: the last read).",
    )
    by: str | None = Field(
        default=None, description="With keep: latest, the target column to compare (a date)."
    )

    @model_validator(mode="after")
    def _by_with_latest(self) -> Dedup:
        if self.keep == "latest" and self.by is None:
            raise ValueError("keep: latest needs `by:` (the target column that orders rows)")
        if self.keep != "latest" and self.by is not None:
            raise ValueError(f"`by:` is only used with keep: latest, not keep: {self.keep}")
        return self


class Index(StrictModel):
    """An index the flow creates on the target table after the load."""

    columns: list[str] = Field(min_length=1, description="Target columns, in index order.")
    unique: bool = Field(default=False, description="A unique index.")
    name: str | None = Field(
        default=None,
        pattern=IDENTIFIER,
        description="Index name; default ix_<table>_<columns>.",
    )
