"""A small, safe expression language for row filters (and later computed fields).

Expressions use Python syntax, parsed once with `ast` and checked against a whitelist;
nothing is ever passed to eval or exec. Allowed:

- column names (bare identifiers, or any name in backticks: `` `UNIT PRICE` > 0 ``);
- constants: 'text', 12, 1.5, True, False, None;
- comparisons, chained too (`0 < QTY <= 100`), `in` / `not in` with a literal list,
  `is None` / `is not None`;
- `and`, `or`, `not`, unary minus, `+ - * /` (`+` on two texts concatenates);
- the functions is_null(x), len(x), upper(x), lower(x), trim(x).

Evaluation is vectorized with pyarrow.compute and follows SQL's three-valued logic: a
comparison with NULL is NULL, `NULL in (...)` is NULL, `False and NULL` is False.

Filter semantics (SQL WHERE): a row is kept when the expression is true; false or NULL
filters it out. So `STATUS != 'D'` also drops rows whose STATUS is NULL; write
`STATUS != 'D' or STATUS is None` to keep them.

Text meets numbers and dates by conversion: in `AMOUNT > 100` a text column AMOUNT (as
read from a file) is read as a number, and in `SINCE >= '2020-01-01'` the text is read as
a date when SINCE is a date column. A value that does not convert is never silently
dropped: `evaluate_rows` reports an error for that row (the mapping quarantines it).
"""

from __future__ import annotations

import ast
import re
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from ferryman.mappings._arrow import StepResult, finish
from ferryman.mappings._evaluate import (
    COMPARE,
    Context,
    ExpressionError,
    Kind,
    Node,
    Value,
    align,
    arith,
    as_bool,
    call_function,
    cast_like,
    op_symbol,
    to_number,
    type_of,
)
from ferryman.suggest import did_you_mean

__all__ = ["CALLS", "Expression", "ExpressionError", "parse_expression"]

CALLS: dict[str, Kind] = {
    "is_null": "bool",
    "len": "number",
    "upper": "text",
    "lower": "text",
    "trim": "text",
}
_LITERAL_NAMES = {"null": "None", "true": "True", "false": "False"}
_SQL_HINTS = [
    (re.compile(r"\b(AND|OR|NOT)\b"), "write and / or / not in lower case"),
    (re.compile(r"&&|\|\|"), "write `and` / `or`"),
    (re.compile(r"<>"), "write != for 'not equal'"),
    (re.compile(r"(?<![=!<>])=(?!=)"), "write == to compare (a single = assigns)"),
    (re.compile(r"\bIS\s+(NOT\s+)?NULL\b", re.I), "write `X is None` / `X is not None`"),
]
_PLACEHOLDER = "ǂ"  # a letter no real column name uses; backtick names become ǂ0ǂǂ...


@dataclass(frozen=True)
class Expression:
    """A parsed expression; build it with `parse_expression`."""

    text: str
    columns: frozenset[str]
    kind: Kind
    _root: Node = field(repr=False, compare=False)

    @property
    def is_condition(self) -> bool:
        """False when the expression can never be true/false (e.g. `AMOUNT * 2`)."""
        return self.kind in ("bool", "any")

    def evaluate_rows(self, table: pa.Table) -> StepResult:
        """One value per row, plus per-row errors for values that could not be read."""
        ctx = Context(table)
        value = self._root.run(ctx)
        values = value if isinstance(value, pa.Array) else pa.repeat(value, table.num_rows)
        return finish(values, ctx.errors)

    def evaluate(self, table: pa.Table) -> pa.Array:
        """One value per row; raises ExpressionError if any row could not be evaluated."""
        result = self.evaluate_rows(table)
        if result.errors is not None and result.errors.null_count < len(result.errors):
            first = pc.index(pc.is_valid(result.errors), True).as_py()
            raise ExpressionError(f"row {first}: {result.errors[first].as_py()}", 0)
        return result.values


def parse_expression(text: str) -> Expression:
    """Parse and check `text` once; raises ExpressionError with the offending offset."""
    prepared, aliases = _replace_backticks(text)
    # One line keeps offsets simple: YAML folded text may hold newlines.
    prepared = prepared.replace("\r", " ").replace("\n", " ")
    lead = len(prepared) - len(prepared.lstrip())
    try:
        tree = ast.parse(prepared.lstrip(), mode="eval")
    except SyntaxError as e:
        raise _syntax_error(text, e, lead) from None
    compiler = _Compiler(prepared.lstrip(), lead, aliases)
    root = compiler.compile(tree.body)
    return Expression(text, frozenset(compiler.columns), root.kind, root)


def _syntax_error(text: str, e: SyntaxError, lead: int) -> ExpressionError:
    offset = lead + max((e.offset or 1) - 1, 0)
    # Look for SQL habits outside quoted text only ('a=b' is fine inside a string).
    unquoted = re.sub(r"'[^']*'|\"[^\"]*\"", lambda m: " " * len(m.group()), text)
    for pattern, hint in _SQL_HINTS:
        m = pattern.search(unquoted)
        if m:
            return ExpressionError(f"invalid syntax: {hint}", m.start())
    detail = "" if e.msg == "invalid syntax" else f" ({e.msg})"
    return ExpressionError(
        f"invalid syntax{detail}; expressions use Python syntax, e.g. STATUS == 'A' and AMOUNT > 0",
        offset,
    )


def _replace_backticks(text: str) -> tuple[str, dict[str, str]]:
    """`odd name` -> a same-length identifier, so offsets stay those of the original text."""
    out: list[str] = []
    aliases: dict[str, str] = {}
    i, quote = 0, ""
    while i < len(text):
        c = text[i]
        if quote:
            out.append(c)
            if c == "\\" and i + 1 < len(text):
                out.append(text[i + 1])
                i += 1
            elif c == quote:
                quote = ""
        elif c in "'\"":
            quote = c
            out.append(c)
        elif c == "`":
            end = text.find("`", i + 1)
            if end == -1:
                raise ExpressionError("unclosed backtick: write `COLUMN NAME`", i)
            if end == i + 1:
                raise ExpressionError("empty column name in backticks", i)
            alias = f"{_PLACEHOLDER}{len(aliases)}".ljust(end - i + 1, _PLACEHOLDER)
            aliases[alias] = text[i + 1 : end]
            out.append(alias)
            i = end
        else:
            out.append(c)
        i += 1
    return "".join(out), aliases


class _Compiler:
    """Checks the AST against the whitelist and turns it into evaluation closures."""

    def __init__(self, text: str, lead: int, aliases: dict[str, str]) -> None:
        self.text = text
        self.lead = lead
        self.aliases = aliases
        self.columns: set[str] = set()

    def offset(self, node: ast.AST) -> int:
        col = getattr(node, "col_offset", 0)
        return self.lead + len(self.text.encode()[:col].decode(errors="ignore"))

    def source(self, node: ast.AST) -> str:
        snippet = ast.get_source_segment(self.text, node) or ""
        for alias, name in self.aliases.items():
            snippet = snippet.replace(alias, f"`{name}`")
        return snippet

    def fail(self, node: ast.AST, message: str) -> ExpressionError:
        return ExpressionError(message, self.offset(node))

    def node(self, node: ast.AST, kind: Kind, run: Callable[[Context], Value]) -> Node:
        return Node(run, kind, self.offset(node), self.source(node))

    def compile(self, node: ast.expr) -> Node:
        method = getattr(self, f"_{type(node).__name__.lower()}", None)
        if method is None:
            raise self.fail(node, _refusal(node))
        result: Node = method(node)
        return result

    # --- leaves -------------------------------------------------------------------------

    def _constant(self, node: ast.Constant) -> Node:
        v = node.value
        if v is None:
            return self.node(node, "any", lambda ctx: pa.scalar(None))
        if not isinstance(v, str | int | float | bool):
            raise self.fail(node, f"constant {v!r} is not allowed; use text, numbers, True/False")
        kind: Kind = "bool" if isinstance(v, bool) else "text" if isinstance(v, str) else "number"
        scalar = pa.scalar(v)
        return self.node(node, kind, lambda ctx: scalar)

    def _name(self, node: ast.Name) -> Node:
        name = self.aliases.get(node.id, node.id)
        if node.id not in self.aliases:
            if name.startswith("__"):
                raise self.fail(node, f"names starting with __ are not allowed: {name!r}")
            if name.lower() in _LITERAL_NAMES:
                literal = _LITERAL_NAMES[name.lower()]
                raise self.fail(
                    node,
                    f"{name!r} is read as a column name; write {literal} (or `{name}`"
                    " for a column really called so)",
                )
        self.columns.add(name)
        offset = self.offset(node)

        def column(ctx: Context) -> Value:
            if name not in ctx.table.column_names:
                hint = did_you_mean(name, ctx.table.column_names)
                raise ExpressionError(f"no column {name!r} in the source.{hint}", offset)
            return ctx.table.column(name).combine_chunks()

        return self.node(node, "any", column)

    # --- logic --------------------------------------------------------------------------

    def _boolop(self, node: ast.BoolOp) -> Node:
        parts = [self._condition(v) for v in node.values]
        combine = pc.and_kleene if isinstance(node.op, ast.And) else pc.or_kleene

        def run(ctx: Context) -> Value:
            result = as_bool(parts[0], ctx)
            for part in parts[1:]:
                result = combine(result, as_bool(part, ctx))
            return result

        return self.node(node, "bool", run)

    def _condition(self, node: ast.expr) -> Node:
        compiled = self.compile(node)
        if compiled.kind in ("number", "text"):
            raise self.fail(
                node,
                f"`{compiled.source}` is not a condition; compare it, e.g."
                f" `{compiled.source} != ...` or `{compiled.source} is not None`",
            )
        return compiled

    def _unaryop(self, node: ast.UnaryOp) -> Node:
        if isinstance(node.op, ast.Not):
            operand = self._condition(node.operand)
            return self.node(node, "bool", lambda ctx: pc.invert(as_bool(operand, ctx)))
        if isinstance(node.op, ast.USub):
            inner = self.compile(node.operand)
            return self.node(node, "number", lambda ctx: pc.negate_checked(to_number(inner, ctx)))
        raise self.fail(node, "only `not` and unary minus are allowed before a value")

    def _compare(self, node: ast.Compare) -> Node:
        special = [op for op in node.ops if isinstance(op, ast.In | ast.NotIn | ast.Is | ast.IsNot)]
        if special and len(node.ops) > 1:
            raise self.fail(node, "`in` and `is` cannot be chained; split with `and`")
        left = self.compile(node.left)
        checks: list[Callable[[Context, Value], tuple[Value, Value]]] = []
        for op, right_ast in zip(node.ops, node.comparators, strict=True):
            checks.append(self._comparison(op, left, right_ast))
            left = self.compile(right_ast) if not special else left

        def run(ctx: Context) -> Value:
            result: Value = None
            carried: Value = None
            for check in checks:
                part, carried = check(ctx, carried)
                result = part if result is None else pc.and_kleene(result, part)
            return result

        return self.node(node, "bool", run)

    def _comparison(
        self, op: ast.cmpop, left: Node, right_ast: ast.expr
    ) -> Callable[[Context, Value], tuple[Value, Value]]:
        if isinstance(op, ast.Is | ast.IsNot):
            return self._is_none(op, left, right_ast)
        if isinstance(op, ast.In | ast.NotIn):
            return self._membership(op, left, right_ast)
        if isinstance(right_ast, ast.Constant) and right_ast.value is None:
            raise self.fail(
                right_ast,
                "a comparison with None is never true (SQL NULL);"
                " write `X is None` / `X is not None`",
            )
        right = self.compile(right_ast)
        compare = COMPARE[type(op)]

        def check(ctx: Context, carried: Value) -> tuple[Value, Value]:
            lv = carried if carried is not None else left.run(ctx)
            rv = right.run(ctx)
            a, b = align(left, lv, right, rv, ctx)
            try:
                return compare(a, b), rv
            except (pa.ArrowNotImplementedError, pa.ArrowInvalid, pa.ArrowTypeError):
                raise ExpressionError(
                    f"cannot compare `{left.source}` ({type_of(a)}) with `{right.source}`"
                    f" ({type_of(b)})",
                    left.offset,
                ) from None

        return check

    def _is_none(
        self, op: ast.cmpop, left: Node, right_ast: ast.expr
    ) -> Callable[[Context, Value], tuple[Value, Value]]:
        if not (isinstance(right_ast, ast.Constant) and right_ast.value is None):
            raise self.fail(right_ast, "`is` only tests for None: `X is None`; use == to compare")
        test = pc.is_null if isinstance(op, ast.Is) else pc.is_valid
        return lambda ctx, carried: (test(carried if carried is not None else left.run(ctx)), None)

    def _membership(
        self, op: ast.cmpop, left: Node, right_ast: ast.expr
    ) -> Callable[[Context, Value], tuple[Value, Value]]:
        options = _literal_list(self, right_ast)
        numeric = any(isinstance(v, int | float) and not isinstance(v, bool) for v in options)
        value_set = pa.array(options, pa.float64() if numeric else None) if options else None
        negate = isinstance(op, ast.NotIn)

        def check(ctx: Context, carried: Value) -> tuple[Value, Value]:
            lv = carried if carried is not None else left.run(ctx)
            lv = to_number(left, ctx, lv) if numeric else lv
            values = lv if isinstance(lv, pa.Array) else pa.repeat(lv, ctx.table.num_rows)
            if value_set is None:
                found = pc.is_valid(values)  # x in (): false, NULL stays NULL below
                found = pc.and_(found, pa.scalar(False))
            else:
                found = pc.is_in(cast_like(values, value_set), value_set=value_set)
            found = pc.invert(found) if negate else found
            return pc.if_else(pc.is_null(values), pa.scalar(None, pa.bool_()), found), None

        return check

    # --- arithmetic and calls -----------------------------------------------------------

    def _binop(self, node: ast.BinOp) -> Node:
        if not isinstance(node.op, ast.Add | ast.Sub | ast.Mult | ast.Div):
            raise self.fail(node, f"operator {op_symbol(node.op)} is not allowed; use + - * /")
        left, right = self.compile(node.left), self.compile(node.right)
        op = node.op
        texts = isinstance(op, ast.Add) and left.kind == "text" and right.kind == "text"
        this = self.node(node, "text" if texts else "number", lambda ctx: None)
        return replace(this, run=lambda ctx: arith(this, op, left, right, ctx))

    def _call(self, node: ast.Call) -> Node:
        if isinstance(node.func, ast.Attribute) and node.func.attr in CALLS:
            attr = node.func.attr
            raise self.fail(node, f"methods are not allowed: write {attr}(x) instead of x.{attr}()")
        if not isinstance(node.func, ast.Name):
            raise self.fail(
                node,
                "only the functions " + ", ".join(CALLS) + " can be called,"
                " as name(x); methods and attributes are not allowed",
            )
        name = node.func.id
        if name not in CALLS:
            raise self.fail(node.func, f"unknown function {name!r}.{did_you_mean(name, CALLS)}")
        if node.keywords or len(node.args) != 1 or isinstance(node.args[0], ast.Starred):
            raise self.fail(node, f"{name}() takes exactly one argument: {name}(COLUMN)")
        arg = self.compile(node.args[0])
        return self.node(node, CALLS[name], lambda ctx: call_function(name, arg.run(ctx)))


def _literal_list(compiler: _Compiler, node: ast.expr) -> list[Any]:
    if not isinstance(node, ast.List | ast.Tuple | ast.Set):
        raise compiler.fail(node, "`in` needs a literal list: X in ('A', 'B')")
    values: list[Any] = []
    for item in node.elts:
        if isinstance(item, ast.UnaryOp) and isinstance(item.op, ast.USub):
            inner = item.operand
            if isinstance(inner, ast.Constant) and isinstance(inner.value, int | float):
                values.append(-inner.value)
                continue
        if not isinstance(item, ast.Constant) or not isinstance(item.value, str | int | float):
            raise compiler.fail(
                item,
                "the list after `in` holds only text and numbers"
                " (None never matches: add `or X is None`)",
            )
        values.append(item.value)
    kinds = {isinstance(v, str) for v in values}
    if len(kinds) > 1:
        raise compiler.fail(node, "the list after `in` mixes text and numbers; use one kind")
    return values


def _refusal(node: ast.AST) -> str:
    what = {
        ast.Attribute: "attributes (x.y) are not allowed",
        ast.Subscript: "indexing (x[...]) is not allowed",
        ast.Lambda: "lambda is not allowed",
        ast.IfExp: "`a if c else b` is not supported",
        ast.ListComp: "comprehensions are not allowed",
        ast.SetComp: "comprehensions are not allowed",
        ast.DictComp: "comprehensions are not allowed",
        ast.GeneratorExp: "comprehensions are not allowed",
        ast.JoinedStr: "f-strings are not allowed; use + to join text",
        ast.NamedExpr: "assignment (:=) is not allowed",
        ast.Dict: "dict literals are not allowed",
        ast.List: "a list is only allowed after `in`",
        ast.Tuple: "a tuple is only allowed after `in`",
        ast.Set: "a set is only allowed after `in`",
        ast.Starred: "*args are not allowed",
        ast.Await: "await is not allowed",
    }.get(type(node), f"{type(node).__name__} is not allowed")
    return (
        f"{what}; expressions allow columns, constants, comparisons, `in (...)`, `is None`,"
        " and/or/not, + - * / and " + ", ".join(f"{name}()" for name in CALLS)
    )
