"""Fixed-width and structured text: pad, unpad, regex extract, split."""

from __future__ import annotations

from typing import Literal

import pyarrow as pa
import pyarrow.compute as pc
from pydantic import BaseModel, Field, field_validator, model_validator

from ferryman.mappings._arrow import StepResult, errors_where, falsy_nulls, finish, join, quoted
from ferryman.mappings.functions.base import DocExample, TextFunction, expect_args
from ferryman.mappings.model import StrictModel

Side = Literal["left", "right"]


class PadArgs(StrictModel):
    length: int = Field(ge=1, le=10_000, description="Length to pad to (longer values are kept).")
    char: str = Field(default=" ", min_length=1, max_length=1, description="Padding character.")
    side: Side = Field(default="left", description="Where the padding goes: left or right.")


class Pad(TextFunction):
    """Pad to a fixed length ('42' -> '00042'); a longer value is kept whole, never cut."""

    name = "pad"
    args_model = PadArgs
    scalar_arg = "length"
    doc_example = DocExample(
        step="pad: {length: 5, char: '0'}", inputs=[["42", "123456", None]],
        output=["00042", "123456", None],
    )  # fmt: skip

    def transform(self, text: pa.Array, args: BaseModel) -> StepResult:
        a = expect_args(args, PadArgs)
        pad = pc.utf8_lpad if a.side == "left" else pc.utf8_rpad
        return StepResult(pad(text, width=a.length, padding=a.char))


class UnpadArgs(StrictModel):
    char: str = Field(default="0", min_length=1, max_length=1, description="Character to strip.")
    side: Literal["left", "right", "both"] = Field(
        default="left", description="Where to strip it: left, right or both."
    )


class Unpad(TextFunction):
    """Strip a padding character ('00042' -> '42'). A value made only of it keeps one
    ('000' -> '0'), so a zero-padded zero stays a number."""

    name = "unpad"
    args_model = UnpadArgs
    scalar_arg = "char"
    doc_example = DocExample(
        step="unpad: {char: '0'}", inputs=[["00042", "000", "7"]], output=["42", "0", "7"]
    )

    def transform(self, text: pa.Array, args: BaseModel) -> StepResult:
        a = expect_args(args, UnpadArgs)
        strip = {"left": pc.utf8_ltrim, "right": pc.utf8_rtrim, "both": pc.utf8_trim}[a.side]
        stripped = strip(text, characters=a.char)
        emptied = falsy_nulls(pc.and_(pc.equal(stripped, ""), pc.not_equal(text, "")))
        return StepResult(pc.if_else(emptied, a.char, stripped))


Unmatched = Literal["quarantine", "null", "keep"]


class ExtractArgs(StrictModel):
    pattern: str = Field(description="Regular expression (RE2 syntax) searched in the value.")
    group: int = Field(
        default=1, ge=0, le=8, description="Which group to keep: 1 the first, 0 the whole match."
    )
    unmatched: Unmatched | None = Field(
        default="quarantine",
        description="A value the pattern does not match: quarantine (default), null, or keep.",
    )

    @field_validator("pattern")
    @classmethod
    def _compiles(cls, v: str) -> str:
        try:
            pc.match_substring_regex(pa.array(["x"]), pattern=v)
        except pa.ArrowInvalid as e:
            raise ValueError(f"{e} (RE2 syntax: no look-around, no back-references)") from None
        return v

    @model_validator(mode="after")
    def _group_exists(self) -> ExtractArgs:
        try:
            pc.replace_substring_regex(
                pa.array(["x"]), pattern=f"({self.pattern})", replacement=f"\\{self.group + 1}"
            )
        except pa.ArrowInvalid:
            raise ValueError(
                f"the pattern has no group {self.group}; put the part to keep in (...)"
            ) from None
        return self

    @property
    def policy(self) -> Unmatched:
        return "null" if self.unmatched is None else self.unmatched


class Extract(TextFunction):
    """The part of the value a regular expression group matches (first match)."""

    name = "extract"
    args_model = ExtractArgs
    scalar_arg = "pattern"
    doc_example = DocExample(
        step=r"extract: {pattern: '(\d{5})'}",
        inputs=[["12 Rue X, 75001 Paris", "no code"]],
        output=["75001", None],
        errors=[None, "'no code' does not match the pattern (\\d{5})"],
    )

    def transform(self, text: pa.Array, args: BaseModel) -> StepResult:
        a = expect_args(args, ExtractArgs)
        found = pc.match_substring_regex(text, pattern=a.pattern)
        # The whole value is replaced by the group: (?s) lets . cross newlines.
        pattern = f"(?s)^.*?({a.pattern}).*$"
        part = pc.replace_substring_regex(text, pattern=pattern, replacement=f"\\{a.group + 1}")
        missing = pc.and_(pc.is_valid(text), pc.invert(falsy_nulls(found)))
        if a.policy == "keep":
            return StepResult(pc.if_else(missing, text, part))
        if a.policy == "null":
            return StepResult(pc.if_else(missing, pa.scalar(None, pa.string()), part))
        return finish(
            part,
            [
                errors_where(
                    missing, lambda: join(quoted(text), f" does not match the pattern {a.pattern}")
                )
            ],
        )


class SplitArgs(StrictModel):
    sep: str = Field(min_length=1, description="Separator (plain text, not a pattern).")
    index: int = Field(
        description="Which part to keep: 1 the first, -1 the last (counting from the end)."
    )
    missing: Literal["null", "quarantine"] = Field(
        default="null",
        description="A value with fewer parts: null (an absent optional part, the default)"
        " or quarantine.",
    )

    @field_validator("index")
    @classmethod
    def _not_zero(cls, v: int) -> int:
        if v == 0:
            raise ValueError("index counts from 1 (the first part) or -1 (the last); not 0")
        return v


class Split(TextFunction):
    """One part of a value split on a separator ('A;B;C' with index 2 -> 'B')."""

    name = "split"
    args_model = SplitArgs
    doc_example = DocExample(
        step="split: {sep: ';', index: 2}",
        inputs=[["Main St 1;Flat 4", "Main St 2", None]],
        output=["Flat 4", None, None],
    )

    def transform(self, text: pa.Array, args: BaseModel) -> StepResult:
        a = expect_args(args, SplitArgs)
        parts = pc.split_pattern(text, pattern=a.sep)
        wanted = abs(a.index)
        enough = falsy_nulls(pc.greater_equal(pc.list_value_length(parts), wanted))
        # Rows without enough parts get a list of blanks so indexing cannot fail.
        safe = pc.if_else(enough, parts, pa.scalar([""] * wanted, parts.type))
        if a.index > 0:
            picked = pc.list_element(safe, a.index - 1)
        else:
            ends = pc.cumulative_sum(pc.cast(pc.list_value_length(safe), pa.int64()))
            picked = pc.take(pc.list_flatten(safe), pc.subtract(ends, wanted))
        short = pc.and_(pc.is_valid(text), pc.invert(enough))
        value = pc.if_else(enough, picked, pa.scalar(None, pa.string()))
        if a.missing == "null":
            return StepResult(value)
        message = f" has fewer than {wanted} parts separated by {a.sep!r}"
        return finish(value, [errors_where(short, lambda: join(quoted(text), message))])
