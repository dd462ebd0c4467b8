"""The casts added to the core ones of `ferryman.mappings.types`: time of day, timestamps with a
zone (and the source's time zone), uuid, json and binary.

Same rules as every cast: a non-null value that does not convert gets a per-row error,
never a NULL. Vectorized with pyarrow.compute, except json validation and hex/base64
decoding, which Arrow cannot do: those run in Python once per *distinct* value of the
batch (legacy columns repeat a lot).
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from ferryman.mappings._arrow import (
    StepResult,
    as_text,
    errors_where,
    falsy_nulls,
    finish,
    full_match,
    join,
    not_a,
    null_where,
    quoted,
)
from ferryman.mappings.options import CastOptions

_TIME = r"(?P<h>[01]?\d|2[0-3]):(?P<m>[0-5]\d)(?::(?P<s>[0-5]\d)(?:\.(?P<f>\d{1,6}))?)?"
_OFFSET = r"(?:Z|[+-](?:[01]\d|2[0-3]):?[0-5]\d)"
UTC = "UTC"


# --- time of day --------------------------------------------------------------------------


def cast_time(values: pa.Array) -> StepResult:
    """'14:05', '14:05:09', '9:05:09.25' -> time64[us]; times pass; timestamps refuse."""
    if pa.types.is_time(values.type):
        return StepResult(pc.cast(values, pa.time64("us")))
    if pa.types.is_timestamp(values.type) or pa.types.is_date(values.type):
        message = " has a date; use type timestamp, or substring the time part first"
        return _refuse_all(values, pa.time64("us"), message)
    text = pc.utf8_trim_whitespace(as_text(values))
    ok = falsy_nulls(full_match(text, _TIME))
    parts = pc.extract_regex(null_where(pc.invert(ok), text), pattern=f"^{_TIME}$")
    h, m, s, f = (pc.struct_field(parts, [i]) for i in range(4))
    seconds = pc.add(
        pc.multiply(pc.cast(h, pa.int64()), 3600), pc.multiply(pc.cast(m, pa.int64()), 60)
    )
    seconds = pc.add(seconds, pc.cast(pc.if_else(pc.equal(s, ""), "0", s), pa.int64()))
    micros = pc.cast(pc.utf8_rpad(f, width=6, padding="0"), pa.int64())
    total = pc.add(pc.multiply(seconds, 1_000_000), micros)
    converted = pc.cast(total, pa.time64("us"))
    bad = pc.and_(pc.is_valid(text), pc.invert(ok))
    hint = " (expected HH:MM[:SS[.ffffff]], 00:00 to 23:59:59.999999)"
    return finish(converted, [errors_where(bad, lambda: not_a(text, "a valid time", hint))])


def _refuse_all(values: pa.Array, target: pa.DataType, message: str) -> StepResult:
    errors = errors_where(pc.is_valid(values), lambda: join(quoted(as_text(values)), message))
    return StepResult(pa.nulls(len(values), target), errors)


# --- time zones ---------------------------------------------------------------------------


def zone_of(options: CastOptions | None) -> str:
    return options.timezone if options is not None and options.timezone else UTC


def assume_zone(naive: pa.Array, zone: str, shown: pa.Array | None = None) -> StepResult:
    """Local wall times in `zone` -> UTC instants (timestamp[us, UTC]).

    A wall time that a daylight-saving change skips (02:30 on a spring-forward night) or
    repeats (02:30 on a fall-back night) has no single instant: an error, never a guess.
    """
    naive = pc.cast(naive, pa.timestamp("us"))
    if zone == UTC:
        return StepResult(pc.cast(naive, pa.timestamp("us", tz=UTC)))
    early = pc.assume_timezone(naive, timezone=zone, ambiguous="earliest", nonexistent="earliest")
    late = pc.assume_timezone(naive, timezone=zone, ambiguous="latest", nonexistent="latest")
    unclear = falsy_nulls(pc.not_equal(early, late))
    converted = pc.cast(null_where(unclear, early), pa.timestamp("us", tz=UTC))
    message = (
        f" does not exist or is ambiguous in {zone} (a daylight-saving change);"
        " fix the source value or give it a UTC offset"
    )
    text = as_text(naive) if shown is None else shown
    return finish(converted, [errors_where(unclear, lambda: join(quoted(text), message))])


def wall_time(instants: pa.Array, zone: str) -> pa.Array:
    """Zoned timestamps -> the naive wall time in `zone`."""
    unit = instants.type.unit
    return pc.local_timestamp(pc.cast(instants, pa.timestamp(unit, tz=zone)))


def split_offset(text: pa.Array) -> tuple[pa.Array, pa.Array]:
    """ISO text -> (the text without its UTC offset, the offset in minutes or null)."""
    has = falsy_nulls(pc.match_substring_regex(text, pattern=f"\\d{_OFFSET}$"))
    bare = pc.replace_substring_regex(text, pattern=f"{_OFFSET}$", replacement="")
    bare = pc.if_else(has, bare, text)
    offset = pc.extract_regex(
        pc.if_else(has, text, pa.scalar(None, pa.string())),
        pattern=r"(?P<sign>[+-]?)(?P<hh>\d\d)?:?(?P<mm>\d\d)?$",
    )
    is_z = pc.ends_with(text, "Z")
    hh = pc.cast(pc.if_else(pc.equal(offset.field(1), ""), "0", offset.field(1)), pa.int64())
    mm = pc.cast(pc.if_else(pc.equal(offset.field(2), ""), "0", offset.field(2)), pa.int64())
    minutes = pc.add(pc.multiply(hh, 60), mm)
    minutes = pc.if_else(pc.equal(offset.field(0), "-"), pc.negate(minutes), minutes)
    minutes = pc.if_else(falsy_nulls(is_z), 0, minutes)
    return bare, null_where(pc.invert(has), minutes)


def apply_offset(naive: pa.Array, minutes: pa.Array) -> pa.Array:
    """Naive local times with a UTC offset -> UTC instants."""
    micros = pc.multiply(pc.cast(pc.fill_null(minutes, 0), pa.int64()), 60_000_000)
    shifted = pc.subtract(pc.cast(naive, pa.int64()), micros)
    return pc.cast(pc.cast(shifted, pa.timestamp("us")), pa.timestamp("us", tz=UTC))


# --- uuid, json, binary -------------------------------------------------------------------


def cast_uuid(values: pa.Array) -> StepResult:
    """Any common spelling ('{A1B2...}', 'urn:uuid:...', 32 hex digits) -> canonical
    lower-case 8-4-4-4-12 text."""
    raw = as_text(values)
    text = pc.utf8_lower(pc.utf8_trim_whitespace(raw))
    text = pc.replace_substring_regex(text, pattern=r"^urn:uuid:|^\{|\}$", replacement="")
    hexes = pc.replace_substring_regex(text, pattern="-", replacement="")
    shape = r"[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}"
    ok = falsy_nulls(full_match(text, shape))
    canon = pc.replace_substring_regex(
        hexes,
        pattern=r"^(.{8})(.{4})(.{4})(.{4})(.{12})$",
        replacement=r"\1-\2-\3-\4-\5",
    )
    bad = pc.and_(pc.is_valid(raw), pc.invert(ok))
    hint = " (expected 32 hex digits, as 8-4-4-4-12)"
    return finish(null_where(bad, canon), [errors_where(bad, lambda: not_a(raw, "a uuid", hint))])


def _json_problem(text: str) -> str | None:
    def refuse(name: str) -> Any:
        raise ValueError(f"{name} is not JSON")

    try:
        json.loads(text, parse_constant=refuse)
    except ValueError as e:  # json.JSONDecodeError is a ValueError
        return str(e).split(":")[0] if isinstance(e, json.JSONDecodeError) else str(e)
    return None


def cast_json(values: pa.Array) -> StepResult:
    """Text that parses as JSON, kept as written (stripped); anything else is an error.
    Per distinct value in Python: Arrow has no JSON validator for single values."""
    raw = as_text(values)
    text = pc.utf8_trim_whitespace(raw)
    problems = per_value(text, _json_problem, pa.string())
    bad = pc.is_valid(problems)
    blank = pc.and_(bad, falsy_nulls(pc.equal(text, "")))
    return finish(
        text,
        [
            errors_where(blank, lambda: not_a(raw, "JSON")),
            errors_where(bad, lambda: join(quoted(raw), " is not valid JSON: ", problems)),
        ],
    )


def _unhex(text: str) -> bytes:
    body = text[2:] if text[:2] in ("\\x", "0x", "0X") else text
    return bytes.fromhex(body)


def _unbase64(text: str) -> bytes:
    return base64.b64decode(text, validate=True)


def cast_binary(values: pa.Array, options: CastOptions | None) -> StepResult:
    """Bytes pass; text is decoded as `cast.encoding` says (hex by default)."""
    if pa.types.is_binary(values.type) or pa.types.is_large_binary(values.type):
        return StepResult(pc.cast(values, pa.binary()))
    if pa.types.is_fixed_size_binary(values.type):
        return StepResult(pc.cast(values, pa.binary()))
    encoding = options.encoding if options is not None and options.encoding else "hex"
    raw = as_text(values)
    if encoding == "utf8":
        return StepResult(pc.cast(raw, pa.binary()))
    decode = _unhex if encoding == "hex" else _unbase64
    text = pc.utf8_trim_whitespace(raw)

    def attempt(value: str) -> bytes | None:
        try:
            return decode(value)
        except (ValueError, binascii.Error):
            return None

    decoded = per_value(text, attempt, pa.binary())
    bad = pc.and_(pc.is_valid(text), pc.is_null(decoded))
    return finish(
        decoded, [errors_where(bad, lambda: not_a(raw, f"{encoding} text", " (cast.encoding)"))]
    )


def per_value(text: pa.Array, fn: Callable[[str], Any], out: pa.DataType) -> pa.Array:
    """`fn` applied once per distinct non-null value, spread back over the rows."""
    distinct = pc.unique(text.drop_null())
    results = pa.array([fn(v) for v in distinct.to_pylist()], out)
    return pc.take(results, pc.index_in(text, value_set=distinct))
