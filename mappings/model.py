"""The mapping spec: one target table, fed from one source stream.

Strict pydantic models (unknown keys are errors, never ignored) with a description on every
field; `ferryman.mappings.schema` exports them as JSON Schema for editors. A spec file is YAML:

    target: customers
    source: {connection: legacy, table: CUSTMAST}
    key: [customer_id]
    fields:
      customer_id: {from: CUSTNO, type: integer}
      name:        {from: CUSTNAME, transform: [trim, title], type: string(120)}
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import Field, field_validator, model_validator

from ferryman.mappings._strict import IDENTIFIER, StrictModel
from ferryman.mappings.options import CAST_OPTION_TYPES, CastOptions, Dedup, Index, Surrogate

__all__ = [
    "IDENTIFIER",
    "CastOptions",
    "Dedup",
    "FieldSpec",
    "ForeignKey",
    "Gates",
    "Index",
    "MappingSpec",
    "MoreSource",
    "SourceRef",
    "Step",
    "StrictModel",
    "Surrogate",
    "TypeSpec",
]


# --- target types -------------------------------------------------------------------------

TypeName = Literal[
    "integer",
    "bigint",
    "decimal",
    "float",
    "boolean",
    "string",
    "date",
    "time",
    "timestamp",
    "timestamptz",
    "uuid",
    "json",
    "binary",
]
_TYPE_RE = re.compile(r"^\s*([a-z]+)\s*(?:\(\s*(\d+)\s*(?:,\s*(\d+)\s*)?\))?\s*$")
TYPE_NAMES: tuple[str, ...] = TypeName.__args__  # type: ignore[attr-defined]


class TypeSpec(StrictModel):
    """A parsed target type such as `decimal(12,2)` or `string(80)`."""

    name: TypeName
    length: int | None = None
    precision: int | None = None
    scale: int | None = None

    @classmethod
    def parse(cls, text: str) -> TypeSpec:
        m = _TYPE_RE.match(text)
        if not m or m.group(1) not in TYPE_NAMES:
            raise ValueError(
                f"unknown type {text!r}; use one of {', '.join(TYPE_NAMES)}"
                " (with string(N) or decimal(P,S))"
            )
        name, a, b = m.group(1), m.group(2), m.group(3)
        if name == "string":
            if b is not None:
                raise ValueError("string takes one length: string(N)")
            return cls(name="string", length=int(a) if a else None)
        if name == "decimal":
            if a is None:
                raise ValueError("decimal needs a precision: decimal(P,S), e.g. decimal(12,2)")
            p, s = int(a), int(b or 0)
            if not (1 <= p <= 38 and 0 <= s <= p):
                raise ValueError(f"decimal({p},{s}) is out of range: need 1<=P<=38, 0<=S<=P")
            return cls(name="decimal", precision=p, scale=s)
        if name == "timestamp" and a is not None:
            raise ValueError(
                "timestamp takes no precision (it keeps microseconds); for a zone use timestamptz"
            )
        if a is not None:
            raise ValueError(f"type {name} takes no arguments")
        return cls(name=name)

    def __str__(self) -> str:
        if self.name == "string" and self.length:
            return f"string({self.length})"
        if self.name == "decimal":
            return f"decimal({self.precision},{self.scale})"
        return self.name


# --- transforms ---------------------------------------------------------------------------


class Step(StrictModel):
    """One transform step: a registered function name and its arguments.

    In YAML a step is written either as a bare name (`trim`) or as a one-key mapping
    (`map: {values: {A: active}, default: unknown}`); `args` is validated against the
    function's own argument model when the spec is loaded.
    """

    function: str = Field(description="Name of a registered transform function.")
    args: dict[str, Any] = Field(default_factory=dict, description="The function's arguments.")

    @model_validator(mode="before")
    @classmethod
    def _from_yaml(cls, data: Any) -> Any:
        if isinstance(data, str):
            return {"function": data, "args": {}}
        if isinstance(data, dict) and len(data) == 1 and "function" not in data:
            ((name, args),) = data.items()
            if args is None:
                args = {}
            if not isinstance(args, dict):
                # scalar shorthand: `- pad: 8` means the function's first argument
                args = {"_": args}
            return {"function": name, "args": args}
        if isinstance(data, dict) and len(data) != 1 and "function" not in data:
            raise ValueError(
                "a step is a function name (`- trim`) or a one-key mapping"
                " (`- map: {values: {...}}`)"
            )
        return data


class FieldSpec(StrictModel):
    """How one target column is produced from the source row."""

    from_: str | list[str] | None = Field(
        default=None,
        alias="from",
        description="Source column (or list of columns, for concat/coalesce) to read.",
    )
    value: str | int | float | bool | None = Field(
        default=None, description="A constant value instead of a source column."
    )
    expr: str | None = Field(
        default=None,
        description="A computed value: an expression over source columns, e.g."
        " `QTY * PRICE` or `upper(trim(CODE))` (same language as `filter`).",
    )
    surrogate: Surrogate | None = Field(
        default=None,
        description="A new key assigned by ferryman from a legacy key, stable across runs:"
        " `surrogate: {from: CUSTNO}`.",
    )
    type: str = Field(
        default="string",
        description="Target type: integer, bigint, decimal(P,S), float, boolean, string,"
        " string(N), date, time, timestamp, timestamptz, uuid, json, binary.",
    )
    cast: CastOptions | None = Field(
        default=None, description="Options of the cast to `type` (boolean words, zone, ...)."
    )
    transform: list[Step] = Field(
        default_factory=list, description="Transform steps applied in order, before the cast."
    )
    nulls: list[str] = Field(
        default_factory=list,
        description="Raw values that mean NULL for this field (added to the source's).",
    )
    default: str | int | float | bool | None = Field(
        default=None, description="Value used when the result is NULL."
    )
    required: bool = Field(
        default=False,
        description="A NULL result quarantines the row instead of loading a NULL.",
    )
    description: str | None = Field(default=None, description="Free text for the reader.")

    @field_validator("type")
    @classmethod
    def _type_parses(cls, v: str) -> str:
        TypeSpec.parse(v)
        return v

    @model_validator(mode="after")
    def _one_input(self) -> FieldSpec:
        given = [
            k
            for k, v in (
                ("from", self.from_),
                ("value", self.value),
                ("expr", self.expr),
                ("surrogate", self.surrogate),
            )
            if v is not None
        ]
        if not given:
            raise ValueError(
                "give the field a source: `from: COLUMN`, a constant `value:`,"
                " a computed `expr:` or a `surrogate:` key"
            )
        if len(given) > 1:
            shown = " and ".join(f"`{k}:`" for k in given)
            raise ValueError(f"use only one of {shown}: each gives the field its value")
        if self.surrogate is not None:
            if self.type_spec.name not in ("integer", "bigint"):
                raise ValueError("a surrogate key is a number: give it `type: bigint`")
            if self.transform:
                raise ValueError("a surrogate key takes no transform steps")
        if self.cast is not None:
            name = self.type_spec.name
            for option in self.cast.model_fields_set:
                if name not in CAST_OPTION_TYPES[option]:
                    types = " or ".join(CAST_OPTION_TYPES[option])
                    raise ValueError(f"cast.{option} applies to type {types}, not {self.type}")
        return self

    @property
    def type_spec(self) -> TypeSpec:
        return TypeSpec.parse(self.type)

    @property
    def source_columns(self) -> list[str]:
        if self.surrogate is not None:
            return self.surrogate.columns
        if self.expr is not None:
            from ferryman.mappings.expressions import parse_expression

            return sorted(parse_expression(self.expr).columns)
        if self.from_ is None:
            return []
        return [self.from_] if isinstance(self.from_, str) else list(self.from_)


# --- rows and tables ----------------------------------------------------------------------


class SourceRef(StrictModel):
    """Which stream of which connection feeds this spec."""

    connection: str = Field(description="Name of a connection in ferryman.yaml.")
    table: str | None = Field(default=None, description="Table to read (SQL sources).")
    file: str | None = Field(
        default=None, description="File to read, relative to the connection's path."
    )
    null_markers: list[str] = Field(
        default_factory=list,
        description="Raw values meaning NULL in every column of this source, e.g. 'N/A'.",
    )

    @model_validator(mode="after")
    def _one_stream(self) -> SourceRef:
        if (self.table is None) == (self.file is None):
            raise ValueError("name exactly one stream: `table:` (SQL) or `file:` (files)")
        return self

    @property
    def stream(self) -> str:
        return self.table if self.table is not None else str(self.file)


class MoreSource(SourceRef):
    """A further stream feeding the same target, read after `source:` (and the ones
    before it). Fields not listed here are produced as the spec's `fields:` say."""

    fields: dict[str, FieldSpec] = Field(
        default_factory=dict,
        description="Fields that this stream produces differently (same names and types"
        " as the spec's fields); the others are shared.",
    )
    filter: str | None = Field(
        default=None,
        description="Filter for this stream instead of the spec's (whose columns it may"
        " not have); `True` keeps every row.",
    )


class ForeignKey(StrictModel):
    """A reference to a parent table; rows whose parent is missing are quarantined."""

    columns: list[str] = Field(min_length=1, description="Columns of this table.")
    references: str = Field(
        pattern=r"^[A-Za-z_][A-Za-z0-9_]*\([A-Za-z_][A-Za-z0-9_, ]*\)$",
        description="Parent table and columns, e.g. `customers(customer_id)`.",
    )

    @property
    def parent_table(self) -> str:
        return self.references.split("(", 1)[0]

    @property
    def parent_columns(self) -> list[str]:
        inner = self.references.split("(", 1)[1].rstrip(")")
        return [c.strip() for c in inner.split(",")]


WriteMode = Literal["insert", "upsert", "replace"]
GateAction = Literal["halt", "rollback"]


class Gates(StrictModel):
    """Data-quality thresholds that decide whether a table's load may stand. Set in
    ferryman.yaml (`gates:`, for every table) and per spec (overrides, key by key)."""

    max_quarantined_share: float | None = Field(
        default=None,
        ge=0,
        le=1,
        description="Largest share of the rows read that may be quarantined, as a fraction"
        " (0.005 = 0.5%). Checked when the table's load is done. Unset: no limit.",
    )
    max_drift: int | None = Field(
        default=None,
        ge=0,
        description="Differences reconciliation may find between what the run loaded and"
        " the target (rows changed or missing, counts, column aggregates). Default 0.",
    )
    on_gate_failure: GateAction | None = Field(
        default=None,
        description="halt (default): stop, leave what was loaded for inspection;"
        " rollback: stop and roll the run back automatically.",
    )


TargetName = Annotated[str, Field(pattern=IDENTIFIER)]


class MappingSpec(StrictModel):
    """One target table, from one source stream."""

    target: TargetName = Field(description="Target table name.")
    description: str | None = Field(default=None, description="What this table holds.")
    source: SourceRef = Field(description="The stream that feeds this table.")
    key: list[str] = Field(
        min_length=1, description="Target column(s) that identify a row (primary key)."
    )
    mode: WriteMode = Field(
        default="insert",
        description="insert (new rows only), upsert (update or insert on key),"
        " replace (the table ends up holding exactly this run's rows).",
    )
    depends_on: list[str] = Field(
        default_factory=list, description="Target tables to load before this one."
    )
    filter: str | None = Field(
        default=None,
        description="Expression over source columns; rows where it is false are counted as"
        " filtered, not loaded.",
    )
    fields: dict[str, FieldSpec] = Field(
        min_length=1, description="Target columns, in order, and how each is produced."
    )
    foreign_keys: list[ForeignKey] = Field(
        default_factory=list, description="Parents that must exist (else quarantine)."
    )
    suites: list[str] = Field(
        default_factory=list,
        description="Expectation suites (validations/suites/NAME.yaml) run on each batch.",
    )
    batch_size: int | None = Field(
        default=None, gt=0, description="Rows per batch; the project default otherwise."
    )
    dedup: Dedup | None = Field(
        default=None,
        description="Keep one row per key within a batch (first, last or latest by a"
        " column); the others are quarantined as duplicate_key.",
    )
    indexes: list[Index] = Field(
        default_factory=list, description="Indexes created on the target after the load."
    )
    more_sources: list[MoreSource] = Field(
        default_factory=list,
        description="Further streams loaded into the same table after `source:`, in order.",
    )
    gates: Gates | None = Field(
        default=None,
        description="Quality gates of this table; each key set here overrides the project's.",
    )

    @model_validator(mode="after")
    def _references_known_columns(self) -> MappingSpec:
        for k in self.key:
            if k not in self.fields:
                raise ValueError(f"key column {k!r} is not one of the fields")
        for fk in self.foreign_keys:
            for c in fk.columns:
                if c not in self.fields:
                    raise ValueError(f"foreign key column {c!r} is not one of the fields")
            if len(fk.columns) != len(fk.parent_columns):
                raise ValueError(
                    f"foreign key {fk.columns} -> {fk.references}: column counts differ"
                )
        self._check_rows()
        return self

    def _check_rows(self) -> None:
        if self.dedup is not None:
            for c in [*self.dedup.key, *([self.dedup.by] if self.dedup.by else [])]:
                if c not in self.fields:
                    raise ValueError(f"dedup column {c!r} is not one of the fields")
        for ix in self.indexes:
            for c in ix.columns:
                if c not in self.fields:
                    raise ValueError(f"index column {c!r} is not one of the fields")
        for i, more in enumerate(self.more_sources):
            for name, f in more.fields.items():
                where = f"more_sources[{i}].fields.{name}"
                if name not in self.fields:
                    raise ValueError(f"{where} is not one of the spec's fields")
                if f.type_spec != self.fields[name].type_spec:
                    raise ValueError(
                        f"{where} has type {f.type}, the target column is"
                        f" {self.fields[name].type}: one column has one type"
                    )

    @property
    def dependencies(self) -> set[str]:
        """Tables to load first: depends_on, foreign key parents, target lookup tables."""
        found = set(self.depends_on) | {fk.parent_table for fk in self.foreign_keys}
        for f in self._all_fields():
            for step in f.transform:
                table = step.args.get("table") if step.function == "lookup" else None
                if isinstance(table, str):
                    found.add(table)
        return found - {self.target}

    def _all_fields(self) -> list[FieldSpec]:
        return [*self.fields.values(), *(f for m in self.more_sources for f in m.fields.values())]

    def stream_specs(self) -> list[MappingSpec]:
        """One single-source spec per stream, in load order: this spec for `source:`, then
        one per `more_sources` entry (its fields merged over the shared ones, in the
        spec's column order). The flow loads each like any spec, into the same table."""
        first = self.model_copy(update={"more_sources": []})
        out = [first]
        for more in self.more_sources:
            source = SourceRef(
                connection=more.connection,
                table=more.table,
                file=more.file,
                null_markers=more.null_markers,
            )
            fields = {n: more.fields.get(n, f) for n, f in self.fields.items()}
            update = {"source": source, "fields": fields, "more_sources": []}
            if more.filter is not None:
                update["filter"] = more.filter
            out.append(self.model_copy(update=update))
        return out
