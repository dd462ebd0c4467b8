"""Target types: their Arrow type, and the strict cast of a column into them.

A cast never loses data silently and never turns a value into NULL without saying so: a
non-null value that does not convert gets a per-row error naming the value and the type,
and its row is quarantined. Concretely:

- text is stripped of surrounding whitespace before numeric, boolean and date casts;
- integers must fit the type (int32 for `integer`), floats convert only when integral;
- a decimal with more significant fractional digits than the scale is an error (never
  rounded); '1.500' into decimal(10,2) is fine, nothing is lost;
- `string(N)` never truncates: a longer value is an error;
- `date` takes ISO 'YYYY-MM-DD' text, dates, and timestamps at midnight;
  `timestamp` takes ISO text ('YYYY-MM-DD[ HH:MM[:SS[.ffffff]]]', 'T' allowed), dates
  and timestamps. Other formats need a `parse_date` / `parse_timestamp` step.
"""

from __future__ import annotations

from collections.abc import Callable

import pyarrow as pa
import pyarrow.compute as pc

from mappings._arrow import (
    StepResult,
    as_array,
    as_text,
    errors_where,
    falsy_nulls,
    finish,
    full_match,
    is_blank,
    join,
    null_where,
    quoted,
    strptime_strict,
    time_of_day_nonzero,
)
from mappings.model import TypeSpec

_INT_BOUNDS = {"integer": (-(2**31), 2**31 - 1), "bigint": (-(2**63), 2**63 - 1)}
_TRUE = ["true", "t", "yes", "y", "1"]
_FALSE = ["false", "f", "no", "n", "0"]
_FLOAT_SYNTAX = r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?"
_ISO_DATE = r"\d{4}-\d{2}-\d{2}"
_ISO_TIMESTAMP = _ISO_DATE + r"([ T]([01]\d|2[0-3]):[0-5]\d(:[0-5]\d(\.\d{1,6})?)?)?"


def arrow_type(t: TypeSpec) -> pa.DataType:
    """The Arrow type that holds values of target type `t`."""
    match t.name:
        case "integer":
            return pa.int32()
        case "bigint":
            return pa.int64()
        case "decimal":
            return pa.decimal128(t.precision or 38, t.scale or 0)
        case "float":
            return pa.float64()
        case "boolean":
            return pa.bool_()
        case "string":
            return pa.string()
        case "date":
            return pa.date32()
        case "timestamp":
            return pa.timestamp("us")
    raise ValueError(f"no Arrow type for target type {t}")  # unreachable: TypeName is closed


def cast_column(values: pa.Array | pa.ChunkedArray, t: TypeSpec) -> StepResult:
    """Cast `values` (any Arrow type) to target type `t`, strictly (see the module doc).

    Never raises because of the data: failing rows come back as null values with a message.
    """
    values = as_array(values)
    target = arrow_type(t)
    if pa.types.is_null(values.type) or values.null_count == len(values):
        return StepResult(pa.nulls(len(values), target))
    if pa.types.is_dictionary(values.type):
        values = values.dictionary_decode()
    return _CASTS[t.name](values, t)


# --- messages -----------------------------------------------------------------------------


def _not_a(text: pa.Array, what: str, hint: str = "") -> pa.Array:
    """ "'1O' is not an integer", with a pointer to `nulls:` when the value is blank."""
    blank = f" is blank, not {what}; add '' to the field's `nulls:` if blank means NULL"
    return pc.if_else(
        is_blank(text), join(quoted(text), blank), join(quoted(text), f" is not {what}{hint}")
    )


def _stripped(values: pa.Array) -> pa.Array:
    return pc.utf8_trim_whitespace(as_text(values))


# --- integers -----------------------------------------------------------------------------


def _cast_integer(values: pa.Array, t: TypeSpec) -> StepResult:
    lo, hi = _INT_BOUNDS[t.name]
    target = arrow_type(t)
    what = "an integer" if t.name == "integer" else "an integer (bigint)"
    if pa.types.is_integer(values.type):
        return _integers_in_range(values, values, t)
    if pa.types.is_floating(values.type):
        return _integer_from_float(values, t, what)
    # Text, decimals and anything else go through their text form.
    text = _stripped(values)
    ok = full_match(text, r"[+-]?\d+(\.0*)?")
    digits = pc.replace_substring_regex(text, pattern=r"^\+|\.0*$", replacement="")
    digits = pc.replace_substring_regex(digits, pattern=r"^(-?)0+(\d)", replacement=r"\1\2")
    # Over 19 significant digits cannot fit int64; decimal128(20,0) holds the rest exactly.
    too_long = pc.greater(pc.utf8_length(digits), 20)
    bad = pc.or_(pc.invert(falsy_nulls(ok)), too_long)
    usable = null_where(bad, digits)
    as_dec = pc.cast(usable, pa.decimal128(20, 0))
    out_of_range = pc.or_(pc.less(as_dec, pa.scalar(lo)), pc.greater(as_dec, pa.scalar(hi)))
    out_of_range = pc.or_(falsy_nulls(out_of_range), pc.and_(falsy_nulls(ok), too_long))
    converted = pc.cast(null_where(out_of_range, as_dec), target)
    not_int = pc.and_(pc.is_valid(text), pc.invert(falsy_nulls(ok)))
    return finish(
        converted,
        [
            errors_where(not_int, lambda: _not_a(text, what)),
            errors_where(out_of_range, lambda: _out_of_range(text, t, lo, hi)),
        ],
    )


def _out_of_range(text: pa.Array, t: TypeSpec, lo: int, hi: int) -> pa.Array:
    hint = "; use bigint" if t.name == "integer" else "; use decimal(38,0)"
    return join(quoted(text), f" is out of range for {t} ({lo}..{hi}){hint}")


def _integers_in_range(values: pa.Array, shown: pa.Array, t: TypeSpec) -> StepResult:
    lo, hi = _INT_BOUNDS[t.name]
    bad = pc.or_(pc.less(values, pa.scalar(lo)), pc.greater(values, pa.scalar(hi)))
    converted = pc.cast(null_where(bad, values), arrow_type(t))
    return finish(converted, [errors_where(bad, lambda: _out_of_range(as_text(shown), t, lo, hi))])


def _integer_from_float(values: pa.Array, t: TypeSpec, what: str) -> StepResult:
    values = pc.cast(values, pa.float64())
    finite = falsy_nulls(pc.is_finite(values))
    integral = pc.and_(finite, falsy_nulls(pc.equal(pc.floor(values), values)))
    fraction = pc.and_(finite, pc.invert(integral))
    not_int = pc.and_(pc.is_valid(values), pc.invert(integral))
    lo, hi = _INT_BOUNDS[t.name]
    # 2**63 is exact as a float; anything >= it does not fit int64.
    in_range = pc.and_(pc.greater_equal(values, float(lo)), pc.less(values, float(hi) + 1))
    out_of_range = pc.and_(integral, pc.invert(falsy_nulls(in_range)))
    usable = null_where(pc.or_(not_int, out_of_range), values)
    converted = pc.cast(usable, arrow_type(t))
    text = as_text(values)
    return finish(
        converted,
        [
            errors_where(
                not_int,
                lambda: pc.if_else(
                    fraction,
                    join(quoted(text), f" is not {what} (it has a fraction)"),
                    join(quoted(text), f" is not {what}"),
                ),
            ),
            errors_where(out_of_range, lambda: _out_of_range(text, t, lo, hi)),
        ],
    )


# --- decimals and floats ------------------------------------------------------------------


def _cast_decimal(values: pa.Array, t: TypeSpec) -> StepResult:
    p, s = t.precision or 38, t.scale or 0
    if pa.types.is_floating(values.type):
        return _decimal_from_float(values, t)
    text = pc.replace_substring_regex(_stripped(values), pattern=r"^\+", replacement="")
    ok = falsy_nulls(full_match(text, r"-?(\d+\.?\d*|\.\d+)"))
    # Canonical digits: no leading zeros, no trailing fractional zeros (they lose nothing).
    canon = pc.replace_substring_regex(text, pattern=r"^(-?)0+(\d)", replacement=r"\1\2")
    canon = pc.replace_substring_regex(canon, pattern=r"^(-?)\.", replacement=r"\10.")
    canon = pc.replace_substring_regex(canon, pattern=r"\.(\d*?)0+$", replacement=r".\1")
    canon = pc.replace_substring_regex(canon, pattern=r"\.$", replacement="")
    int_digits = pc.utf8_length(
        pc.replace_substring_regex(canon, pattern=r"^-?0*(\d*).*$", replacement=r"\1")
    )
    frac_digits = pc.utf8_length(
        pc.replace_substring_regex(canon, pattern=r"^[^.]*\.?", replacement="")
    )
    too_precise = pc.and_(ok, pc.greater(frac_digits, s))
    too_big = pc.and_(ok, pc.greater(int_digits, p - s))
    usable = null_where(pc.or_(pc.invert(ok), pc.or_(too_precise, too_big)), canon)
    converted = pc.cast(usable, arrow_type(t))
    not_dec = pc.and_(pc.is_valid(text), pc.invert(ok))
    shown = quoted(text)
    return finish(
        converted,
        [
            errors_where(not_dec, lambda: _not_a(text, "a decimal number")),
            errors_where(
                too_precise,
                lambda: join(
                    shown,
                    " has ",
                    as_text(frac_digits),
                    f" decimal places; {t} allows {s} (no rounding is done:"
                    " fix the source or widen the scale)",
                ),
            ),
            errors_where(
                too_big,
                lambda: join(
                    shown,
                    f" is too large for {t}: it has ",
                    as_text(int_digits),
                    f" digit(s) before the decimal point, the type allows {p - s}",
                ),
            ),
        ],
    )


def _decimal_from_float(values: pa.Array, t: TypeSpec) -> StepResult:
    p, s = t.precision or 38, t.scale or 0
    values = pc.cast(values, pa.float64())
    finite = falsy_nulls(pc.is_finite(values))
    fits = pc.and_(finite, falsy_nulls(pc.less(pc.abs(values), 10.0 ** (p - s))))
    usable = null_where(pc.invert(fits), values)
    # Unsafe cast rounds to the scale; a value that does not come back unchanged had more
    # decimal places than the scale allows.
    converted = pc.cast(usable, arrow_type(t), safe=False)
    # Back through text: Arrow's decimal->float is not correctly rounded, text->float is.
    back = pc.cast(pc.cast(converted, pa.string()), pa.float64())
    exact = falsy_nulls(pc.equal(back, values))
    text = as_text(values)
    not_fit = pc.and_(pc.is_valid(values), pc.invert(fits))
    inexact = pc.and_(fits, pc.invert(exact))
    return finish(
        converted,
        [
            errors_where(not_fit, lambda: join(quoted(text), f" does not fit {t}")),
            errors_where(
                inexact,
                lambda: join(
                    quoted(text), f" has more decimal places than {t} allows (no rounding)"
                ),
            ),
        ],
    )


def _cast_float(values: pa.Array, t: TypeSpec) -> StepResult:
    if pa.types.is_floating(values.type) or pa.types.is_decimal(values.type):
        return StepResult(pc.cast(values, pa.float64(), safe=False))
    if pa.types.is_integer(values.type):
        # Beyond 2**53 a float64 cannot hold every integer: refuse rather than round.
        big = pc.or_(pc.greater(values, 2**53), pc.less(values, -(2**53)))
        converted = pc.cast(null_where(big, values), pa.float64())
        return finish(
            converted,
            [
                errors_where(
                    big,
                    lambda: join(
                        quoted(as_text(values)), " cannot be held exactly by float; use bigint"
                    ),
                )
            ],
        )
    text = _stripped(values)
    ok = falsy_nulls(full_match(text, _FLOAT_SYNTAX))
    converted = pc.cast(null_where(pc.invert(ok), text), pa.float64())
    overflow = pc.and_(ok, pc.invert(falsy_nulls(pc.is_finite(converted))))
    not_num = pc.and_(pc.is_valid(text), pc.invert(ok))
    return finish(
        converted,
        [
            errors_where(not_num, lambda: _not_a(text, "a number")),
            errors_where(overflow, lambda: join(quoted(text), " is too large for float")),
        ],
    )


# --- booleans and strings -----------------------------------------------------------------


def _cast_boolean(values: pa.Array, t: TypeSpec) -> StepResult:
    if pa.types.is_boolean(values.type):
        return StepResult(values)
    text = pc.utf8_lower(_stripped(values))
    is_true = pc.is_in(text, value_set=pa.array(_TRUE))
    is_false = pc.is_in(text, value_set=pa.array(_FALSE))
    known = pc.or_(is_true, is_false)
    converted = null_where(pc.invert(known), is_true)
    converted = null_where(pc.is_null(text), converted)
    bad = pc.and_(pc.is_valid(text), pc.invert(known))
    hint = " (use true/false, yes/no, y/n, t/f or 1/0)"
    return finish(
        converted, [errors_where(bad, lambda: _not_a(as_text(values), "a boolean", hint))]
    )


def _cast_string(values: pa.Array, t: TypeSpec) -> StepResult:
    text = as_text(values)
    if t.length is None:
        return StepResult(text)
    lengths = pc.utf8_length(text)
    long = falsy_nulls(pc.greater(lengths, t.length))
    return finish(
        text,
        [
            errors_where(
                long,
                lambda: join(
                    "value has ",
                    as_text(lengths),
                    f" characters; {t} allows {t.length} (never truncated: shorten it with a"
                    " transform, or widen the column)",
                ),
            )
        ],
    )


# --- dates and timestamps -----------------------------------------------------------------


def _cast_date(values: pa.Array, t: TypeSpec) -> StepResult:
    if pa.types.is_date(values.type):
        return StepResult(pc.cast(values, pa.date32()))
    if pa.types.is_timestamp(values.type):
        naive = _naive(values)
        has_time = falsy_nulls(time_of_day_nonzero(naive))
        converted = pc.cast(null_where(has_time, naive), pa.date32(), safe=False)
        return finish(
            converted,
            [
                errors_where(
                    has_time,
                    lambda: join(
                        quoted(as_text(naive)), " has a time of day; use type timestamp to keep it"
                    ),
                )
            ],
        )
    text = _stripped(values)
    syntax = falsy_nulls(full_match(text, _ISO_DATE))
    parsed = strptime_strict(null_where(pc.invert(syntax), text), "%Y-%m-%d")
    bad = pc.and_(pc.is_valid(text), pc.is_null(parsed))
    hint = " (expected YYYY-MM-DD; add a parse_date step for other formats)"
    converted = pc.cast(parsed, pa.date32())
    return finish(converted, [errors_where(bad, lambda: _not_a(text, "a valid date", hint))])


def _cast_timestamp(values: pa.Array, t: TypeSpec) -> StepResult:
    if pa.types.is_date(values.type):
        return StepResult(pc.cast(values, pa.timestamp("us")))
    if pa.types.is_timestamp(values.type):
        return _timestamp_to_us(_naive(values))
    text = _stripped(values)
    syntax = falsy_nulls(full_match(text, _ISO_TIMESTAMP))
    date_part = pc.utf8_slice_codeunits(text, start=0, stop=10)
    real_day = pc.is_valid(strptime_strict(null_where(pc.invert(syntax), date_part), "%Y-%m-%d"))
    ok = pc.and_(syntax, falsy_nulls(real_day))
    converted = pc.cast(null_where(pc.invert(ok), text), pa.timestamp("us"))
    bad = pc.and_(pc.is_valid(text), pc.invert(ok))
    hint = (
        " (expected YYYY-MM-DD[ HH:MM[:SS[.ffffff]]]; add a parse_timestamp step for other formats)"
    )
    return finish(converted, [errors_where(bad, lambda: _not_a(text, "a valid timestamp", hint))])


def _naive(values: pa.Array) -> pa.Array:
    """Zoned timestamps as their UTC wall time (Arrow stores UTC underneath)."""
    if values.type.tz is None:
        return values
    return pc.cast(values, pa.timestamp(values.type.unit))


def _timestamp_to_us(values: pa.Array) -> StepResult:
    if values.type.unit != "ns":
        return StepResult(pc.cast(values, pa.timestamp("us")))
    ns = pc.cast(values, pa.int64())
    lossy = falsy_nulls(pc.not_equal(pc.subtract(ns, pc.multiply(pc.divide(ns, 1000), 1000)), 0))
    converted = pc.cast(null_where(lossy, values), pa.timestamp("us"))
    return finish(
        converted,
        [
            errors_where(
                lossy,
                lambda: join(
                    quoted(as_text(values)), " has nanoseconds; timestamp keeps microseconds"
                ),
            )
        ],
    )


_CASTS: dict[str, Callable[[pa.Array, TypeSpec], StepResult]] = {
    "integer": _cast_integer,
    "bigint": _cast_integer,
    "decimal": _cast_decimal,
    "float": _cast_float,
    "boolean": _cast_boolean,
    "string": _cast_string,
    "date": _cast_date,
    "timestamp": _cast_timestamp,
}
