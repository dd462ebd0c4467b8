"""The compiled form of one field and the column helpers `CompiledMapping.apply` uses:
inputs, null markers, per-field errors and the rejects made from them. Private to
`ferryman.mappings.compile`."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import pyarrow as pa
import pyarrow.compute as pc
from pydantic import BaseModel

from ferryman.mappings._arrow import as_array, as_text, null_where
from ferryman.mappings.expressions import Expression
from ferryman.mappings.functions import TransformFunction
from ferryman.mappings.model import CastOptions, FieldSpec, TypeSpec
from ferryman.mappings.rejects import Reject


@dataclass(frozen=True)
class CompiledStep:
    function: TransformFunction
    args: BaseModel


@dataclass(frozen=True)
class CompiledField:
    name: str
    spec: FieldSpec
    type: TypeSpec
    steps: tuple[CompiledStep, ...]
    markers: pa.Array  # stripped null markers, as text
    default: pa.Scalar | None
    required: bool
    options: CastOptions | None = None
    expr: Expression | None = None
    columns: tuple[str, ...] = ()
    """The source columns the field reads (from:, the expression's, the surrogate's)."""

    @property
    def surrogate(self) -> bool:
        return self.spec.surrogate is not None


@dataclass
class FieldErrors:
    """Per field: the first error of each row, with its rule."""

    rules: list[tuple[str, pa.Array]] = field(default_factory=list)

    def add(self, rule: str, errors: pa.Array | None) -> None:
        if errors is not None:
            self.rules.append((rule, errors))

    def failing(self, n: int) -> pa.Array:
        failing = pa.repeat(pa.scalar(False), n)
        for _, errors in self.rules:
            failing = pc.or_(failing, pc.is_valid(errors))
        return failing


def legacy_key(columns: list[pa.Array]) -> pa.Array:
    """The legacy key as one text value per row (columns joined by a unit separator);
    NULL when any part is NULL."""
    texts = [as_text(c) for c in columns]
    if len(texts) == 1:
        return texts[0]
    return pc.binary_join_element_wise(*texts, "\x1f", null_handling="emit_null")


def field_inputs(f: CompiledField, data: pa.Table) -> list[pa.Array]:
    if f.spec.value is not None:
        return [pa.repeat(pa.scalar(f.spec.value), data.num_rows)]
    return [as_array(data.column(c)) for c in f.columns]


def marker_set(markers: Sequence[str]) -> pa.Array:
    return pa.array(sorted({m.strip() for m in markers}), pa.string())


def apply_markers(values: pa.Array, markers: pa.Array) -> pa.Array:
    """NULL where the value's text, stripped, is one of the (stripped) markers."""
    if not len(markers) or pa.types.is_null(values.type):
        return values
    hit = pc.is_in(pc.utf8_trim_whitespace(as_text(values)), value_set=markers)
    return null_where(hit, values)


def required_message(f: CompiledField) -> str:
    columns = ", ".join(f.spec.source_columns) or "its constant value"
    why = "key field" if not f.spec.required else "required field"
    return (
        f"{f.name} is a {why} but has no value (source {columns} is NULL, blank or a null"
        " marker); fix the source, or give the field a `default:`"
    )


def raw_text(columns: list[pa.Array], names: list[str]) -> pa.Array:
    """The raw source value(s) as text: `x` for one column, `A='x', B=NULL` for several."""
    if len(columns) == 1:
        return as_text(columns[0])
    parts = []
    for name, col in zip(names, columns, strict=True):
        text = as_text(col)
        shown = pc.binary_join_element_wise("'", text, "'", "")
        parts.append(pc.binary_join_element_wise(f"{name}=", pc.fill_null(shown, "NULL"), ""))
    if not parts:
        return pa.nulls(0, pa.string())
    return pc.binary_join_element_wise(*parts, ", ")


def field_rejects(
    f: CompiledField, errors: FieldErrors, data: pa.Table, index: pa.Array, positions: pa.Array
) -> list[Reject]:
    if not errors.rules:
        return []
    if not f.columns:
        shown = text_of(f.spec.value) if f.expr is None else f.expr.text
        raw = pa.repeat(pa.scalar(shown, pa.string()), data.num_rows)
    else:
        columns = [as_array(data.column(c)) for c in f.columns]
        raw = raw_text(columns, list(f.columns))
    taken = pa.repeat(pa.scalar(False), data.num_rows)
    out: list[Reject] = []
    for rule, messages in errors.rules:
        first = pc.and_(pc.is_valid(messages), pc.invert(taken))
        taken = pc.or_(taken, first)
        at = pc.indices_nonzero(first)
        rows = zip(
            index.take(at).to_pylist(),
            positions.take(at).to_pylist(),
            raw.take(at).to_pylist(),
            messages.take(at).to_pylist(),
            strict=True,
        )
        out += [Reject(i, pos, f.name, value, rule, msg) for i, pos, value, msg in rows]
    return out


def text_of(value: object) -> str | None:
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
