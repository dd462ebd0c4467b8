"""Text clean-up functions: trim, case, whitespace, regex replace, substring."""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc
from pydantic import BaseModel, Field, field_validator, model_validator

from ferryman.mappings._arrow import StepResult
from ferryman.mappings.functions.base import DocExample, TextFunction, expect_args
from ferryman.mappings.model import StrictModel


class Trim(TextFunction):
    name = "trim"
    doc_example = DocExample(step="trim", inputs=[["  Ada  ", None]], output=["Ada", None])

    def transform(self, text: pa.Array, args: BaseModel) -> StepResult:
        return StepResult(pc.utf8_trim_whitespace(text))


class Upper(TextFunction):
    name = "upper"
    doc_example = DocExample(step="upper", inputs=[["smith"]], output=["SMITH"])

    def transform(self, text: pa.Array, args: BaseModel) -> StepResult:
        return StepResult(pc.utf8_upper(text))


class Lower(TextFunction):
    name = "lower"
    doc_example = DocExample(step="lower", inputs=[["Ada@Example.COM"]], output=["ada@example.com"])

    def transform(self, text: pa.Array, args: BaseModel) -> StepResult:
        return StepResult(pc.utf8_lower(text))


class Title(TextFunction):
    """Capitalise each word ('o'brien' -> "O'Brien"); the rest of each word is lowered."""

    name = "title"
    doc_example = DocExample(step="title", inputs=[["JEAN-LUC PICARD"]], output=["Jean-Luc Picard"])

    def transform(self, text: pa.Array, args: BaseModel) -> StepResult:
        return StepResult(pc.utf8_title(text))


class CollapseWhitespace(TextFunction):
    """Runs of blanks, tabs, newlines and no-break spaces become one space; ends trimmed."""

    name = "collapse_whitespace"
    doc_example = DocExample(
        step="collapse_whitespace", inputs=[["  12   Main\tSt  "]], output=["12 Main St"]
    )

    def transform(self, text: pa.Array, args: BaseModel) -> StepResult:
        collapsed = pc.replace_substring_regex(
            text, pattern=r"[\s\x{00A0}\x{202F}]+", replacement=" "
        )
        return StepResult(pc.utf8_trim_whitespace(collapsed))


class ReplaceArgs(StrictModel):
    pattern: str = Field(
        description="Regular expression (RE2 syntax: no look-around or back-references)."
    )
    replacement: str = Field(
        default="", description=r"Replacement text; \1 .. \9 insert the groups of the match."
    )

    @field_validator("pattern")
    @classmethod
    def _pattern_compiles(cls, v: str) -> str:
        # Let Arrow itself judge the pattern, at load time rather than mid-run.
        try:
            pc.replace_substring_regex(pa.array(["x"]), pattern=v, replacement="")
        except pa.ArrowInvalid as e:
            raise ValueError(f"{e} (RE2 syntax: no look-around, no back-references)") from None
        return v

    @model_validator(mode="after")
    def _groups_exist(self) -> ReplaceArgs:
        try:
            pc.replace_substring_regex(
                pa.array(["x"]), pattern=self.pattern, replacement=self.replacement
            )
        except pa.ArrowInvalid as e:
            raise ValueError(f"replacement {self.replacement!r}: {e}") from None
        return self


class Replace(TextFunction):
    """Replace every match of a regular expression."""

    name = "replace"
    args_model = ReplaceArgs
    doc_example = DocExample(
        step=r"replace: {pattern: '[^0-9]', replacement: ''}",
        inputs=[["+33 (0)1-45"]],
        output=["330145"],
    )

    def transform(self, text: pa.Array, args: BaseModel) -> StepResult:
        a = expect_args(args, ReplaceArgs)
        return StepResult(
            pc.replace_substring_regex(text, pattern=a.pattern, replacement=a.replacement)
        )


class SubstringArgs(StrictModel):
    start: int = Field(
        ge=1, description="Position of the first character kept, counting from 1 (as in SQL)."
    )
    length: int | None = Field(
        default=None, ge=0, description="How many characters to keep; omit to keep the rest."
    )

    @field_validator("start", mode="before")
    @classmethod
    def _no_bool(cls, v: object) -> object:
        if isinstance(v, bool):
            msg = "start is a character position (1 is the first), not true/false"
            raise ValueError(msg)  # noqa: TRY004 - pydantic turns ValueError into its error
        return v


class Substring(TextFunction):
    """Characters `start` (1-based) to `start + length - 1`; shorter values give what is
    there ('' past the end)."""

    name = "substring"
    args_model = SubstringArgs
    scalar_arg = "start"
    doc_example = DocExample(
        step="substring: {start: 3, length: 4}", inputs=[["FR75001", "AB"]], output=["7500", ""]
    )

    def transform(self, text: pa.Array, args: BaseModel) -> StepResult:
        a = expect_args(args, SubstringArgs)
        start = a.start - 1
        if a.length is None:
            return StepResult(pc.utf8_slice_codeunits(text, start=start))
        return StepResult(pc.utf8_slice_codeunits(text, start=start, stop=start + a.length))
