"""Functions over several source columns (`from: [A, B, ...]`): concat and coalesce."""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc
from pydantic import BaseModel, Field

from ferryman.mappings._arrow import StepResult, as_array, as_text
from ferryman.mappings.functions.base import DocExample, TransformFunction, expect_args
from ferryman.mappings.model import StrictModel


class ConcatArgs(StrictModel):
    sep: str = Field(default="", description="Text put between the values.")
    skip_nulls: bool = Field(
        default=True,
        description="Leave NULL values out (true), or make the result NULL if any is (false).",
    )


class Concat(TransformFunction):
    """Join the columns' text. All inputs NULL gives NULL (never an empty string)."""

    name = "concat"
    args_model = ConcatArgs
    multi_input = True
    scalar_arg = "sep"
    doc_example = DocExample(
        step="concat: ' '",
        inputs=[["Ada", "Alan", None], ["Lovelace", None, None]],
        output=["Ada Lovelace", "Alan", None],
    )

    def apply(self, inputs: list[pa.Array], args: BaseModel) -> StepResult:
        a = expect_args(args, ConcatArgs)
        texts = [as_text(v) for v in inputs]
        if not a.skip_nulls:
            return StepResult(pc.binary_join_element_wise(*texts, a.sep, null_handling="emit_null"))
        all_null = pc.is_null(pc.coalesce(*texts))
        # Arrow 26's "skip" drops rows whose inputs are all null (the output comes back
        # shorter, misaligning every later row): give those rows one '' and null them after.
        texts[0] = pc.if_else(all_null, "", texts[0])
        joined = pc.binary_join_element_wise(*texts, a.sep, null_handling="skip")
        if len(joined) != len(all_null):
            raise AssertionError("binary_join_element_wise changed the row count")
        return StepResult(pc.if_else(all_null, pa.scalar(None, pa.string()), joined))


class Coalesce(TransformFunction):
    """The first non-NULL value among the columns, left to right."""

    name = "coalesce"
    multi_input = True
    doc_example = DocExample(
        step="coalesce",
        inputs=[[None, "a@x.org"], ["b@y.org", "c@z.org"]],
        output=["b@y.org", "a@x.org"],
    )

    def apply(self, inputs: list[pa.Array], args: BaseModel) -> StepResult:
        arrays = [as_array(v) for v in inputs]
        if len(arrays) == 1:
            return StepResult(arrays[0])
        types = {v.type for v in arrays if not pa.types.is_null(v.type)}
        if len(types) > 1:
            # Mixed types (an int column and a text column) meet as text; the cast follows.
            arrays = [as_text(v) for v in arrays]
        elif types:
            (common,) = types
            arrays = [pc.cast(v, common) if pa.types.is_null(v.type) else v for v in arrays]
        return StepResult(pc.coalesce(*arrays))


class ConcatWsArgs(StrictModel):
    sep: str = Field(description="Text put between the non-NULL values.")


class ConcatWs(TransformFunction):
    """SQL's concat_ws: join the non-NULL values with `sep` (NULLs are skipped, not
    joined as empty text); all inputs NULL gives NULL."""

    name = "concat_ws"
    args_model = ConcatWsArgs
    multi_input = True
    scalar_arg = "sep"
    doc_example = DocExample(
        step="concat_ws: ', '",
        inputs=[["12 Main St", "3 High St", None], [None, "Leeds", None]],
        output=["12 Main St", "3 High St, Leeds", None],
    )

    def apply(self, inputs: list[pa.Array], args: BaseModel) -> StepResult:
        a = expect_args(args, ConcatWsArgs)
        return Concat().apply(inputs, ConcatArgs(sep=a.sep, skip_nulls=True))
