"""Comparing an existing target table with the one a spec wants, for the flow to print
before it touches anything: `schema_diff(existing_columns, wanted)`.

Both sides are engine-neutral `ColumnSchema`s (Arrow types; the flow reflects the existing
table and reads its columns with `ferryman.connectors.sql.types.arrow_type`). An empty diff means
the spec can load into the table as it is.

A uuid or json column of the spec fits a column of its own kind, or a text column long
enough for it (what ferryman created before it made native types, MariaDB's JSON): both
hold the canonical text ferryman writes.
"""

from __future__ import annotations

from collections.abc import Sequence

import pyarrow as pa

from ferryman.connectors.base import ColumnSchema, TableSchema


def type_name(t: pa.DataType, max_length: int | None = None, logical: str | None = None) -> str:
    """An Arrow type in the spec's words: integer, decimal(12,2), string(40), uuid, ..."""
    if logical:
        return logical
    if pa.types.is_int32(t) or pa.types.is_int16(t) or pa.types.is_int8(t):
        return "integer"
    if pa.types.is_integer(t):
        return "bigint"
    if pa.types.is_decimal(t):
        return f"decimal({t.precision},{t.scale})"
    if pa.types.is_floating(t):
        return "float"
    if pa.types.is_boolean(t):
        return "boolean"
    if pa.types.is_date(t):
        return "date"
    if pa.types.is_time(t):
        return "time"
    if pa.types.is_timestamp(t):
        return "timestamptz" if t.tz is not None else "timestamp"
    if pa.types.is_binary(t) or pa.types.is_large_binary(t):
        return "binary"
    if pa.types.is_string(t) or pa.types.is_large_string(t):
        return f"string({max_length})" if max_length else "string"
    return str(t)


_HELD_AS_TEXT = ("uuid", "json")


def _family(c: ColumnSchema) -> str:
    name = type_name(c.type, logical=c.logical)
    if name in ("integer", "bigint"):
        return "integer"
    return name.split("(")[0]


def _shown(c: ColumnSchema) -> str:
    return type_name(c.type, c.max_length, c.logical)


def _type_problem(have: ColumnSchema, want: ColumnSchema) -> str | None:
    """Why `have` cannot hold every value of `want`, or None."""
    h, w = have.type, want.type
    shown_h, shown_w = _shown(have), _shown(want)
    family_h, family_w = _family(have), _family(want)
    if family_h != family_w and not (family_w in _HELD_AS_TEXT and family_h == "string"):
        # A bigint column holds integers, a decimal holds integers too: still refused,
        # the types differ and the flow does not convert behind the user's back.
        return f"the table has {shown_h}, the spec makes {shown_w}"
    if pa.types.is_integer(h) and h.bit_width < w.bit_width:
        return f"the table has {shown_h}, too small for the spec's {shown_w}"
    if pa.types.is_decimal(h) and (
        h.scale < w.scale or h.precision - h.scale < w.precision - w.scale
    ):
        return f"the table has {shown_h}, which cannot hold every {shown_w} value"
    if have.max_length and (want.max_length is None or have.max_length < want.max_length):
        return f"the table has {shown_h}, too short for the spec's {shown_w}"
    return None


def schema_diff(existing_columns: Sequence[ColumnSchema], wanted: TableSchema) -> list[str]:
    """What keeps `wanted` from loading into a table with `existing_columns`, one line
    each, in the spec's column order; empty when it fits.

    Refused: a missing column, a type that cannot hold the spec's values (another kind,
    a smaller integer, a narrower decimal, a shorter string), a NOT NULL column the spec
    may leave NULL, and a NOT NULL column the spec does not fill at all. Extra nullable
    columns are fine (they stay NULL).
    """
    have = {c.name: c for c in existing_columns}
    lines = []
    table = wanted.name
    for want in wanted.columns:
        col = have.get(want.name)
        if col is None:
            lines.append(
                f"{table}.{want.name}: missing; the spec makes"
                f" {_shown(want)} (add the column or drop the table)"
            )
            continue
        problem = _type_problem(col, want)
        if problem:
            lines.append(f"{table}.{want.name}: {problem}")
        if not col.nullable and want.nullable:
            lines.append(
                f"{table}.{want.name}: NOT NULL in the table, but the spec may leave it NULL"
                " (mark the field required, or give it a default)"
            )
    wanted_names = {c.name for c in wanted.columns}
    for col in existing_columns:
        if col.name not in wanted_names and not col.nullable:
            lines.append(
                f"{table}.{col.name}: NOT NULL in the table, but no field of the spec fills"
                " it (add a field, or make the column nullable)"
            )
    return lines
