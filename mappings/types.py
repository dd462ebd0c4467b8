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
  `timestamp` takes ISO text ('YYYY-MM-DD[ HH:MM[:SS[.ffffff]]]', 'T' allowed, a UTC
  offset too), dates and timestamps. Other formats need a `parse_date` /
  `parse_timestamp` step;
- `timestamptz` is an instant (UTC underneath): naive values are local times in the
  field's `cast.timezone`; a wall time that a daylight-saving change skips or repeats is
  an error; `timestamp` stores zoned values as their wall time in that zone;
- `time` takes 'HH:MM[:SS[.ffffff]]'; `uuid` any common spelling, stored canonical;
  `json` text that parses, stored as canonical JSON text (`ferryman.connectors.json_text`: keys
  sorted, no whitespace, numbers in plain decimals with their digits) so it reads back the
  same from jsonb; JSON that canonical text would change is an error (a repeated key, a
  \\u0000, a number PostgreSQL cannot hold); `binary` bytes, or hex/base64/utf8 text
  (`cast.encoding`).

`cast.true_words` / `cast.false_words` replace the words a boolean accepts.
"""

from __future__ import annotations

from collections.abc import Callable

import pyarrow as pa
import pyarrow.compute as pc

from ferryman.connectors.json_text import canonical_json
from ferryman.mappings._arrow import (
    StepResult,
    as_array,
    as_text,
    errors_where,
    falsy_nulls,
    finish,
    first_error,
    full_match,
    iso_date_strict,
    join,
    not_a,
    null_where,
    quoted,
    time_of_day_nonzero,
)
from ferryman.mappings._casts import (
    apply_offset,
    assume_zone,
    cast_binary,
    cast_json,
    cast_time,
    cast_uuid,
    per_value,
    split_offset,
    wall_time,
    zone_of,
)
from ferryman.mappings.model import CastOptions, TypeSpec

_INT_BOUNDS = {"integer": (-(2**31), 2**31 - 1), "bigint": (-(2**63), 2**63 - 1)}
_TRUE = ["true", "t", "yes", "y", "1"]
_FALSE = ["false", "f", "no", "n", "0"]
_FLOAT_SYNTAX = r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?"
_ISO_DATE = r"\d{4}-\d{2}-\d{2}"
_ISO_TIMESTAMP = _ISO_DATE + r"([ T]([01]\d|2[0-3]):[0-5]\d(:[0-5]\d(\.\d{1,6})?)?)?"


_ARROW: dict[str, pa.DataType] = {
    "integer": pa.int32(),
    "bigint": pa.int64(),
    "float": pa.float64(),
    "boolean": pa.bool_(),
    "string": pa.string(),
    "date": pa.date32(),
    "time": pa.time64("us"),
    "timestamp": pa.timestamp("us"),
    "timestamptz": pa.timestamp("us", tz="UTC"),
    "uuid": pa.string(),  # canonical text; see max_length
    "json": pa.string(),  # the JSON text as written
    "binary": pa.binary(),
}


def arrow_type(t: TypeSpec) -> pa.DataType:
    """The Arrow type that holds values of target type `t`."""
    if t.name == "decimal":
        return pa.decimal128(t.precision or 38, t.scale or 0)
    return _ARROW[t.name]


def max_length(t: TypeSpec) -> int | None:
    """The text length a column of type `t` needs, when it is bounded."""
    if t.name == "string":
        return t.length
    return 36 if t.name == "uuid" else None


def logical_type(t: TypeSpec) -> str | None:
    """What a target needs besides the Arrow type to create its native column type:
    "uuid" and "json" (both are text in batches), else None."""
    return t.name if t.name in ("uuid", "json") else None


def cast_column(
    values: pa.Array | pa.ChunkedArray, t: TypeSpec, options: CastOptions | None = None
) -> StepResult:
    """Cast `values` (any Arrow type) to target type `t`, strictly (see the module doc).
    `options` are the field's `cast:` options (boolean words, time zone, encoding).

    Never raises because of the data: failing rows come back as null values with a message.
    """
    values = as_array(values)
    target = arrow_type(t)
    if pa.types.is_null(values.type) or values.null_count == len(values):
        return StepResult(pa.nulls(len(values), target))
    if pa.types.is_dictionary(values.type):
        values = values.dictionary_decode()
    return _CASTS[t.name](values, t, options)


# --- messages -----------------------------------------------------------------------------


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
            errors_where(not_int, lambda: not_a(text, what)),
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
            errors_where(not_dec, lambda: not_a(text, "a decimal number")),
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
            errors_where(not_num, lambda: not_a(text, "a number")),
            errors_where(overflow, lambda: join(quoted(text), " is too large for float")),
        ],
    )


# --- booleans and strings -----------------------------------------------------------------


def _cast_boolean(values: pa.Array, t: TypeSpec, options: CastOptions | None) -> StepResult:
    true_words = options.true_words if options is not None and options.true_words else None
    false_words = options.false_words if options is not None and options.false_words else None
    if pa.types.is_boolean(values.type):
        return StepResult(values)
    trues = [w.strip().lower() for w in true_words] if true_words else _TRUE
    falses = [w.strip().lower() for w in false_words] if false_words else _FALSE
    text = pc.utf8_lower(_stripped(values))
    is_true = pc.is_in(text, value_set=pa.array(trues, pa.string()))
    is_false = pc.is_in(text, value_set=pa.array(falses, pa.string()))
    known = pc.or_(is_true, is_false)
    converted = null_where(pc.invert(known), is_true)
    converted = null_where(pc.is_null(text), converted)
    bad = pc.and_(pc.is_valid(text), pc.invert(known))
    hint = f" (true: {'/'.join(trues)}; false: {'/'.join(falses)}; see the field's cast:)"
    if not (true_words or false_words):
        hint = " (use true/false, yes/no, y/n, t/f or 1/0, or set cast.true_words/false_words)"
    return finish(converted, [errors_where(bad, lambda: not_a(as_text(values), "a boolean", hint))])


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


# --- json ---------------------------------------------------------------------------------


def _cast_json(values: pa.Array) -> StepResult:
    """Valid JSON text (`cast_json`) in its canonical spelling, once per distinct value."""
    checked = cast_json(values)
    outcomes: dict[str, tuple[str | None, str | None]] = {}

    def canonical(text: str) -> tuple[str | None, str | None]:
        if text not in outcomes:
            try:
                outcomes[text] = (canonical_json(text), None)
            except ValueError as e:
                outcomes[text] = (None, str(e))
        return outcomes[text]

    text = checked.values
    converted = per_value(text, lambda v: canonical(v)[0], pa.string())
    problems = per_value(text, lambda v: canonical(v)[1], pa.string())
    raw = as_text(values)
    return finish(
        converted,
        [
            checked.errors,
            errors_where(
                pc.is_valid(problems),
                lambda: join(quoted(raw), " cannot be stored as JSON exactly: ", problems),
            ),
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
    parsed = iso_date_strict(null_where(pc.invert(syntax), text))
    bad = pc.and_(pc.is_valid(text), pc.is_null(parsed))
    hint = " (expected YYYY-MM-DD; add a parse_date step for other formats)"
    converted = pc.cast(parsed, pa.date32())
    return finish(converted, [errors_where(bad, lambda: not_a(text, "a valid date", hint))])


def _cast_timestamp(values: pa.Array, t: TypeSpec, options: CastOptions | None) -> StepResult:
    """Naive timestamp: zoned values (and text with a UTC offset) become their wall time in
    `cast.timezone` (UTC by default); naive values are kept as they are."""
    zone = zone_of(options)
    if pa.types.is_date(values.type):
        return StepResult(pc.cast(values, pa.timestamp("us")))
    if pa.types.is_timestamp(values.type):
        if values.type.tz is not None:
            values = wall_time(values, zone)
        return _timestamp_to_us(values)
    text = _stripped(values)
    bare, offset = split_offset(text)
    naive, bad = _naive_from_text(bare)
    shifted = wall_time(apply_offset(naive, offset), zone)
    converted = pc.if_else(pc.is_valid(offset), shifted, naive)
    return finish(converted, [_bad_timestamp(text, bad)])


def _cast_timestamptz(values: pa.Array, t: TypeSpec, options: CastOptions | None) -> StepResult:
    """An instant (stored in UTC): naive values are local times in `cast.timezone` (UTC by
    default); zoned values and text with a UTC offset say their own zone."""
    zone = zone_of(options)
    if pa.types.is_date(values.type):
        return assume_zone(pc.cast(values, pa.timestamp("us")), zone)
    if pa.types.is_timestamp(values.type):
        if values.type.tz is not None:
            exact = _timestamp_to_us(pc.cast(values, pa.timestamp(values.type.unit)))
            return StepResult(pc.cast(exact.values, pa.timestamp("us", tz="UTC")), exact.errors)
        exact = _timestamp_to_us(values)
        zoned = assume_zone(exact.values, zone)
        return StepResult(zoned.values, first_error(exact.errors, zoned.errors))
    text = _stripped(values)
    bare, offset = split_offset(text)
    naive, bad = _naive_from_text(bare)
    local = assume_zone(null_where(pc.is_valid(offset), naive), zone, text)
    converted = pc.if_else(pc.is_valid(offset), apply_offset(naive, offset), local.values)
    return finish(converted, [_bad_timestamp(text, bad), local.errors])


def _naive_from_text(text: pa.Array) -> tuple[pa.Array, pa.Array]:
    """ISO text (no offset) -> (timestamp[us], mask of rows that are not one)."""
    syntax = falsy_nulls(full_match(text, _ISO_TIMESTAMP))
    date_part = pc.utf8_slice_codeunits(text, start=0, stop=10)
    real_day = pc.is_valid(iso_date_strict(null_where(pc.invert(syntax), date_part)))
    ok = pc.and_(syntax, falsy_nulls(real_day))
    converted = pc.cast(null_where(pc.invert(ok), text), pa.timestamp("us"))
    return converted, pc.and_(pc.is_valid(text), pc.invert(ok))


def _bad_timestamp(text: pa.Array, bad: pa.Array) -> pa.Array | None:
    hint = (
        " (expected YYYY-MM-DD[ HH:MM[:SS[.ffffff]]][Z|+HH:MM]; add a parse_timestamp step"
        " for other formats)"
    )
    return errors_where(bad, lambda: not_a(text, "a valid timestamp", hint))


def _naive(values: pa.Array) -> pa.Array:
    """Zoned timestamps as their UTC wall time (Arrow stores UTC underneath)."""
    if values.type.tz is None:
        return values
    return wall_time(values, "UTC")


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


Cast = Callable[[pa.Array, TypeSpec, CastOptions | None], StepResult]


def _plain(cast: Callable[[pa.Array, TypeSpec], StepResult]) -> Cast:
    """A cast that takes no options."""
    return lambda values, t, options: cast(values, t)


_CASTS: dict[str, Cast] = {
    "integer": _plain(_cast_integer),
    "bigint": _plain(_cast_integer),
    "decimal": _plain(_cast_decimal),
    "float": _plain(_cast_float),
    "boolean": _cast_boolean,
    "string": _plain(_cast_string),
    "date": _plain(_cast_date),
    "time": lambda values, t, options: cast_time(values),
    "timestamp": _cast_timestamp,
    "timestamptz": _cast_timestamptz,
    "uuid": lambda values, t, options: cast_uuid(values),
    "json": lambda values, t, options: _cast_json(values),
    "binary": lambda values, t, options: cast_binary(values, options),
}
