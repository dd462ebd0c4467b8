"""Reading legacy text into dates, timestamps and numbers, strictly: a value that does not
read is an error naming it, never a NULL and never a rolled-over date."""

from __future__ import annotations

from typing import Any, ClassVar

import pyarrow as pa
import pyarrow.compute as pc
from pydantic import BaseModel, Field, field_validator, model_validator

from ferryman.mappings._arrow import (
    StepResult,
    as_text,
    errors_where,
    finish,
    full_match,
    is_blank,
    join,
    null_where,
    quoted,
    strptime_strict,
    time_of_day_nonzero,
)
from ferryman.mappings.functions.base import DocExample, SingleInputFunction, expect_args
from ferryman.mappings.model import StrictModel, TypeSpec
from ferryman.mappings.types import cast_column

# Arrow's strptime has no fractional seconds and zoned results cannot be checked.
_UNSUPPORTED = {"%f": "fractional seconds", "%z": "UTC offsets", "%Z": "time zone names"}


class FormatsArgs(StrictModel):
    formats: list[str] = Field(
        min_length=1,
        description="strptime formats tried in order, the first that reads the value wins,"
        " e.g. ['%Y%m%d', '%d/%m/%Y'].",
    )
    pivot: int | None = Field(
        default=None,
        ge=0,
        le=100,
        description="For two-digit years (%y): years below the pivot are 20xx, the others"
        " 19xx (pivot 30: '29' is 2029, '30' is 1930). Default 69, as POSIX.",
    )

    @field_validator("formats", mode="before")
    @classmethod
    def _one_format(cls, v: Any) -> Any:
        return [v] if isinstance(v, str) else v

    @field_validator("formats")
    @classmethod
    def _directives(cls, v: list[str]) -> list[str]:
        for fmt in v:
            if "%" not in fmt:
                raise ValueError(f"format {fmt!r} has no % directive; e.g. '%Y-%m-%d'")
            for directive, what in _UNSUPPORTED.items():
                if directive in fmt:
                    raise ValueError(
                        f"format {fmt!r}: {directive} ({what}) is not supported; timestamps"
                        " are loaded without zone, to the second (ISO text with fractions"
                        " needs no step: the cast to timestamp reads it)"
                    )
        return v

    @model_validator(mode="after")
    def _pivot_needs_short_years(self) -> FormatsArgs:
        if self.pivot is not None and not any("%y" in f for f in self.formats):
            raise ValueError("pivot only applies to two-digit years: no format uses %y")
        return self


class _ParseTemporal(SingleInputFunction):
    """Shared by parse_date and parse_timestamp: try each format, keep the first success."""

    kind: ClassVar[str]
    target: ClassVar[TypeSpec]
    args_model = FormatsArgs
    scalar_arg = "formats"

    def transform_values(self, values: pa.Array, args: BaseModel) -> StepResult:
        a = expect_args(args, FormatsArgs)
        if pa.types.is_date(values.type) or pa.types.is_timestamp(values.type):
            return cast_column(values, self.target)  # already temporal: nothing to read
        raw = as_text(values)
        text = pc.utf8_trim_whitespace(raw)
        parsed = pa.nulls(len(text), pa.timestamp("s"))
        for fmt in a.formats:
            # Later formats only see the rows earlier ones could not read.
            todo = text if fmt == a.formats[0] else null_where(pc.is_valid(parsed), text)
            one = strptime_strict(todo, fmt, unit="s")
            if "%y" in fmt and a.pivot is not None:
                one = _repivot(one, a.pivot)
            parsed = pc.coalesce(parsed, one)
        bad = pc.and_(pc.is_valid(text), pc.is_null(parsed))
        return self._finish(raw, parsed, bad, a.formats)

    def _finish(
        self, raw: pa.Array, parsed: pa.Array, bad: pa.Array, formats: list[str]
    ) -> StepResult:
        listed = ", ".join(formats)
        which = f"any of the formats {listed}" if len(formats) > 1 else f"the format {listed}"
        return StepResult(
            pc.cast(parsed, arrow_of(self.target), safe=False),
            errors_where(
                bad,
                lambda: pc.if_else(
                    is_blank(raw),
                    join(
                        quoted(raw), f" is blank, not a {self.kind}; add '' to the field's `nulls:`"
                    ),
                    join(quoted(raw), f" is not a valid {self.kind} in {which}"),
                ),
            ),
        )


def _repivot(parsed: pa.Array, pivot: int) -> pa.Array:
    """Move two-digit years to the century the pivot says (Arrow reads 00-68 as 20xx)."""
    year = pc.year(parsed)
    yy = pc.subtract(year, pc.multiply(pc.divide(year, 100), 100))
    wanted = pc.if_else(pc.less(yy, pivot), pc.add(yy, 2000), pc.add(yy, 1900))
    moved = pc.binary_join_element_wise(
        pc.utf8_lpad(pc.cast(wanted, pa.string()), width=4, padding="0"),
        pc.strftime(parsed, format="-%m-%d %H:%M:%S"),
        "",
    )
    # 29 February of a year that is not a leap year in the other century: no such day.
    return strptime_strict(moved, "%Y-%m-%d %H:%M:%S", unit="s")


def arrow_of(t: TypeSpec) -> pa.DataType:
    return pa.date32() if t.name == "date" else pa.timestamp("us")


class ParseDate(_ParseTemporal):
    """Read dates written in legacy formats; impossible dates (20230231) are errors."""

    name = "parse_date"
    kind = "date"
    target = TypeSpec(name="date")
    doc_example = DocExample(
        step="parse_date: {formats: ['%Y%m%d', '%d/%m/%Y']}",
        inputs=[["20190315", "15/03/2019", "20230231", None]],
        output=["2019-03-15", "2019-03-15", None, None],
        errors=[
            None,
            None,
            "'20230231' is not a valid date in any of the formats %Y%m%d, %d/%m/%Y",
            None,
        ],
    )

    def _finish(
        self, raw: pa.Array, parsed: pa.Array, bad: pa.Array, formats: list[str]
    ) -> StepResult:
        result = super()._finish(raw, parsed, bad, formats)
        # A format with a time part must not let a time of day vanish into a date.
        timed = time_of_day_nonzero(parsed)
        return finish(
            result.values,
            [
                result.errors,
                errors_where(
                    timed,
                    lambda: join(quoted(raw), " has a time of day; use parse_timestamp to keep it"),
                ),
            ],
        )


class ParseTimestamp(_ParseTemporal):
    """Read timestamps written in legacy formats (to the second, no zone)."""

    name = "parse_timestamp"
    kind = "timestamp"
    target = TypeSpec(name="timestamp")
    doc_example = DocExample(
        step="parse_timestamp: '%d.%m.%Y %H:%M'",
        inputs=[["15.03.2019 14:05", "15.03.2019 25:00"]],
        output=["2019-03-15 14:05:00", None],
        errors=[None, "'15.03.2019 25:00' is not a valid timestamp in the format %d.%m.%Y %H:%M"],
    )


def _re2_char(c: str) -> str:
    return f"\\x{{{ord(c):X}}}"


# Separators by locale (language, or language_REGION where the region differs).
LOCALES: dict[str, tuple[str, str]] = {
    "en": (",", "."),
    "ja": (",", "."),
    "zh": (",", "."),
    "de": (".", ","),
    "nl": (".", ","),
    "it": (".", ","),
    "es": (".", ","),
    "pt": (".", ","),
    "da": (".", ","),
    "id": (".", ","),
    "tr": (".", ","),
    "fr": (" ", ","),
    "sv": (" ", ","),
    "nb": (" ", ","),
    "fi": (" ", ","),
    "pl": (" ", ","),
    "cs": (" ", ","),
    "ru": (" ", ","),
    "de_CH": ("'", "."),
    "fr_CH": ("'", "."),
    "it_CH": ("'", "."),
}


class NumberArgs(StrictModel):
    locale: str | None = Field(
        default=None,
        description="Separators of a locale instead of `thousands`/`decimal`: en (1,234.5),"
        " de (1.234,5), fr (1 234,5), de_CH (1'234.5), ...",
    )
    thousands: str = Field(
        default=",",
        max_length=1,
        description="Thousands separator, '' for none. A space also accepts no-break spaces.",
    )
    decimal: str = Field(default=".", min_length=1, max_length=1, description="Decimal separator.")

    @model_validator(mode="before")
    @classmethod
    def _from_locale(cls, data: Any) -> Any:
        if not isinstance(data, dict) or data.get("locale") is None:
            return data
        locale = str(data["locale"]).replace("-", "_")
        if "thousands" in data or "decimal" in data:
            raise ValueError("give either `locale:` or `thousands:`/`decimal:`, not both")
        seps = LOCALES.get(locale) or LOCALES.get(locale.split("_")[0])
        if seps is None:
            known = ", ".join(sorted(LOCALES))
            raise ValueError(f"unknown locale {data['locale']!r}; use one of {known}")
        return {**data, "thousands": seps[0], "decimal": seps[1]}

    @model_validator(mode="after")
    def _distinct(self) -> NumberArgs:
        if self.thousands == self.decimal:
            raise ValueError(f"thousands and decimal are both {self.decimal!r}; they must differ")
        for sep in (self.thousands, self.decimal):
            if sep and (sep.isdigit() or sep in "+-"):
                raise ValueError(f"{sep!r} cannot be a separator")
        return self

    def thousands_class(self) -> str:
        if self.thousands.isspace():
            return "[ \\x{00A0}\\x{202F}]"
        return _re2_char(self.thousands)

    def example(self) -> str:
        return f"1{self.thousands}234{self.decimal}50"


class ParseNumber(SingleInputFunction):
    """Read numbers with thousands separators and a decimal comma into canonical text
    ('12.500,00' -> '12500.00'), which the field's cast then converts exactly.

    Thousands groups must be groups of three, so '1,5' is not read as 15 when the file
    actually uses a decimal comma. Numbers from SQL sources pass through unchanged.
    """

    name = "parse_number"
    args_model = NumberArgs
    doc_example = DocExample(
        step="parse_number: {thousands: '.', decimal: ','}",
        inputs=[["12.500,00", "-3,5", "1.2.3"]],
        output=["12500.00", "-3.5", None],
        errors=[None, None, "'1.2.3' is not a number written like 1.234,50"],
    )

    def transform_values(self, values: pa.Array, args: BaseModel) -> StepResult:
        if pa.types.is_integer(values.type) or pa.types.is_floating(values.type):
            return StepResult(values)
        if pa.types.is_decimal(values.type):
            return StepResult(values)
        a = expect_args(args, NumberArgs)
        raw = as_text(values)
        text = pc.utf8_trim_whitespace(raw)
        d = _re2_char(a.decimal)
        whole = rf"\d{{1,3}}(?:{a.thousands_class()}\d{{3}})+|\d+" if a.thousands else r"\d+"
        ok = full_match(text, rf"[+-]?(?:(?:{whole})(?:{d}\d*)?|{d}\d+)")
        canon = text
        if a.thousands:
            canon = pc.replace_substring_regex(canon, pattern=a.thousands_class(), replacement="")
        canon = pc.replace_substring_regex(canon, pattern=d, replacement=".")
        canon = pc.replace_substring_regex(canon, pattern=r"^\+", replacement="")
        canon = pc.replace_substring_regex(canon, pattern=r"^(-?)\.", replacement=r"\10.")
        canon = pc.replace_substring_regex(canon, pattern=r"\.$", replacement="")
        bad = pc.and_(pc.is_valid(text), pc.invert(pc.fill_null(ok, False)))
        sep = "no thousands separator" if not a.thousands else None
        like = a.example() if sep is None else f"{a.example()} ({sep})"
        return finish(
            null_where(bad, canon),
            [
                errors_where(
                    bad,
                    lambda: pc.if_else(
                        is_blank(raw),
                        join(
                            quoted(raw), " is blank, not a number; add '' to the field's `nulls:`"
                        ),
                        join(quoted(raw), f" is not a number written like {like}"),
                    ),
                )
            ],
        )
