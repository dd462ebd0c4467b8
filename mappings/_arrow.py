"""Small pyarrow.compute helpers shared by the transform functions, the casts and the
expression evaluator: text conversion, per-row error arrays, and strict date parsing.

Everything here works on whole columns; nothing loops over rows in Python.

Per-row errors travel as a `pa.string()` array beside the values: null where the row is
fine, else a sentence about the value. Such a row is quarantined by the mapping, so every
helper that can fail on a row sets that row's value to null and its error to a message,
and never raises because of the data.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import pyarrow as pa
import pyarrow.compute as pc

# A raw value longer than this is shortened in messages: the quarantine keeps it whole.
_SHOWN_CHARS = 60


@dataclass(frozen=True)
class StepResult:
    """The output of a transform step or a cast: values plus per-row errors.

    `errors` is `pa.string()`, null where the row is fine, else a message; rows with a
    message are quarantined. None means no row failed.
    """

    values: pa.Array
    errors: pa.Array | None = None


def as_array(values: pa.Array | pa.ChunkedArray) -> pa.Array:
    """One contiguous array (table columns arrive chunked)."""
    if isinstance(values, pa.ChunkedArray):
        return values.combine_chunks()
    return values


def as_text(values: pa.Array) -> pa.Array:
    """The values as `pa.string()`: numbers and dates in their usual text form."""
    values = as_array(values)
    if pa.types.is_dictionary(values.type):
        values = values.dictionary_decode()
    if pa.types.is_string(values.type):
        return values
    if pa.types.is_binary(values.type) or pa.types.is_large_binary(values.type):
        try:
            return pc.cast(values, pa.string())
        except pa.ArrowInvalid:
            # Undecodable bytes: shown as \x.. escapes, so they stay visible and every
            # text kernel can read them (once per distinct value).
            distinct = pc.unique(values.drop_null())
            decoded = [v.decode("utf-8", "backslashreplace") for v in distinct.to_pylist()]
            return pc.take(pa.array(decoded, pa.string()), pc.index_in(values, value_set=distinct))
    return pc.cast(values, pa.string())


def is_text(t: pa.DataType) -> bool:
    """Text (or the type of an all-NULL column, which can stand for text)."""
    return bool(pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_null(t))


def falsy_nulls(mask: pa.Array) -> pa.Array:
    """A boolean mask where null counts as false."""
    return pc.fill_null(mask, False)


def null_where(mask: pa.Array, values: pa.Array) -> pa.Array:
    """`values` with the rows where `mask` is true set to null."""
    return pc.if_else(falsy_nulls(mask), pa.scalar(None, values.type), values)


def quoted(values: pa.Array) -> pa.Array:
    """`'value'` for messages, shortened with an ellipsis past a readable length."""
    text = as_text(values)
    long = pc.greater(pc.utf8_length(text), _SHOWN_CHARS)
    short = pc.binary_join_element_wise(
        pc.utf8_slice_codeunits(text, start=0, stop=_SHOWN_CHARS), "…", ""
    )
    return pc.binary_join_element_wise("'", pc.if_else(long, short, text), "'", "")


def join(*parts: pa.Array | str) -> pa.Array:
    """Concatenate text arrays and literals row by row (null if any part is null)."""
    return pc.binary_join_element_wise(*parts, "")


def errors_where(
    mask: pa.Array, message: pa.Array | str | Callable[[], pa.Array]
) -> pa.Array | None:
    """An error array: `message` where `mask` is true, null elsewhere; None if no row.

    Pass the message as a callable to build it only when some row fails: on clean
    batches (the common case) no message text is computed at all.
    """
    mask = falsy_nulls(mask)
    if not pc.any(mask).as_py():
        return None
    if callable(message):
        message = message()
    msg = pa.scalar(message, pa.string()) if isinstance(message, str) else message
    return pc.if_else(mask, msg, pa.scalar(None, pa.string()))


def first_error(*errors: pa.Array | None) -> pa.Array | None:
    """Per row, the first non-null message among `errors` (earlier checks win)."""
    present = [e for e in errors if e is not None]
    if not present:
        return None
    if len(present) == 1:
        return present[0]
    return pc.coalesce(*present)


def finish(values: pa.Array, errors: Sequence[pa.Array | None]) -> StepResult:
    """A StepResult whose failed rows hold null values (never a half-converted value)."""
    err = first_error(*errors)
    if err is None:
        return StepResult(values)
    return StepResult(null_where(pc.is_valid(err), values), err)


def not_a(text: pa.Array, what: str, hint: str = "") -> pa.Array:
    """ "'1O' is not an integer", with a pointer to `nulls:` when the value is blank."""
    blank = f" is blank, not {what}; add '' to the field's `nulls:` if blank means NULL"
    return pc.if_else(
        is_blank(text), join(quoted(text), blank), join(quoted(text), f" is not {what}{hint}")
    )


def is_blank(text: pa.Array) -> pa.Array:
    """True where a text value is empty or only whitespace."""
    return pc.equal(pc.utf8_trim_whitespace(text), "")


def full_match(text: pa.Array, pattern: str) -> pa.Array:
    """True where the whole value matches the RE2 `pattern` (anchors added here)."""
    return pc.match_substring_regex(text, pattern=f"^(?:{pattern})$")


# --- strict strptime ----------------------------------------------------------------------

# Two-digit fields may be written without their leading zero ('1/2/2019' for %d/%m/%Y):
# drop it on both sides before comparing. Only a lone 0 before one digit is dropped, so a
# year printed as '0019' never equals an input of '19'.
_LEADING_ZERO = r"\b0(\d)\b"


def _comparable(text: pa.Array) -> pa.Array:
    text = pc.utf8_lower(pc.utf8_trim_whitespace(text))
    text = pc.replace_substring_regex(text, pattern=r"\s+", replacement=" ")
    return pc.replace_substring_regex(text, pattern=_LEADING_ZERO, replacement=r"\1")


def strptime_strict(text: pa.Array, fmt: str, unit: str = "s") -> pa.Array:
    """Naive timestamps for the rows of `text` that are valid in `fmt`, null elsewhere.

    Arrow's strptime rolls impossible dates over (20230231 becomes 2023-03-03) and reads
    '19' as the year 0019 for %Y. A row is accepted only when printing the parsed value in
    the same format gives the input back (ignoring case, runs of blanks and the leading
    zero of one- or two-digit fields), which rejects both.
    """
    parsed = pc.strptime(text, format=fmt, unit=unit, error_is_null=True)
    printed = pc.strftime(parsed, format=fmt)
    same = falsy_nulls(pc.equal(_comparable(printed), _comparable(text)))
    return pc.if_else(same, parsed, pa.scalar(None, parsed.type))


def iso_date_strict(text: pa.Array) -> pa.Array:
    """`strptime_strict(text, "%Y-%m-%d")` for text already known to be NNNN-NN-NN (or
    null): printed back, a real day gives exactly the input, so no normalizing is needed."""
    parsed = pc.strptime(text, format="%Y-%m-%d", unit="s", error_is_null=True)
    same = falsy_nulls(pc.equal(pc.strftime(parsed, format="%Y-%m-%d"), text))
    return pc.if_else(same, parsed, pa.scalar(None, parsed.type))


def time_of_day_nonzero(ts: pa.Array) -> pa.Array:
    """True where a timestamp is not at midnight (a date would drop its time)."""
    as_date = pc.cast(pc.cast(ts, pa.date32(), safe=False), ts.type)
    return pc.not_equal(as_date, ts)
