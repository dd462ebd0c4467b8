"""Translating codes: `map` (a fixed table, inline or a CSV file of the project) and
`lookup` (a table in the target or the source, or a CSV file), each with an explicit
policy for codes the table does not know (never a silent NULL unless asked for)."""

from __future__ import annotations

from typing import Any, Literal

import pyarrow as pa
import pyarrow.compute as pc
from pydantic import BaseModel, Field, PrivateAttr, field_validator, model_validator

from ferryman.mappings._arrow import StepResult, as_text, errors_where, falsy_nulls, join, quoted
from ferryman.mappings.functions.base import DocExample, TextFunction, expect_args
from ferryman.mappings.lookups import (
    CompileContext,
    InMemoryLookups,
    LookupProvider,
    LookupSpec,
    key_value_columns,
    read_csv_table,
)
from ferryman.mappings.model import StrictModel

Scalar = str | int | float | bool | None
Unmatched = Literal["default", "null", "quarantine", "keep"]
_SHOWN_CODES = 8


class _PolicyArgs(StrictModel):
    default: Scalar = Field(
        default=None, description="Value for codes not found (with unmatched: default)."
    )
    unmatched: Unmatched | None = Field(
        default=None,
        description="What a code not found becomes: default (the `default`), null"
        " (`unmatched: null` works unquoted),"
        " quarantine (the row is rejected) or keep (the code itself). Default: `default`"
        " when a default is given, else quarantine.",
    )

    @model_validator(mode="after")
    def _policy_consistent(self) -> _PolicyArgs:
        has_default = "default" in self.model_fields_set
        if self.policy == "default" and not has_default:
            raise ValueError("unmatched: default needs a `default:` value")
        if has_default and self.policy != "default":
            raise ValueError(
                f"`default:` is never used with unmatched: {self.policy}; remove one of them"
            )
        return self

    @property
    def policy(self) -> Unmatched:
        if self.unmatched is not None:
            return self.unmatched
        if "unmatched" in self.model_fields_set:
            return "null"  # YAML reads `unmatched: null` as None, meaning the policy null
        return "default" if "default" in self.model_fields_set else "quarantine"


class MapArgs(_PolicyArgs):
    values: dict[str, Scalar] | None = Field(
        default=None, min_length=1, description="Source code -> target value, matched exactly."
    )
    file: str | None = Field(
        default=None,
        description="Instead of `values`: a UTF-8 CSV file with a header, relative to the"
        " project (codes in its first column, values in its second, or `key`/`value`).",
    )
    key: str | None = Field(default=None, description="With `file`: the column of codes.")
    value: str | None = Field(default=None, description="With `file`: the column of values.")

    @field_validator("values", mode="before")
    @classmethod
    def _text_keys(cls, v: Any) -> Any:
        # YAML reads `1: active` with an integer key; codes are matched as text.
        if not isinstance(v, dict):
            return v
        out: dict[Any, Any] = {}
        for key, value in v.items():
            if isinstance(key, bool) or not isinstance(key, str | int):
                # pydantic reports ValueError as a validation error; TypeError would escape
                raise ValueError(  # noqa: TRY004
                    f"code {key!r} is not text; quote it in the YAML (e.g. '{key}': ...)"
                )
            out[str(key)] = value
        return out

    @model_validator(mode="after")
    def _one_table(self) -> MapArgs:
        if (self.values is None) == (self.file is None):
            raise ValueError("give the codes either inline (`values:`) or in a `file:`")
        if self.file is None and (self.key is not None or self.value is not None):
            raise ValueError("`key:` and `value:` name the columns of a `file:`")
        return self


def _as_text(v: Scalar) -> str | None:
    if v is None or isinstance(v, str):
        return v
    if isinstance(v, bool):
        return "true" if v else "false"
    return repr(v) if isinstance(v, float) else str(v)


def _output(candidates: list[Scalar], as_text: bool) -> tuple[list[Any], pa.DataType]:
    """The mapped values as one Arrow type: bool, int64 or float64 when they all agree,
    else text (the cast to the field's type follows either way)."""
    present = [v for v in candidates if v is not None]
    if not as_text and present:
        if all(isinstance(v, bool) for v in present):
            return candidates, pa.bool_()
        if all(isinstance(v, int) and not isinstance(v, bool) for v in present):
            return candidates, pa.int64()
        if all(isinstance(v, int | float) and not isinstance(v, bool) for v in present):
            return [None if v is None else float(v) for v in candidates], pa.float64()
    return [_as_text(v) for v in candidates], pa.string()


class Map(TextFunction):
    """Look each value up in `values` (or a CSV `file`); unknown codes follow the
    `unmatched` policy."""

    name = "map"
    args_model = MapArgs
    doc_example = DocExample(
        step="map: {values: {A: active, I: inactive}}",
        inputs=[["A", "I", "X", None]],
        output=["active", "inactive", None, None],
        errors=[
            None,
            None,
            "'X' is not a known code (known: 'A', 'I'); add it to `values:`, or set"
            " `default:` or `unmatched:`",
            None,
        ],
    )

    def prepare(self, args: BaseModel, ctx: CompileContext) -> BaseModel:
        a = expect_args(args, MapArgs)
        if a.file is None:
            return a
        table = read_csv_table(ctx.path(a.file), a.file)
        key, value = key_value_columns(table, a.key, a.value, a.file)
        codes, values = table.column(key).to_pylist(), table.column(value).to_pylist()
        if len(set(codes)) < len(codes):
            repeated = sorted({c for c in codes if codes.count(c) > 1})[:5]
            raise ValueError(f"file {a.file!r} lists the code(s) {repeated} more than once")
        if not codes:
            raise ValueError(f"file {a.file!r} has a header but no codes")
        return a.model_copy(update={"values": dict(zip(codes, values, strict=True))})

    def transform(self, text: pa.Array, args: BaseModel) -> StepResult:
        a = expect_args(args, MapArgs)
        if a.values is None:
            raise RuntimeError("map with a file was applied without prepare(): compile first")
        policy = a.policy
        keys = pa.array(list(a.values), pa.string())
        values, out_type = _output([*a.values.values(), a.default], as_text=policy == "keep")
        where = "`values:`" if a.file is None else f"the file {a.file}"
        table = pa.array(values[:-1], out_type)
        unknown = lambda: _unknown_code(text, keys, where)  # noqa: E731 - built only on failure
        return translate(text, keys, table, a, values[-1], unknown)


def translate(
    text: pa.Array,
    keys: pa.Array,
    table: pa.Array,
    policy_args: _PolicyArgs,
    default: Any,
    unknown: Any,
) -> StepResult:
    """`text` through the code table keys -> table, then the unmatched policy."""
    index = pc.index_in(text, value_set=keys)
    mapped = pc.take(table, index)
    unmatched = pc.and_(pc.is_valid(text), pc.is_null(index))
    policy = policy_args.policy
    if policy == "default":
        fill = pc.cast(pa.array([default]), table.type)[0]
        return StepResult(pc.if_else(unmatched, fill, mapped))
    if policy == "keep":
        return StepResult(pc.if_else(unmatched, text, as_text(mapped)))
    if policy == "null":
        return StepResult(mapped)
    return StepResult(mapped, errors_where(unmatched, unknown))


def _unknown_code(text: pa.Array, keys: pa.Array, where: str) -> pa.Array:
    names = keys.to_pylist()
    shown = ", ".join(repr(k) for k in names[:_SHOWN_CODES])
    if len(names) > _SHOWN_CODES:
        shown += f" and {len(names) - _SHOWN_CODES} more"
    base = join(
        quoted(text),
        f" is not a known code (known: {shown}); add it to {where}, or set `default:`"
        " or `unmatched:`",
    )
    return _near_hint(text, keys, base, "map")


def _near_hint(text: pa.Array, keys: pa.Array, base: pa.Array, fn: str) -> pa.Array:
    # The commonest cause is stray blanks or case: say so when that would match.
    normalized = pc.utf8_upper(pc.utf8_trim_whitespace(text))
    near = falsy_nulls(pc.is_in(normalized, value_set=pc.utf8_upper(keys)))
    hint = f"; matching is exact: add a trim or upper step before {fn}"
    return pc.if_else(near, join(base, hint), base)


# --- lookup ---------------------------------------------------------------------------------


class SourceTable(StrictModel):
    connection: str = Field(description="The source connection (in ferryman.yaml).")
    table: str = Field(description="The table in that source.")


class LookupArgs(_PolicyArgs):
    table: str | None = Field(
        default=None,
        description="A target table loaded earlier (it becomes a dependency of this spec).",
    )
    source: SourceTable | None = Field(default=None, description="A table in a source.")
    file: str | None = Field(
        default=None, description="A UTF-8 CSV file with a header, relative to the project."
    )
    key: str | None = Field(
        default=None, description="Column holding the codes (a file's first column by default)."
    )
    value: str | None = Field(
        default=None, description="Column holding the result (a file's second by default)."
    )
    _spec: LookupSpec | None = PrivateAttr(default=None)
    _provider: LookupProvider | None = PrivateAttr(default=None)

    @model_validator(mode="after")
    def _one_place(self) -> LookupArgs:
        given = [k for k in ("table", "source", "file") if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError(
                "name exactly one lookup table: `table:` (in the target), `source:`"
                " ({connection, table}) or `file:` (a CSV of the project)"
            )
        if self.file is None and (self.key is None or self.value is None):
            raise ValueError("a table lookup needs `key:` and `value:` (its column names)")
        return self


class Lookup(TextFunction):
    """Resolve a code through a lookup table: a table of the target loaded earlier in the
    run (e.g. countries, to get the new country_id), a table of the source, or a CSV file.
    Codes without a row follow the `unmatched` policy. One query per batch, for its
    distinct codes."""

    name = "lookup"
    args_model = LookupArgs
    doc_example = DocExample(
        step="lookup: {table: countries, key: iso_code, value: country_id}",
        inputs=[["FR", "DE", "XX", None]],
        output=[1, 2, None, None],
        errors=[
            None,
            None,
            "'XX' has no row in target table countries (iso_code -> country_id)",
            None,
        ],
        tables={
            "countries": [
                {"iso_code": "FR", "country_id": 1},
                {"iso_code": "DE", "country_id": 2},
            ]
        },
    )

    def prepare(self, args: BaseModel, ctx: CompileContext) -> BaseModel:
        a = expect_args(args, LookupArgs)
        bound = a.model_copy()
        if a.file is not None:
            table = read_csv_table(ctx.path(a.file), a.file)
            key, value = key_value_columns(table, a.key, a.value, a.file)
            spec = LookupSpec("file", a.file, key, value)
            bound._provider = InMemoryLookups({("file", a.file): table})
        else:
            key, value = a.key or "", a.value or ""  # both checked by the model
            if a.source is not None:
                spec = LookupSpec("source", a.source.table, key, value, a.source.connection)
            else:
                spec = LookupSpec("target", a.table or "", key, value)
            bound._provider = ctx.lookups
        bound._spec = spec
        return bound

    def transform(self, text: pa.Array, args: BaseModel) -> StepResult:
        a = expect_args(args, LookupArgs)
        spec, provider = a._spec, a._provider
        if spec is None:
            raise RuntimeError("lookup was applied without prepare(): compile the spec first")
        if provider is None:
            raise RuntimeError(
                f"the lookup in {spec.describe()} needs a LookupProvider: compile the spec"
                " with compile_spec(spec, lookups=...)"
            )
        codes = pc.unique(text.drop_null())
        rows = provider.fetch(spec, codes) if len(codes) else None
        if rows is None or rows.num_rows == 0:
            keys, table = pa.array([], pa.string()), pa.array([], pa.string())
        else:
            keys = as_text(rows.column("key").combine_chunks())
            table = rows.column("value").combine_chunks()
        message = f" has no row in {spec.describe()}"
        result = translate(text, keys, table, a, a.default, lambda: join(quoted(text), message))
        return _ambiguous(text, keys, spec, result)


def _ambiguous(text: pa.Array, keys: pa.Array, spec: LookupSpec, result: StepResult) -> StepResult:
    """A code with several rows in the lookup table has no single answer: an error."""
    if len(pc.unique(keys)) == len(keys):
        return result
    counts = pc.value_counts(keys)
    repeated = counts.field("values").filter(pc.greater(counts.field("counts"), 1))
    hit = falsy_nulls(pc.is_in(text, value_set=repeated))
    message = f" has several rows in {spec.describe()}; its key column must be unique"
    errors = errors_where(hit, lambda: join(quoted(text), message))
    if errors is None:
        return result
    merged = errors if result.errors is None else pc.coalesce(errors, result.errors)
    values = pc.if_else(hit, pa.scalar(None, result.values.type), result.values)
    return StepResult(values, merged)
