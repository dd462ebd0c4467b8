"""The contract of a transform function, and the helpers the built-ins share.

A transform function takes whole columns and returns whole columns (pyarrow.compute), plus
per-row error messages for the values it cannot handle; those rows are quarantined. It is
registered under a name and validates its YAML arguments with a strict pydantic model.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any, ClassVar, TypeVar

import pyarrow as pa
from pydantic import BaseModel

from ferryman.mappings._arrow import StepResult, as_array, as_text
from ferryman.mappings.lookups import CompileContext
from ferryman.mappings.model import StrictModel

M = TypeVar("M", bound=BaseModel)


class NoArgs(StrictModel):
    """For functions that take no arguments: any key is a mistake."""


@dataclass(frozen=True)
class DocExample:
    """A tiny example for the docs, also run by the tests.

    `step` is the step as written in YAML (`trim`, `pad: 8`, `map: {values: {A: x}}`);
    `inputs` holds one list per input column, `output` the expected values.
    """

    step: str
    inputs: list[list[Any]]
    output: list[Any]
    errors: list[str | None] = field(default_factory=list)
    """Expected per-row errors (empty: none); a None entry means the row is fine."""
    environ: dict[str, str] = field(default_factory=dict)
    """Environment variables the example needs (e.g. a pseudonym key)."""
    files: dict[str, str] = field(default_factory=dict)
    """Project files the example reads: path relative to the project -> CSV text."""
    tables: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    """Lookup tables in the target the example reads: table -> rows."""


class TransformFunction(ABC):
    """One registered transform step, applied to whole columns.

    Subclasses set `name`, `args_model` (a StrictModel whose every field has a
    description), `doc_example`, and for functions combining the columns of
    `from: [A, B]`, `multi_input = True`. `scalar_arg` names the argument that the YAML
    shorthand `- name: value` fills.

    Contract: a null input row gives a null output row and never an error (single-input
    functions); a value the function cannot handle gives a null value and an error message
    naming the value; `apply` never raises because of the data.
    """

    name: ClassVar[str]
    args_model: ClassVar[type[StrictModel]] = NoArgs
    multi_input: ClassVar[bool] = False
    scalar_arg: ClassVar[str | None] = None
    doc_example: ClassVar[DocExample]

    @abstractmethod
    def apply(self, inputs: list[pa.Array], args: BaseModel) -> StepResult:
        """Transform the input column(s) of one batch."""

    def prepare(self, args: BaseModel, ctx: CompileContext) -> BaseModel:
        """Resolve what the arguments name outside the spec, once, when the spec loads
        and when it compiles: read a CSV of the project, an environment variable, bind a
        lookup provider. Raise ValueError with a sentence when that fails (it is reported
        at the step's position). The default has nothing to resolve."""
        return args

    def __repr__(self) -> str:
        return f"<transform function {self.name!r}>"


def expect_args(args: BaseModel, model: type[M]) -> M:
    """`args` as the function's own model (a wrong type is a programming error)."""
    if not isinstance(args, model):
        raise TypeError(f"expected {model.__name__} arguments, got {type(args).__name__}")
    return args


class SingleInputFunction(TransformFunction):
    """A function of one column (`from: COLUMN`, or the result of the previous step)."""

    def apply(self, inputs: list[pa.Array], args: BaseModel) -> StepResult:
        if len(inputs) != 1:
            raise ValueError(f"{self.name} takes one column, got {len(inputs)}")
        return self.transform_values(as_array(inputs[0]), args)

    @abstractmethod
    def transform_values(self, values: pa.Array, args: BaseModel) -> StepResult:
        """Transform one column of any Arrow type."""


class TextFunction(SingleInputFunction):
    """A single-input function over text: non-text input (numbers from SQL sources, dates)
    is converted to its usual text form first."""

    def transform_values(self, values: pa.Array, args: BaseModel) -> StepResult:
        return self.transform(as_text(values), args)

    @abstractmethod
    def transform(self, text: pa.Array, args: BaseModel) -> StepResult:
        """Transform one text column."""
