"""Pydantic validation errors, rewritten as positioned sentences.

pydantic says `fields.a.from.list[str].0: Input should be a valid string`; we say
`customers.yaml:9:14: fields.a.from[0]: expected text, got 12`. Three things happen:

1. the error's `loc` is walked against the loaded data: elements that are not in the data
   are pydantic's union-branch tags (`str`, `list[str]`) or `[key]`, and are dropped;
2. the errors of one union are merged (`expected text or a list, got 12`), or, when one
   branch got further into the value, only that branch's errors are kept;
3. each error type gets a plain sentence that says what is expected, and an unknown key
   gets a did-you-mean among the field names of the model found at that path.
"""

from __future__ import annotations

import re
import types
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Annotated, Any, Union, get_args, get_origin

from pydantic import BaseModel, ValidationError
from pydantic.fields import FieldInfo
from pydantic_core import ErrorDetails

from ferryman.mappings.model import IDENTIFIER
from ferryman.suggest import did_you_mean
from ferryman.yaml_positions import PositionMap, SpecIssue, YamlPath

_EXPECTED = {
    "string_type": "text",
    "int_type": "a whole number",
    "int_parsing": "a whole number",
    "int_from_float": "a whole number",
    "float_type": "a number",
    "float_parsing": "a number",
    "decimal_type": "a decimal number",
    "decimal_parsing": "a decimal number",
    "bool_type": "true or false",
    "bool_parsing": "true or false",
    "list_type": "a list",
    "tuple_type": "a list",
    "set_type": "a list",
    "dict_type": "a mapping (key: value)",
    "model_type": "a mapping (key: value)",
    "model_attributes_type": "a mapping (key: value)",
    "none_required": "nothing (null)",
    "date_type": "a date (YYYY-MM-DD)",
    "date_parsing": "a date (YYYY-MM-DD)",
    "date_from_datetime_parsing": "a date (YYYY-MM-DD)",
    "datetime_type": "a timestamp (YYYY-MM-DD HH:MM:SS)",
    "datetime_parsing": "a timestamp (YYYY-MM-DD HH:MM:SS)",
    "bytes_type": "text",
}
# Models whose YAML shape is not a plain mapping (see their `mode="before"` validators).
_EXPECTED_BY_MODEL = {"Step": "a function name (`- trim`) or a one-key mapping (`- pad: 8`)"}
_COMPARE = {
    "greater_than": ("gt", "greater than"),
    "greater_than_equal": ("ge", "at least"),
    "less_than": ("lt", "less than"),
    "less_than_equal": ("le", "at most"),
}


@dataclass(frozen=True)
class _Words:
    noun: str
    """What a key is called: `key`, `argument`."""
    owner: str
    """Appended after the key's name: `` or ` of map`."""


@dataclass
class _Located:
    error: ErrorDetails
    path: YamlPath
    """Where in the data the error is (union tags dropped)."""
    union_at: YamlPath | None
    """Data path of the first union the error went through, if any."""
    on_key: bool
    """The error is about a key itself (`[key]`), not its value."""


def issues_from_validation_error(
    error: ValidationError,
    *,
    data: Any,
    positions: PositionMap,
    file: str,
    model: Any = None,
    base: YamlPath = (),
    noun: str = "key",
    owner: str = "",
) -> list[SpecIssue]:
    """Every error of `error` as a SpecIssue positioned through `positions`.

    `data` is the whole document; the validated value sits at `base` in it (e.g. a
    transform step's arguments). `model` (a pydantic model class, or any annotation) is
    what was validated, used to suggest names; `noun` names its keys in messages and
    `owner` completes it (`unknown argument 'x' of map`).
    """
    words = _Words(noun, f" of {owner}" if owner else "")
    located = [_locate(e, data, base) for e in error.errors(include_url=False)]
    issues: list[SpecIssue] = []
    for group in _union_groups(located):
        issues.extend(_group_issues(group, data, positions, file, model, base, words))
    return issues


def _child(node: Any, part: Hashable) -> tuple[bool, Any]:
    if isinstance(node, Mapping) and part in node:
        return True, node[part]
    if isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
        return True, node[part]
    return False, None


def value_at(data: Any, path: YamlPath) -> Any:
    for part in path:
        _, data = _child(data, part)
    return data


def _locate(error: ErrorDetails, data: Any, base: YamlPath) -> _Located:
    node = value_at(data, base)
    path: list[Hashable] = list(base)
    union_at: YamlPath | None = None
    on_key = False
    loc = error["loc"]
    for i, part in enumerate(loc):
        if part == "[key]":
            on_key = True
            continue
        found, child = _child(node, part)
        if found:
            path.append(part)
            node = child
        elif error["type"] == "missing" and i == len(loc) - 1:
            break
        elif union_at is None:
            union_at = tuple(path)
    return _Located(error, tuple(path), union_at, on_key)


def _union_groups(located: list[_Located]) -> list[list[_Located]]:
    """Errors of one union together; every other error alone. Order is kept."""
    groups: dict[Any, list[_Located]] = {}
    for n, item in enumerate(located):
        key = ("union", item.union_at) if item.union_at is not None else ("single", n)
        groups.setdefault(key, []).append(item)
    return list(groups.values())


def _group_issues(
    group: list[_Located],
    data: Any,
    positions: PositionMap,
    file: str,
    model: Any,
    base: YamlPath,
    words: _Words,
) -> list[SpecIssue]:
    union_at = group[0].union_at
    if union_at is not None:
        deeper = [g for g in group if len(g.path) > len(union_at)]
        if deeper:  # the value had the shape of one branch: that branch's errors matter
            group = deeper
        else:
            merged = _merged_expectation(group)
            if merged is not None:
                line, col = positions.value(union_at)
                return [SpecIssue(file, line, col, positions.format(union_at), merged)]
    issues = []
    for item in group:
        line, col = _position(item, data, positions)
        text = _message(item, model, base, words)
        issues.append(SpecIssue(file, line, col, positions.format(item.path), text))
    return issues


def _merged_expectation(group: list[_Located]) -> str | None:
    phrases: list[str] = []
    for item in group:
        phrase = _expected_phrase(item.error)
        if phrase is None:
            return None
        if phrase not in phrases:
            phrases.append(phrase)
    if "a whole number" in phrases and "a number" in phrases:
        phrases.remove("a whole number")
    phrases = ["a boolean (true/false)" if p == "true or false" else p for p in phrases]
    joined = phrases[0] if len(phrases) == 1 else ", ".join(phrases[:-1]) + " or " + phrases[-1]
    return f"expected {joined}, got {describe(group[0].error['input'])}"


def _position(item: _Located, data: Any, positions: PositionMap) -> tuple[int, int]:
    kind = item.error["type"]
    if kind in ("extra_forbidden", "missing") or item.on_key:
        return positions.key(item.path)
    if kind in ("value_error", "assertion_error") and isinstance(
        value_at(data, item.path), Mapping
    ):
        return positions.key(item.path)  # a model-level rule: point at the mapping's key
    return positions.value(item.path)


def _expected_phrase(error: ErrorDetails) -> str | None:
    ctx = error.get("ctx") or {}
    if error["type"] == "model_type" and ctx.get("class_name") in _EXPECTED_BY_MODEL:
        return _EXPECTED_BY_MODEL[ctx["class_name"]]
    return _EXPECTED.get(error["type"])


def describe(value: Any) -> str:
    """A short, human description of a YAML value for `got ...`."""
    if value is None:
        return "nothing (an empty value)"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, Mapping):
        return "a mapping"
    if isinstance(value, list | tuple):
        return "a list"
    if isinstance(value, datetime | date):
        return f"the date {value.isoformat()} (quote it to keep it as text)"
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _message(item: _Located, model: Any, base: YamlPath, words: _Words) -> str:
    error = item.error
    kind, ctx, value = error["type"], error.get("ctx") or {}, error["input"]
    if kind == "extra_forbidden":
        name = item.path[-1]
        names = _field_keys(_annotation_at(model, item.path[len(base) : -1]))
        return f"unknown {words.noun} {name!r}{words.owner}.{did_you_mean(str(name), names)}"
    if kind == "missing":
        return f"missing required {words.noun} {error['loc'][-1]!r}{words.owner}"
    if kind in ("literal_error", "enum"):
        return _choice_message(ctx.get("expected", ""), value)
    phrase = _expected_phrase(error)
    if phrase is not None:
        as_key = " as the key" if item.on_key else ""
        return f"expected {phrase}{as_key}, got {describe(value)}"
    if kind == "string_pattern_mismatch":
        return _pattern_message(model, item.path[len(base) :], ctx.get("pattern", ""), value)
    if kind in _COMPARE:
        ctx_key, relation = _COMPARE[kind]
        return f"must be {relation} {ctx.get(ctx_key)}, got {describe(value)}"
    if kind in ("too_short", "too_long"):
        return _length_message(kind, ctx)
    if kind in ("string_too_short", "string_too_long"):
        limit = ctx.get("min_length", ctx.get("max_length"))
        relation = "at least" if kind == "string_too_short" else "at most"
        return f"must be {relation} {limit} characters long, got {describe(value)}"
    text = str(error["msg"])
    if kind in ("value_error", "assertion_error"):  # our own validators' sentences
        return text.removeprefix("Value error, ").removeprefix("Assertion failed, ")
    return text[:1].lower() + text[1:]


def _choice_message(expected: str, value: Any) -> str:
    options = re.findall(r"'((?:[^'\\]|\\.)*)'", expected) or [expected]
    hint = did_you_mean(str(value), options) if isinstance(value, str) else ""
    hint = hint if hint.startswith(" Did you mean") else ""
    return f"expected one of {', '.join(options)}, got {describe(value)}.{hint}".rstrip()


def _pattern_message(model: Any, path: YamlPath, pattern: str, value: Any) -> str:
    if pattern == IDENTIFIER:
        return (
            f"{describe(value)} is not a valid name: use letters, digits and underscores,"
            " not starting with a digit"
        )
    info = _field_info_at(model, path)
    if info is not None and info.description:
        return f"{describe(value)} does not have the expected form. {info.description}"
    return f"{describe(value)} does not have the expected form (pattern {pattern})"


def _length_message(kind: str, ctx: Mapping[str, Any]) -> str:
    unit = "entry" if ctx.get("field_type") == "Dictionary" else "item"
    if kind == "too_short":
        limit, words = ctx.get("min_length"), "at least"
    else:
        limit, words = ctx.get("max_length"), "at most"
    plural = "" if limit == 1 else ("ies" if unit == "entry" else "s")
    unit = unit[:-1] if plural == "ies" else unit
    return f"needs {words} {limit} {unit}{plural}, got {ctx.get('actual_length')}"


# --- walking the model to find what is allowed at a path ----------------------------------


def _alternatives(annotation: Any) -> list[Any]:
    """The types an annotation can take: Annotated and unions unwrapped."""
    origin = get_origin(annotation)
    if origin is Annotated:
        return _alternatives(get_args(annotation)[0])
    if origin is Union or origin is types.UnionType:
        return [t for arg in get_args(annotation) for t in _alternatives(arg)]
    return [annotation]


def _is_model(tp: Any) -> bool:
    return isinstance(tp, type) and issubclass(tp, BaseModel)


def _field_by_key(model: type[BaseModel], key: str) -> FieldInfo | None:
    for name, info in model.model_fields.items():
        if key in (name, info.alias):
            return info
    return None


def _step_into(annotation: Any, part: Hashable) -> tuple[Any, FieldInfo | None]:
    for tp in _alternatives(annotation):
        origin, args = get_origin(tp), get_args(tp)
        if _is_model(tp) and isinstance(part, str):
            info = _field_by_key(tp, part)
            if info is not None:
                return info.annotation, info
        elif origin in (list, tuple, set, frozenset, Sequence) and isinstance(part, int):
            return (args[0] if args else Any), None
        elif origin in (dict, Mapping) and args:
            return args[1], None
    return None, None


def _annotation_at(model: Any, path: YamlPath) -> Any:
    annotation = model
    for part in path:
        annotation, _ = _step_into(annotation, part)
        if annotation is None:
            return None
    return annotation


def _field_info_at(model: Any, path: YamlPath) -> FieldInfo | None:
    if not path:
        return None
    parent = _annotation_at(model, path[:-1])
    return _step_into(parent, path[-1])[1] if parent is not None else None


def _field_keys(annotation: Any) -> list[str]:
    """The keys a mapping may have here: field aliases (or names) of the model(s)."""
    keys: list[str] = []
    for tp in _alternatives(annotation):
        if _is_model(tp):
            keys += [info.alias or name for name, info in tp.model_fields.items()]
    return keys
