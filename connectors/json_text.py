"""Canonical JSON text: one spelling per JSON value, so that what ferryman writes and what
an engine hands back compare (and hash) alike.

PostgreSQL's jsonb and MySQL's JSON keep the value, not the text: they reorder keys,
change whitespace and spell numbers their own way. ferryman therefore writes JSON in this
canonical form everywhere and reads a normalising column back into it:

- objects with their keys sorted (by code point), no whitespace between tokens;
- strings as `json.dumps(..., ensure_ascii=False)` spells them;
- numbers in plain decimal notation with the digits they were given: `1e2` is `100`,
  `2.50` stays `2.50`, `1.5E-3` is `0.0015`, `-0` is `0` (what jsonb's numeric keeps).

Values canonicalisation would change or an engine cannot store are refused instead of
silently altered: an object that repeats a key (jsonb keeps only the last), a `\\u0000` in a
string (jsonb refuses it), a lone UTF-16 surrogate (not UTF-8), a number outside
PostgreSQL's numeric range.
"""

from __future__ import annotations

import decimal
import json
from typing import Any

# PostgreSQL's numeric: up to 131072 digits before the decimal point, 16383 after.
_MAX_INT_DIGITS = 131072
_MAX_SCALE = 16383


class JsonProblem(ValueError):
    """The text is JSON, but not JSON ferryman can store exactly (see the module doc)."""


def canonical_json(text: str) -> str:
    """The canonical spelling of JSON `text`. Raises ValueError (json.JSONDecodeError) when
    it is not JSON, JsonProblem when it cannot be stored exactly."""
    try:
        value = json.loads(
            text,
            parse_float=decimal.Decimal,
            parse_int=decimal.Decimal,  # no int() digit limit, one number type
            parse_constant=_refuse_constant,
            object_pairs_hook=_unique_keys,
        )
    except RecursionError:
        raise JsonProblem("it nests deeper than the JSON parser can follow") from None
    return canonical_value(value)


def canonical_value(value: Any) -> str:
    """The canonical JSON text of a parsed value (dicts, lists, str, numbers, bool, None),
    e.g. what a driver returned for a JSON column."""
    out = _dump(value)
    try:
        out.encode("utf-8")
    except UnicodeEncodeError:
        raise JsonProblem(
            "it has a lone UTF-16 surrogate escape (\\ud800-\\udfff), which is not text"
        ) from None
    return out


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise JsonProblem(
                f"an object has the key {key!r} twice; JSON keys must be unique (jsonb would"
                " keep only the last)"
            )
        out[key] = value
    return out


class _Token(str):
    """JSON punctuation (with a key), already spelt: not a value to serialise."""


def _dump(value: Any) -> str:
    """Serialise with an explicit stack: nesting as deep as the parser took is fine."""
    out: list[str] = []
    stack: list[Any] = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, _Token):
            out.append(item)
        elif isinstance(item, dict):
            parts: list[Any] = [_Token("{")]
            for i, (k, v) in enumerate(sorted(item.items(), key=lambda kv: str(kv[0]))):
                parts += [_Token(("," if i else "") + _scalar(str(k)) + ":"), v]
            stack.extend(reversed([*parts, _Token("}")]))
        elif isinstance(item, list | tuple):
            parts = [_Token("[")]
            for i, v in enumerate(item):
                parts += [_Token(","), v] if i else [v]
            stack.extend(reversed([*parts, _Token("]")]))
        else:
            out.append(_scalar(item))
    return "".join(out)


def _scalar(value: Any) -> str:
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, str):
        if "\x00" in value:
            raise JsonProblem("a string holds \\u0000, which PostgreSQL cannot store")
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, int | float | decimal.Decimal):
        return _number(value)
    raise TypeError(f"{type(value).__name__} is not a JSON value")


def _number(value: int | float | decimal.Decimal) -> str:
    number = value if isinstance(value, decimal.Decimal) else decimal.Decimal(repr(value))
    if not number.is_finite():
        raise JsonProblem(f"{value} is not a JSON number")
    if number.is_zero():
        number = number.copy_abs()  # numeric has no negative zero
    exponent = number.as_tuple().exponent
    assert isinstance(exponent, int)  # finite
    if number.adjusted() >= _MAX_INT_DIGITS or -exponent > _MAX_SCALE:
        raise JsonProblem(
            f"the number {value} is out of PostgreSQL's numeric range"
            f" ({_MAX_INT_DIGITS} digits before the point, {_MAX_SCALE} after)"
        )
    return format(number, "f")
