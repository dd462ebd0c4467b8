"""Compile a mapping spec once into a vectorized batch transform.

`compile_spec` resolves every function and its arguments, parses the filter and casts the
defaults once; `CompiledMapping.apply` then maps a whole batch with pyarrow.compute.

Per field, in order: read the source column(s) (or the constant `value`); turn null
markers (the source's `null_markers` plus the field's `nulls`, compared with surrounding
whitespace ignored, on the value's text form) into NULL; run the transform steps; cast to
the field's type; use `default` where the result is NULL; reject NULL in a `required` or
key field. The filter runs first, on the source columns after the source's null markers;
filtered rows are counted, not mapped. A row with any error is rejected whole, with one
Reject per failing field (the first error of that field), and never reaches `rows`.

Every input row ends up in exactly one place:
    data.num_rows == rows.num_rows + filtered + number of distinct rejected rows
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from pydantic import BaseModel, ValidationError

from connectors.base import ROW_POSITION, ColumnSchema, TableSchema
from connectors.registry import RegistryError, did_you_mean
from mappings._arrow import as_array, as_text, falsy_nulls, null_where
from mappings.expressions import Expression, ExpressionError, parse_expression
from mappings.functions import TransformFunction, get_function, parse_args
from mappings.model import FieldSpec, MappingSpec, TypeSpec
from mappings.rejects import Reject
from mappings.types import arrow_type, cast_column

ROW_INDEX = "__ferryman_row"
"""int32 index of each row in the input batch, kept through later stages."""

SpecPath = tuple[str | int, ...]


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a spec that the model alone cannot see."""

    path: SpecPath
    message: str
    offset: int | None = None
    """For the filter: 0-based character offset in the expression."""

    def __str__(self) -> str:
        where = ".".join(str(p) if isinstance(p, str) else f"[{p}]" for p in self.path)
        return f"{where.replace('.[', '[')}: {self.message}"


class CompileError(ValueError):
    """The spec cannot be compiled; `problems` lists every reason, with its path."""

    def __init__(self, target: str, problems: Sequence[Problem]) -> None:
        self.problems = tuple(problems)
        lines = "\n".join(f"  {p}" for p in self.problems)
        super().__init__(f"mapping {target!r} cannot be compiled:\n{lines}")


@dataclass(frozen=True)
class MappedBatch:
    """The result of mapping one batch."""

    rows: pa.Table
    """Target columns in spec order with their Arrow types, then ROW_POSITION, ROW_INDEX."""
    rejects: list[Reject]
    """One or more per rejected input row, sorted by row then field order."""
    filtered: int

    @property
    def rejected_rows(self) -> int:
        return len({r.row for r in self.rejects})


@dataclass(frozen=True)
class _Step:
    function: TransformFunction
    args: BaseModel


@dataclass(frozen=True)
class _Field:
    name: str
    spec: FieldSpec
    type: TypeSpec
    steps: tuple[_Step, ...]
    markers: pa.Array  # stripped null markers, as text
    default: pa.Scalar | None
    required: bool


@dataclass
class _Errors:
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


class CompiledMapping:
    """A spec ready to map batches: built by `compile_spec`."""

    def __init__(self, spec: MappingSpec, fields: list[_Field], filter: Expression | None):
        self.spec = spec
        self._fields = fields
        self._filter = filter
        columns = {c for f in fields for c in f.spec.source_columns}
        self.source_columns: frozenset[str] = frozenset(
            columns | (filter.columns if filter else set())
        )

    def target_schema(self) -> TableSchema:
        """The target table: Arrow types, NOT NULL for key and required fields."""
        columns = tuple(
            ColumnSchema(
                name=f.name,
                type=arrow_type(f.type),
                nullable=not f.required,
                max_length=f.type.length if f.type.name == "string" else None,
            )
            for f in self._fields
        )
        fks = tuple(
            (tuple(fk.columns), fk.parent_table, tuple(fk.parent_columns))
            for fk in self.spec.foreign_keys
        )
        return TableSchema(self.spec.target, columns, tuple(self.spec.key), fks)

    def apply(self, data: pa.Table) -> MappedBatch:
        """Map one batch of raw source rows (see the module doc for the order of steps)."""
        self._check_columns(data)
        n = data.num_rows
        index = pa.array(np.arange(n, dtype=np.int32))
        positions = as_text(as_array(data.column(ROW_POSITION)))
        rejects: list[Reject] = []
        keep = pa.repeat(pa.scalar(True), n)
        filtered = 0
        if self._filter is not None:
            keep, filtered, rejects = self._apply_filter(data, positions)
        data, index, positions = data.filter(keep), index.filter(keep), positions.filter(keep)
        outputs, failing = [], pa.repeat(pa.scalar(False), data.num_rows)
        for f in self._fields:
            values, errors = self._map_field(f, data)
            outputs.append(values)
            failing = pc.or_(failing, errors.failing(data.num_rows))
            rejects += _rejects(f, errors, data, index, positions)
        good = pc.invert(failing)
        names = [f.name for f in self._fields] + [ROW_POSITION, ROW_INDEX]
        arrays = [v.filter(good) for v in outputs] + [positions.filter(good), index.filter(good)]
        rows = pa.Table.from_arrays(arrays, names=names)
        order = {f.name: i for i, f in enumerate(self._fields)}
        rejects.sort(key=lambda r: (r.row, -1 if r.column is None else order.get(r.column, 0)))
        return MappedBatch(rows, rejects, filtered)

    def _check_columns(self, data: pa.Table) -> None:
        if ROW_POSITION not in data.column_names:
            raise ValueError(
                f"the batch for {self.spec.target!r} has no {ROW_POSITION} column; every"
                " source connector must add it (see connectors.base.ROW_POSITION)"
            )
        missing = sorted(self.source_columns - set(data.column_names))
        if missing:
            known = [c for c in data.column_names if c != ROW_POSITION]
            hint = did_you_mean(missing[0], known)
            raise ValueError(
                f"mapping {self.spec.target!r} reads column(s) {', '.join(missing)} which"
                f" {self.spec.source.stream} does not have.{hint} Fix `from:`/`filter` in"
                " the spec (`ferryman check` lists every such column)"
            )

    def _apply_filter(
        self, data: pa.Table, positions: pa.Array
    ) -> tuple[pa.Array, int, list[Reject]]:
        assert self._filter is not None
        markers = _markers(self.spec.source.null_markers)
        names = sorted(self._filter.columns)
        cleaned = pa.table(
            {c: _apply_markers(as_array(data.column(c)), markers) for c in names}
            if names
            else {"_": pa.nulls(data.num_rows)}
        )
        result = self._filter.evaluate_rows(cleaned)
        values = result.values
        if not (pa.types.is_boolean(values.type) or pa.types.is_null(values.type)):
            raise ExpressionError(
                f"filter `{self._filter.text}` gives {values.type} values, not true/false;"
                " compare it, e.g. `... != 0`",
                0,
            )
        keep = falsy_nulls(pc.cast(values, pa.bool_()))
        rejects: list[Reject] = []
        if result.errors is not None:
            bad = pc.is_valid(result.errors)
            keep = pc.and_(keep, pc.invert(bad))
            raw = _raw_text([as_array(data.column(c)) for c in names], names)
            for i in pc.indices_nonzero(bad).to_pylist():
                rejects.append(
                    Reject(
                        row=i,
                        position=positions[i].as_py(),
                        column=None,
                        raw_value=raw[i].as_py(),
                        rule="filter",
                        message=f"filter `{self._filter.text}` cannot be evaluated:"
                        f" {result.errors[i].as_py()}",
                    )
                )
        kept = pc.sum(keep.cast(pa.int64()), min_count=0).as_py()
        filtered = data.num_rows - len(rejects) - kept
        return keep, filtered, rejects

    def _map_field(self, f: _Field, data: pa.Table) -> tuple[pa.Array, _Errors]:
        errors = _Errors()
        inputs = _inputs(f, data)
        if f.spec.from_ is not None and len(f.markers):
            inputs = [_apply_markers(v, f.markers) for v in inputs]
        for step in f.steps:
            result = step.function.apply(inputs, step.args)
            errors.add(step.function.name, result.errors)
            inputs = [result.values]
        cast = cast_column(inputs[0], f.type)
        errors.add(f"cast:{f.type.name}", cast.errors)
        values = cast.values
        if f.default is not None:
            values = pc.fill_null(values, f.default)
        if f.required:
            missing = pc.is_null(values)
            if pc.any(missing).as_py():
                message = _required_message(f)
                errors.add("required", pc.if_else(missing, message, pa.scalar(None, pa.string())))
        return values, errors


def _inputs(f: _Field, data: pa.Table) -> list[pa.Array]:
    if f.spec.from_ is None:
        return [pa.repeat(pa.scalar(f.spec.value), data.num_rows)]
    return [as_array(data.column(c)) for c in f.spec.source_columns]


def _markers(markers: Sequence[str]) -> pa.Array:
    return pa.array(sorted({m.strip() for m in markers}), pa.string())


def _apply_markers(values: pa.Array, markers: pa.Array) -> pa.Array:
    """NULL where the value's text, stripped, is one of the (stripped) markers."""
    if not len(markers) or pa.types.is_null(values.type):
        return values
    hit = pc.is_in(pc.utf8_trim_whitespace(as_text(values)), value_set=markers)
    return null_where(hit, values)


def _required_message(f: _Field) -> str:
    columns = ", ".join(f.spec.source_columns) or "its constant value"
    why = "key field" if not f.spec.required else "required field"
    return (
        f"{f.name} is a {why} but has no value (source {columns} is NULL, blank or a null"
        " marker); fix the source, or give the field a `default:`"
    )


def _raw_text(columns: list[pa.Array], names: list[str]) -> pa.Array:
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


def _rejects(
    f: _Field, errors: _Errors, data: pa.Table, index: pa.Array, positions: pa.Array
) -> list[Reject]:
    if not errors.rules:
        return []
    if f.spec.from_ is None:
        raw = pa.repeat(pa.scalar(_text(f.spec.value), pa.string()), data.num_rows)
    else:
        columns = [as_array(data.column(c)) for c in f.spec.source_columns]
        raw = _raw_text(columns, f.spec.source_columns)
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


def _text(value: object) -> str | None:
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


# --- compiling --------------------------------------------------------------------------


def compile_spec(spec: MappingSpec) -> CompiledMapping:
    """Resolve functions and arguments, parse the filter and cast defaults, once.

    Raises CompileError listing every problem (with its path in the spec).
    """
    problems: list[Problem] = []
    fields = []
    for name, fs in spec.fields.items():
        compiled, found = _compile_field(spec, name, fs)
        problems += found
        if compiled is not None:
            fields.append(compiled)
    filter_expr = None
    if spec.filter is not None:
        try:
            filter_expr = parse_expression(spec.filter)
        except ExpressionError as e:
            problems.append(Problem(("filter",), e.message, e.offset))
        else:
            if not filter_expr.is_condition:
                problems.append(
                    Problem(("filter",), "a filter must be a condition (true/false), e.g."
                            f" `{spec.filter} != 0`", 0)
                )  # fmt: skip
    if problems:
        raise CompileError(spec.target, problems)
    return CompiledMapping(spec, fields, filter_expr)


def check_spec(spec: MappingSpec) -> list[Problem]:
    """Every problem compile_spec would raise, without raising (for `ferryman check`)."""
    try:
        compile_spec(spec)
    except CompileError as e:
        return list(e.problems)
    return []


def _compile_field(
    spec: MappingSpec, name: str, fs: FieldSpec
) -> tuple[_Field | None, list[Problem]]:
    base: SpecPath = ("fields", name)
    problems: list[Problem] = []
    steps: list[_Step] = []
    for i, step in enumerate(fs.transform):
        path = (*base, "transform", i)
        try:
            fn = get_function(step.function)
            steps.append(_Step(fn, parse_args(step)))
        except (RegistryError, ValidationError, ValueError) as e:
            problems.append(Problem(path, _one_line(e)))
            continue
        problems += _arity_problems(fs, fn, i, path)
    if len(fs.source_columns) > 1 and not fs.transform:
        problems.append(
            Problem((*base, "from"), f"reads {len(fs.source_columns)} columns but has no step to"
                    " combine them; add `transform: [concat]` or `[coalesce]`")
        )  # fmt: skip
    t = fs.type_spec
    default = None
    if fs.default is not None:
        cast = cast_column(pa.array([fs.default]), t)
        if cast.errors is not None:
            problems.append(Problem((*base, "default"), f"{cast.errors[0].as_py()} ({t})"))
        else:
            default = cast.values[0]
    if problems:
        return None, problems
    markers = _markers([*spec.source.null_markers, *fs.nulls])
    required = fs.required or name in spec.key
    return _Field(name, fs, t, tuple(steps), markers, default, required), []


def _arity_problems(fs: FieldSpec, fn: TransformFunction, i: int, path: SpecPath) -> list[Problem]:
    n = len(fs.source_columns)
    if i == 0 and n > 1 and not fn.multi_input:
        columns = ", ".join(fs.source_columns)
        return [
            Problem(path, f"the field reads {n} columns ({columns}) but {fn.name!r} takes one;"
                    " start with concat or coalesce to combine them")
        ]  # fmt: skip
    if i > 0 and fn.multi_input:
        return [
            Problem(path, f"{fn.name!r} combines several columns, so it must be the first step")
        ]
    return []


def _one_line(e: Exception) -> str:
    if isinstance(e, ValidationError):
        return "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or 'arguments'}: {err['msg']}"
            for err in e.errors(include_url=False)
        )
    return str(e)
