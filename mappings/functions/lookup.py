"""`map`: translate legacy codes through a fixed table, with an explicit policy for codes
the table does not know (never a silent NULL unless asked for)."""

from __future__ import annotations

from typing import Any, Literal

import pyarrow as pa
import pyarrow.compute as pc
from pydantic import BaseModel, Field, field_validator, model_validator

from mappings._arrow import StepResult, errors_where, falsy_nulls, join, quoted
from mappings.functions.base import DocExample, TextFunction, expect_args
from mappings.model import StrictModel

Scalar = str | int | float | bool | None
Unmatched = Literal["default", "null", "quarantine", "keep"]
_SHOWN_CODES = 8


class MapArgs(StrictModel):
    values: dict[str, Scalar] = Field(
        min_length=1, description="Source code -> target value, matched exactly."
    )
    default: Scalar = Field(
        default=None, description="Value for codes not in `values` (with unmatched: default)."
    )
    unmatched: Unmatched | None = Field(
        default=None,
        description="What a code not in `values` becomes: default (the `default`), null"
        " (`unmatched: null` works unquoted),"
        " quarantine (the row is rejected) or keep (the code itself). Default: `default`"
        " when a default is given, else quarantine.",
    )

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
    def _policy_consistent(self) -> MapArgs:
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
    """Look each value up in `values`; unknown codes follow the `unmatched` policy."""

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

    def transform(self, text: pa.Array, args: BaseModel) -> StepResult:
        a = expect_args(args, MapArgs)
        policy = a.policy
        keys = pa.array(list(a.values), pa.string())
        values, out_type = _output([*a.values.values(), a.default], as_text=policy == "keep")
        table = pa.array(values[:-1], out_type)
        index = pc.index_in(text, value_set=keys)
        mapped = pc.take(table, index)
        unmatched = pc.and_(pc.is_valid(text), pc.is_null(index))
        if policy == "default":
            default = pa.scalar(values[-1], out_type)
            return StepResult(pc.if_else(unmatched, default, mapped))
        if policy == "keep":
            return StepResult(pc.if_else(unmatched, text, mapped))
        if policy == "null":
            return StepResult(mapped)
        return StepResult(mapped, errors_where(unmatched, lambda: _unknown_code(text, keys)))


def _unknown_code(text: pa.Array, keys: pa.Array) -> pa.Array:
    names = keys.to_pylist()
    shown = ", ".join(repr(k) for k in names[:_SHOWN_CODES])
    if len(names) > _SHOWN_CODES:
        shown += f" and {len(names) - _SHOWN_CODES} more"
    base = join(
        quoted(text),
        f" is not a known code (known: {shown}); add it to `values:`, or set `default:`"
        " or `unmatched:`",
    )
    # The commonest cause is stray blanks or case: say so when that would match.
    normalized = pc.utf8_upper(pc.utf8_trim_whitespace(text))
    near = falsy_nulls(pc.is_in(normalized, value_set=pc.utf8_upper(keys)))
    hint = "; matching is exact: add a trim or upper step before map"
    return pc.if_else(near, join(base, hint), base)
