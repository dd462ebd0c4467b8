"""The mapping spec: one target table, fed from one source stream.

Strict pydantic models (unknown keys are errors, never ignored) with a description on every
field; `mappings.schema` exports them as JSON Schema for editors. A spec file is YAML:

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

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

IDENTIFIER = r"^[A-Za-z_][A-Za-z0-9_]*$"


class StrictModel(BaseModel):
    """Base of every spec model: unknown keys are errors (a typo never passes silently)."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


# --- target types -------------------------------------------------------------------------

TypeName = Literal[
    "integer", "bigint", "decimal", "float", "boolean", "string", "date", "timestamp"
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
    type: str = Field(
        default="string",
        description="Target type: integer, bigint, decimal(P,S), float, boolean, string,"
        " string(N), date, timestamp.",
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
        if self.from_ is None and self.value is None:
            raise ValueError("give the field a source: `from: COLUMN` or a constant `value:`")
        if self.from_ is not None and self.value is not None:
            raise ValueError("use either `from:` or `value:`, not both")
        return self

    @property
    def type_spec(self) -> TypeSpec:
        return TypeSpec.parse(self.type)

    @property
    def source_columns(self) -> list[str]:
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


class Dedup(StrictModel):
    """Keep one row per key within the run; the others are quarantined as duplicates."""

    key: list[str] = Field(min_length=1, description="Target columns that identify a row.")
    keep: Literal["first"] = Field(
        default="first", description="Which row wins: the first one read."
    )


WriteMode = Literal["insert", "upsert", "replace"]
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
        return self

    @property
    def dependencies(self) -> set[str]:
        return set(self.depends_on) | {fk.parent_table for fk in self.foreign_keys} - {self.target}
