"""Parse a JSON line, flatten it to columns, and learn each column's type.

JSON's own types are kept: strings stay text, true/false are booleans, whole numbers
are int64. Numbers with a fraction or an exponent keep their exact literal as text
('12.50', '92898e37'): a float would drop digits. Arrays (and objects nested deeper
than `max_depth`) become compact JSON text. A column whose values have several JSON
types (1 here, "1" there) is text for every row, each value as its JSON text.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pyarrow as pa

_INT64 = (-(2**63), 2**63 - 1)


class LineProblem(ValueError):
    """The line is not a JSON object."""


class Number(str):
    """A JSON number with a fraction or exponent, as written."""

    __slots__ = ()


def _no_constants(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON value")


_DECODER = json.JSONDecoder(parse_float=Number, parse_constant=_no_constants)


def parse_line(text: str) -> dict[str, Any]:
    try:
        value = _DECODER.decode(text)
    except ValueError as err:
        raise LineProblem(f"not valid JSON: {err}") from None
    if not isinstance(value, dict):
        raise LineProblem(f"a line must hold a JSON object, this one holds a {_kind_name(value)}")
    return value


def _kind_name(value: Any) -> str:
    if isinstance(value, list):
        return "list"
    if isinstance(value, str):
        return "string"
    return type(value).__name__


def flattener(separator: str, max_depth: int) -> Callable[[dict[str, Any]], dict[str, Any]]:
    def flatten(obj: dict[str, Any]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        _walk(obj, "", 1, out)
        return out

    def _walk(obj: dict[str, Any], prefix: str, depth: int, out: dict[str, Any]) -> None:
        for key, value in obj.items():
            name = f"{prefix}{separator}{key}" if prefix else str(key)
            if isinstance(value, dict) and value and depth < max_depth:
                _walk(value, name, depth + 1, out)
            else:
                out[name] = value

    return flatten


def picker(columns: dict[str, str]) -> Callable[[dict[str, Any]], dict[str, Any]]:
    paths = {name: path.split(".") for name, path in columns.items()}

    def pick(obj: dict[str, Any]) -> dict[str, Any]:
        return {name: _at(obj, steps) for name, steps in paths.items()}

    return pick


def _at(value: Any, steps: list[str]) -> Any:
    for step in steps:
        if isinstance(value, dict):
            value = value.get(step)
        elif isinstance(value, list) and step.isdigit() and int(step) < len(value):
            value = value[int(step)]
        else:
            return None
    return value


def kind_of(value: Any) -> str | None:
    """The column kind one value asks for (None: a null fits any kind)."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int" if _INT64[0] <= value <= _INT64[1] else "text"
    if isinstance(value, str) and not isinstance(value, Number):
        return "str"
    return "text"


class Shape:
    """Columns in order of first appearance, each with the kind all its values fit."""

    def __init__(self, names: list[str] | None = None) -> None:
        self.kinds: dict[str, str | None] = dict.fromkeys(names or [])

    def add(self, row: dict[str, Any]) -> None:
        for name, value in row.items():
            kind = kind_of(value)
            seen = self.kinds.get(name)
            if name not in self.kinds or seen is None:
                self.kinds[name] = kind
            elif kind is not None and kind != seen:
                self.kinds[name] = "text"

    def types(self) -> list[pa.DataType]:
        return [_ARROW.get(k or "str", pa.string()) for k in self.kinds.values()]

    def cells(self, row: dict[str, Any]) -> tuple[Any, ...]:
        return tuple(_cell(row.get(name), kind) for name, kind in self.kinds.items())


_ARROW = {"int": pa.int64(), "bool": pa.bool_(), "str": pa.string(), "text": pa.string()}


def _cell(value: Any, kind: str | None) -> Any:
    if value is None or kind != "text":
        return value
    if isinstance(value, str):
        return str(value)
    return dump(value)


def dump(value: Any) -> str:
    """Compact JSON text, numbers exactly as they were written."""
    if isinstance(value, Number):
        return str(value)
    if isinstance(value, dict):
        items = (f"{json.dumps(k, ensure_ascii=False)}:{dump(v)}" for k, v in value.items())
        return "{" + ",".join(items) + "}"
    if isinstance(value, list):
        return "[" + ",".join(dump(v) for v in value) + "]"
    return json.dumps(value, ensure_ascii=False)
