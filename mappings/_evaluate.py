"""Evaluating a parsed expression on a batch: values, SQL NULL logic, text read as
numbers or dates with per-row errors. Private to `ferryman.mappings.expressions`, which checks the
syntax and builds the tree of `Node`s this module runs."""

from __future__ import annotations

import ast
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

import pyarrow as pa
import pyarrow.compute as pc

from ferryman.mappings._arrow import as_text, is_text, join
from ferryman.mappings.model import TypeSpec
from ferryman.mappings.types import cast_column

Kind = Literal["bool", "number", "text", "any"]
Value = Any  # a pa.Array (one value per row) or a pa.Scalar (a constant)

COMPARE: dict[type[ast.cmpop], Callable[..., Any]] = {
    ast.Eq: pc.equal,
    ast.NotEq: pc.not_equal,
    ast.Lt: pc.less,
    ast.LtE: pc.less_equal,
    ast.Gt: pc.greater,
    ast.GtE: pc.greater_equal,
}
ARITH: dict[type[ast.operator], Callable[..., Any]] = {
    ast.Add: pc.add_checked,
    ast.Sub: pc.subtract_checked,
    ast.Mult: pc.multiply_checked,
}


class ExpressionError(ValueError):
    """A bad expression: `message` says what and how to fix it, `offset` is the 0-based
    character offset in the expression text where the problem is."""

    def __init__(self, message: str, offset: int = 0) -> None:
        super().__init__(message)
        self.message = message
        self.offset = offset

    def caret(self, text: str) -> str:
        """The expression with a ^ under the offending character, for terminals."""
        return f"{text}\n{' ' * self.offset}^ {self.message}"


@dataclass
class Context:
    table: pa.Table
    errors: list[pa.Array] = field(default_factory=list)


@dataclass(frozen=True)
class Node:
    run: Callable[[Context], Value]
    kind: Kind
    offset: int
    source: str


def type_of(v: Value) -> pa.DataType:
    return v.type


def is_number(t: pa.DataType) -> bool:
    return bool(pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_decimal(t))


def as_bool(node: Node, ctx: Context) -> Value:
    value = node.run(ctx)
    t = type_of(value)
    if pa.types.is_null(t):
        return pc.cast(value, pa.bool_())
    if not pa.types.is_boolean(t):
        raise ExpressionError(
            f"`{node.source}` is {t}, not a condition; compare it, e.g. `{node.source} != ...`",
            node.offset,
        )
    return value


def convert(node: Node, ctx: Context, value: Value, target: TypeSpec) -> Value:
    """`value` (text) as `target`; a row that does not convert becomes an error."""
    if isinstance(value, pa.Scalar):
        result = cast_column(pa.array([value.as_py()], value.type), target)
        if result.errors is not None:
            raise ExpressionError(f"{result.errors[0].as_py()}", node.offset)
        return result.values[0]
    result = cast_column(value, target)
    if result.errors is not None:
        ctx.errors.append(join(f"{node.source}: ", result.errors))
    return result.values


def to_number(node: Node, ctx: Context, value: Value = None) -> Value:
    value = node.run(ctx) if value is None else value
    if is_text(type_of(value)):
        return convert(node, ctx, value, TypeSpec(name="float"))
    return value


def align(left: Node, lv: Value, right: Node, rv: Value, ctx: Context) -> tuple[Value, Value]:
    """Bring text to the other side's kind (number, date, timestamp) before comparing."""
    lt, rt = type_of(lv), type_of(rv)
    if pa.types.is_null(lt) and not pa.types.is_null(rt):
        return pc.cast(lv, rt), rv
    if pa.types.is_null(rt) and not pa.types.is_null(lt):
        return lv, pc.cast(rv, lt)
    if is_text(lt) and not is_text(rt):
        return to_kind(left, lv, rt, ctx), rv
    if is_text(rt) and not is_text(lt):
        return lv, to_kind(right, rv, lt, ctx)
    return lv, rv


def to_kind(node: Node, value: Value, other: pa.DataType, ctx: Context) -> Value:
    if is_number(other):
        return convert(node, ctx, value, TypeSpec(name="float"))
    if pa.types.is_date(other):
        return convert(node, ctx, value, TypeSpec(name="date"))
    if pa.types.is_timestamp(other):
        return convert(node, ctx, value, TypeSpec(name="timestamp"))
    return value


def cast_like(values: pa.Array, value_set: pa.Array) -> pa.Array:
    if pa.types.is_floating(value_set.type) and is_number(values.type):
        return pc.cast(values, pa.float64())
    if pa.types.is_string(value_set.type) and not is_text(values.type):
        return as_text(values)  # `CUSTNO in ('1', '2')` on a numeric column: compare as text
    return values


def arith(this: Node, op: ast.operator, left: Node, right: Node, ctx: Context) -> Value:
    lv, rv = left.run(ctx), right.run(ctx)
    if isinstance(op, ast.Add) and is_text(type_of(lv)) and is_text(type_of(rv)):
        return pc.binary_join_element_wise(as_text_value(lv), as_text_value(rv), "")
    lv, rv = to_number(left, ctx, lv), to_number(right, ctx, rv)
    try:
        if isinstance(op, ast.Div):
            return divide(this, lv, rv, ctx)
        return ARITH[type(op)](lv, rv)
    except (pa.ArrowNotImplementedError, pa.ArrowTypeError):
        raise ExpressionError(
            f"`{this.source}`: cannot compute {type_of(lv)} {op_symbol(op)} {type_of(rv)}",
            this.offset,
        ) from None
    except pa.ArrowInvalid as e:
        raise ExpressionError(f"`{this.source}`: {e}", this.offset) from None


def divide(this: Node, lv: Value, rv: Value, ctx: Context) -> Value:
    num, den = pc.cast(lv, pa.float64()), pc.cast(rv, pa.float64())
    message = f"division by zero in `{this.source}`"
    if isinstance(den, pa.Scalar):
        if den.as_py() == 0:
            raise ExpressionError(message, this.offset)
        return pc.divide(num, den)
    zero = pc.fill_null(pc.equal(den, 0.0), False)
    ctx.errors.append(pc.if_else(zero, message, pa.scalar(None, pa.string())))
    return pc.divide(num, pc.if_else(zero, pa.scalar(None, pa.float64()), den))


def as_text_value(v: Value) -> Value:
    return v if isinstance(v, pa.Scalar) else as_text(v)


def call_function(name: str, value: Value) -> Value:
    if name == "is_null":
        return pc.is_null(value)
    text = pc.cast(value, pa.string()) if isinstance(value, pa.Scalar) else as_text(value)
    if name == "len":
        return pc.utf8_length(text)
    if name == "upper":
        return pc.utf8_upper(text)
    if name == "lower":
        return pc.utf8_lower(text)
    return pc.utf8_trim_whitespace(text)


def op_symbol(op: ast.operator) -> str:
    symbols = {
        ast.Mod: "%",
        ast.Pow: "**",
        ast.FloorDiv: "//",
        ast.MatMult: "@",
        ast.BitAnd: "&",
        ast.BitOr: "|",
        ast.BitXor: "^",
        ast.LShift: "<<",
        ast.RShift: ">>",
        ast.Add: "+",
        ast.Sub: "-",
        ast.Mult: "*",
        ast.Div: "/",
    }
    return symbols.get(type(op), type(op).__name__)
