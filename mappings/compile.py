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

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from pydantic import ValidationError

from ferryman.connectors.base import ROW_POSITION, ColumnSchema, TableSchema
from ferryman.connectors.registry import RegistryError
from ferryman.mappings._arrow import as_array, as_text, falsy_nulls
from ferryman.mappings._fields import (
    CompiledField as _Field,
)
from ferryman.mappings._fields import (
    CompiledStep as _Step,
)
from ferryman.mappings._fields import (
    FieldErrors as _Errors,
)
from ferryman.mappings._fields import (
    apply_markers as _apply_markers,
)
from ferryman.mappings._fields import (
    field_inputs as _inputs,
)
from ferryman.mappings._fields import (
    field_rejects as _rejects,
)
from ferryman.mappings._fields import (
    legacy_key as _legacy_key,
)
from ferryman.mappings._fields import (
    marker_set as _markers,
)
from ferryman.mappings._fields import (
    raw_text as _raw_text,
)
from ferryman.mappings._fields import (
    required_message as _required_message,
)
from ferryman.mappings.expressions import Expression, ExpressionError, parse_expression
from ferryman.mappings.functions import TransformFunction, get_function, parse_args
from ferryman.mappings.lookups import CompileContext, KeyMapStore, LookupProvider
from ferryman.mappings.model import FieldSpec, Index, MappingSpec
from ferryman.mappings.rejects import Reject
from ferryman.mappings.rows import dedup_losers
from ferryman.mappings.types import arrow_type, cast_column, logical_type, max_length
from ferryman.suggest import did_you_mean

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


class CompiledMapping:
    """A spec ready to map batches: built by `compile_spec`."""

    def __init__(
        self,
        spec: MappingSpec,
        fields: list[_Field],
        filter: Expression | None,
        ctx: CompileContext | None = None,
    ):
        self.spec = spec
        self._fields = fields
        self._filter = filter
        self._ctx = ctx if ctx is not None else CompileContext()
        columns = {c for f in fields for c in f.columns}
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
                max_length=max_length(f.type),
                logical=logical_type(f.type),
            )
            for f in self._fields
        )
        fks = tuple(
            (tuple(fk.columns), fk.parent_table, tuple(fk.parent_columns))
            for fk in self.spec.foreign_keys
        )
        return TableSchema(self.spec.target, columns, tuple(self.spec.key), fks)

    def indexes(self) -> list[Index]:
        """Indexes to create on the target after the load (`indexes:` in the spec), each
        with its name filled in (ix_<table>_<columns>, or ux_ when unique)."""
        out = []
        for ix in self.spec.indexes:
            prefix = "ux" if ix.unique else "ix"
            name = ix.name or f"{prefix}_{self.spec.target}_{'_'.join(ix.columns)}"
            out.append(ix.model_copy(update={"name": name}))
        return out

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
        outputs: dict[str, pa.Array] = {}
        failing = pa.repeat(pa.scalar(False), data.num_rows)
        for f in self._fields:
            if f.surrogate:
                continue
            values, errors = self._map_field(f, data)
            outputs[f.name] = values
            failing = pc.or_(failing, errors.failing(data.num_rows))
            rejects += _rejects(f, errors, data, index, positions)
        for f in self._fields:
            if f.surrogate:
                values, errors = self._surrogate(f, data, failing)
                outputs[f.name] = values
                failing = pc.or_(failing, errors.failing(data.num_rows))
                rejects += _rejects(f, errors, data, index, positions)
        if self.spec.dedup is not None:
            lost, dup_rejects = self._dedup(outputs, failing, index, positions)
            failing = pc.or_(failing, lost)
            rejects += dup_rejects
        good = pc.invert(failing)
        names = [f.name for f in self._fields] + [ROW_POSITION, ROW_INDEX]
        arrays = [outputs[f.name].filter(good) for f in self._fields]
        arrays += [positions.filter(good), index.filter(good)]
        rows = pa.Table.from_arrays(arrays, names=names)
        order = {f.name: i for i, f in enumerate(self._fields)}
        rejects.sort(key=lambda r: (r.row, -1 if r.column is None else order.get(r.column, 0)))
        return MappedBatch(rows, rejects, filtered)

    def _dedup(
        self,
        outputs: dict[str, pa.Array],
        failing: pa.Array,
        index: pa.Array,
        positions: pa.Array,
    ) -> tuple[pa.Array, list[Reject]]:
        """Rows losing to another row of the batch with the same dedup key (rows that
        already failed take no part: a broken row never wins over a good one)."""
        rule = self.spec.dedup
        assert rule is not None
        good = pc.invert(failing)
        keys = pa.table({c: outputs[c].filter(good) for c in rule.key})
        by = outputs[rule.by].filter(good) if rule.by else None
        lost, rejects = dedup_losers(keys, by, rule, index.filter(good), positions.filter(good))
        mask = pa.repeat(pa.scalar(False), len(failing))
        if rejects:
            mask = pc.replace_with_mask(mask, good, lost)
        return mask, rejects

    def _surrogate(self, f: _Field, data: pa.Table, failing: pa.Array) -> tuple[pa.Array, _Errors]:
        """New keys from the KeyMapStore, for the rows that passed every other field (a
        rejected row gets its key when it is replayed, not now)."""
        errors = _Errors()
        columns = [_apply_markers(v, f.markers) for v in _inputs(f, data)]
        legacy = _legacy_key(columns)
        missing = pc.is_null(legacy)
        if pc.any(missing).as_py():
            message = _required_message(f)
            errors.add("required", pc.if_else(missing, message, pa.scalar(None, pa.string())))
        wanted = pc.and_(pc.invert(failing), pc.is_valid(legacy))
        out = pa.nulls(data.num_rows, pa.int64())
        if pc.any(wanted).as_py():
            store = self._ctx.keys
            if store is None:
                raise RuntimeError(
                    f"{self.spec.target}.{f.name} is a surrogate key and needs a KeyMapStore:"
                    " compile the spec with compile_spec(spec, keys=...)"
                )
            new = store.get_or_assign(self.spec.target, legacy.filter(wanted))
            out = pc.replace_with_mask(out, wanted, pc.cast(new, pa.int64()))
        cast = cast_column(out, f.type)
        errors.add(f"cast:{f.type.name}", cast.errors)
        return cast.values, errors

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
        if f.expr is not None:
            inputs = [self._evaluate(f, f.expr, data, errors)]
        else:
            inputs = _inputs(f, data)
        if f.spec.from_ is not None and len(f.markers):
            inputs = [_apply_markers(v, f.markers) for v in inputs]
        for step in f.steps:
            result = step.function.apply(inputs, step.args)
            errors.add(step.function.name, result.errors)
            inputs = [result.values]
        cast = cast_column(inputs[0], f.type, f.options)
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

    def _evaluate(self, f: _Field, expr: Expression, data: pa.Table, errors: _Errors) -> pa.Array:
        """A computed field: the expression over its columns, after the null markers."""
        names = sorted(expr.columns)
        table = pa.table(
            {c: _apply_markers(as_array(data.column(c)), f.markers) for c in names}
            if names
            else {"_": pa.nulls(data.num_rows)}
        )
        result = expr.evaluate_rows(table)
        errors.add("expr", result.errors)
        return result.values


# --- compiling --------------------------------------------------------------------------


def compile_spec(
    spec: MappingSpec,
    *,
    base_dir: Path | None = None,
    lookups: LookupProvider | None = None,
    keys: KeyMapStore | None = None,
    environ: Mapping[str, str] | None = None,
) -> CompiledMapping:
    """Resolve functions and arguments, parse expressions and cast defaults, once.

    `base_dir` is the project folder (files named in the spec are relative to it; default:
    the one the spec was loaded with, see `ferryman.mappings.loader`); `lookups` and `keys` are the
    flow's LookupProvider and KeyMapStore, needed only by specs with target/source lookups
    or surrogate keys; `environ` defaults to os.environ (the pseudonym key of `hash`).
    A spec with `more_sources` compiles for its first stream: compile each of
    `spec.stream_specs()` for the others.

    Raises CompileError listing every problem (with its path in the spec).
    """
    ctx = _context(spec, base_dir, lookups, keys, environ)
    problems: list[Problem] = []
    fields = []
    for name, fs in spec.fields.items():
        compiled, found = _compile_field(spec, name, fs, ctx)
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
    return CompiledMapping(spec, fields, filter_expr, ctx)


def _context(
    spec: MappingSpec,
    base_dir: Path | None,
    lookups: LookupProvider | None,
    keys: KeyMapStore | None,
    environ: Mapping[str, str] | None,
) -> CompileContext:
    if base_dir is None:
        from ferryman.mappings.loader import base_dir_of

        base_dir = base_dir_of(spec)
    if environ is None:
        return CompileContext(base_dir=base_dir, lookups=lookups, keys=keys)
    return CompileContext(base_dir=base_dir, lookups=lookups, keys=keys, environ=environ)


def check_spec(spec: MappingSpec, *, base_dir: Path | None = None) -> list[Problem]:
    """Every problem compile_spec would raise, for every stream of the spec, without
    raising (for `ferryman check`). Problems of a `more_sources` stream point into it."""
    if base_dir is None:
        from ferryman.mappings.loader import base_dir_of

        base_dir = base_dir_of(spec)
    problems: list[Problem] = []
    for i, stream in enumerate(spec.stream_specs()):
        try:
            compile_spec(stream, base_dir=base_dir)
        except CompileError as e:
            found = list(e.problems) if i == 0 else _in_more_source(spec, i - 1, e.problems)
            problems += [p for p in found if p not in problems]
    return problems


def _in_more_source(spec: MappingSpec, i: int, problems: Sequence[Problem]) -> list[Problem]:
    """Problems of stream i+1, moved to `more_sources[i]` where that stream differs."""
    more = spec.more_sources[i]
    out = []
    for p in problems:
        own_field = p.path[:1] == ("fields",) and len(p.path) > 1 and p.path[1] in more.fields
        own_filter = p.path[:1] == ("filter",) and more.filter is not None
        moved = own_field or own_filter
        out.append(Problem(("more_sources", i, *p.path), p.message, p.offset) if moved else p)
    return out


def _compile_field(
    spec: MappingSpec, name: str, fs: FieldSpec, ctx: CompileContext
) -> tuple[_Field | None, list[Problem]]:
    base: SpecPath = ("fields", name)
    problems: list[Problem] = []
    expr = None
    columns: list[str] = []
    if fs.expr is not None:
        try:
            expr = parse_expression(fs.expr)
            columns = sorted(expr.columns)
        except ExpressionError as e:
            problems.append(Problem((*base, "expr"), e.message, e.offset))
    else:
        columns = fs.source_columns
    steps, found = _compile_steps(fs, base, len(columns), ctx)
    problems += found
    if len(columns) > 1 and not fs.transform and fs.expr is None and fs.surrogate is None:
        problems.append(
            Problem((*base, "from"), f"reads {len(columns)} columns but has no step to"
                    " combine them; add `transform: [concat]` or `[coalesce]`")
        )  # fmt: skip
    t = fs.type_spec
    default = None
    if fs.default is not None:
        cast = cast_column(pa.array([fs.default]), t, fs.cast)
        if cast.errors is not None:
            problems.append(Problem((*base, "default"), f"{cast.errors[0].as_py()} ({t})"))
        else:
            default = cast.values[0]
    if problems:
        return None, problems
    markers = _markers([*spec.source.null_markers, *fs.nulls])
    required = fs.required or name in spec.key
    compiled = _Field(
        name, fs, t, tuple(steps), markers, default, required, fs.cast, expr, tuple(columns)
    )
    return compiled, []


def _compile_steps(
    fs: FieldSpec, base: SpecPath, n_columns: int, ctx: CompileContext
) -> tuple[list[_Step], list[Problem]]:
    steps: list[_Step] = []
    problems: list[Problem] = []
    for i, step in enumerate(fs.transform):
        path = (*base, "transform", i)
        try:
            fn = get_function(step.function)
            steps.append(_Step(fn, fn.prepare(parse_args(step), ctx)))
        except (RegistryError, ValidationError, ValueError) as e:
            problems.append(Problem(path, _one_line(e)))
            continue
        problems += _arity_problems(fs, fn, i, path, n_columns)
    return steps, problems


def _arity_problems(
    fs: FieldSpec, fn: TransformFunction, i: int, path: SpecPath, n: int
) -> list[Problem]:
    if i == 0 and n > 1 and not fn.multi_input and fs.expr is None:
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
