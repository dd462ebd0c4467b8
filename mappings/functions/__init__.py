"""Transform functions: the registry, the built-ins, and validation of a step's arguments.

The built-ins are registered explicitly from the one list below; plugins come from the
entry-point group `ferryman.functions` (an entry point names a TransformFunction subclass
or instance). Unknown names fail with a did-you-mean, duplicates raise.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import pyarrow as pa
from pydantic import BaseModel, ValidationError
from pydantic_core import InitErrorDetails, PydanticCustomError

from ferryman.connectors.registry import Registry, RegistryError
from ferryman.mappings._arrow import StepResult
from ferryman.mappings.functions.base import (
    DocExample,
    NoArgs,
    SingleInputFunction,
    TextFunction,
    TransformFunction,
)
from ferryman.mappings.functions.combine import Coalesce, Concat, ConcatWs
from ferryman.mappings.functions.lookup import Lookup, Map
from ferryman.mappings.functions.parsing import ParseDate, ParseNumber, ParseTimestamp
from ferryman.mappings.functions.privacy import Hash
from ferryman.mappings.functions.strings import Extract, Pad, Split, Unpad
from ferryman.mappings.functions.text import (
    CollapseWhitespace,
    Lower,
    Replace,
    Substring,
    Title,
    Trim,
    Upper,
)
from ferryman.mappings.lookups import CompileContext, InMemoryLookups
from ferryman.mappings.model import Step

__all__ = [
    "BUILTINS",
    "FUNCTIONS",
    "DocExample",
    "NoArgs",
    "SingleInputFunction",
    "StepResult",
    "TextFunction",
    "TransformFunction",
    "get_function",
    "parse_args",
    "run_doc_example",
]

BUILTINS: tuple[TransformFunction, ...] = (
    Trim(),
    Upper(),
    Lower(),
    Title(),
    CollapseWhitespace(),
    Replace(),
    Substring(),
    Pad(),
    Unpad(),
    Extract(),
    Split(),
    Map(),
    Lookup(),
    ParseDate(),
    ParseTimestamp(),
    ParseNumber(),
    Concat(),
    ConcatWs(),
    Coalesce(),
    Hash(),
)

FUNCTIONS: Registry[TransformFunction] = Registry("transform function", "ferryman.functions")
for _fn in BUILTINS:
    FUNCTIONS.register(_fn.name, _fn)


def get_function(name: str) -> TransformFunction:
    """The function registered as `name`; raises RegistryError with a did-you-mean."""
    item: Any = FUNCTIONS.get(name)
    if isinstance(item, type) and issubclass(item, TransformFunction):
        return item()
    if not isinstance(item, TransformFunction):
        raise RegistryError(
            f"transform function {name!r} is registered as {item!r}, which is not a"
            " TransformFunction; fix the entry point in the plugin's package metadata"
        )
    return item


def parse_args(step: Step) -> BaseModel:
    """Validate `step.args` against its function's argument model.

    The scalar shorthand (`- substring: 3`, stored as args={"_": 3}) fills the function's
    `scalar_arg`. Error locations refer to the keys of `step.args` as written, so `_` for
    the shorthand. Raises RegistryError (unknown function) or pydantic ValidationError.
    """
    fn = get_function(step.function)
    model = fn.args_model
    args = dict(step.args)
    if "_" not in args:
        return model.model_validate(args)
    if fn.scalar_arg is None or len(args) > 1:
        raise _shorthand_error(fn, args["_"])
    try:
        return model.model_validate({fn.scalar_arg: args["_"]})
    except ValidationError as e:
        raise _relocate(e, fn.scalar_arg, model.__name__) from None


def _shorthand_error(fn: TransformFunction, value: Any) -> ValidationError:
    fields = ", ".join(fn.args_model.model_fields) or "no arguments"
    if fn.args_model.model_fields:
        hint = f"write its arguments as a mapping: `- {fn.name}: {{...}}` ({fields})"
    else:
        hint = f"it takes no arguments: write `- {fn.name}`"
    error = PydanticCustomError(
        "no_shorthand", "{name} has no one-value form; {hint}", {"name": fn.name, "hint": hint}
    )
    details: InitErrorDetails = {"type": error, "loc": ("_",), "input": value}
    return ValidationError.from_exception_data(fn.args_model.__name__, [details])


def _relocate(e: ValidationError, arg: str, title: str) -> ValidationError:
    """Errors about the shorthand's value are reported at `_`, the key in step.args."""
    details: list[InitErrorDetails] = []
    for err in e.errors():
        loc = err["loc"]
        if loc[:1] == (arg,):
            loc = ("_", *loc[1:])
        # Keep the type and context (e.g. ctx["ge"]) so messages can be re-worded from them.
        template = err["msg"].replace("{", "{{").replace("}", "}}")
        custom = PydanticCustomError(err["type"], template, err.get("ctx"))
        item: InitErrorDetails = {"type": custom, "loc": loc, "input": err["input"]}
        details.append(item)
    return ValidationError.from_exception_data(title, details)


def run_doc_example(fn: TransformFunction) -> StepResult:
    """Run a function's doc example as the docs show it: with the files, environment and
    lookup tables the example names (written to a temporary project folder)."""
    ex = fn.doc_example
    from ruamel.yaml import YAML

    step = Step.model_validate(YAML(typ="safe", pure=True).load(ex.step))
    lookups = InMemoryLookups(
        {("target", name): pa.Table.from_pylist(rows) for name, rows in ex.tables.items()}
    )
    with tempfile.TemporaryDirectory() as tmp:
        for relative, text in ex.files.items():
            path = Path(tmp) / relative
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
        ctx = CompileContext(base_dir=Path(tmp), lookups=lookups, environ=dict(ex.environ))
        args = fn.prepare(parse_args(step), ctx)
        return fn.apply([pa.array(column) for column in ex.inputs], args)
