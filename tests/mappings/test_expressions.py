"""The safe expression language: whitelist refusals (with offsets), SQL NULL semantics,
and text read as numbers or dates without ever dropping a value silently."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pyarrow as pa
import pytest

from ferryman.mappings.expressions import ExpressionError, parse_expression


def evaluate(text: str, **columns: list[Any]) -> list[Any]:
    return parse_expression(text).evaluate(pa.table(columns)).to_pylist()


def rows(text: str, **columns: list[Any]) -> tuple[list[Any], list[str | None]]:
    result = parse_expression(text).evaluate_rows(pa.table(columns))
    n = len(result.values)
    errs = [None] * n if result.errors is None else result.errors.to_pylist()
    return result.values.to_pylist(), errs


def refusal(text: str) -> ExpressionError:
    with pytest.raises(ExpressionError) as err:
        parse_expression(text)
    return err.value


# --- parsing --------------------------------------------------------------------------------


def test_columns_are_collected() -> None:
    expr = parse_expression("STATUS != 'D' and (BAL > 0 or upper(REGION) in ('EU', 'US'))")
    assert expr.columns == frozenset({"STATUS", "BAL", "REGION"})
    assert expr.kind == "bool"
    assert expr.is_condition


def test_arithmetic_is_not_a_condition() -> None:
    expr = parse_expression("AMOUNT * 2")
    assert expr.kind == "number"
    assert not expr.is_condition


@pytest.mark.parametrize(
    ("text", "offset", "message"),
    [
        ("x.upper() == 'A'", 0, "methods are not allowed: write upper(x) instead of x.upper()"),
        ("x.y == 'A'", 0, "attributes (x.y) are not allowed"),
        ("A == 1 and B[0] == 2", 11, "indexing"),
        ("(lambda: 1)() == 1", 0, "only the functions"),
        ("A in [x for x in B]", 5, "`in` needs a literal list"),
        ("[x for x in B]", 0, "comprehensions are not allowed"),
        ("f'{A}' == 'x'", 0, "f-strings are not allowed"),
        ("__class__ == 1", 0, "names starting with __ are not allowed"),
        ("__import__('os').system('ls')", 0, "only the functions"),
        ("__import__('os')", 0, "unknown function '__import__'"),
        ("A == 1 and uper(B) == 'X'", 11, "unknown function 'uper'. Did you mean 'upper'?"),
        ("len(A, B) > 1", 0, "len() takes exactly one argument"),
        ("trim(x=A) == ''", 0, "trim() takes exactly one argument"),
        ("A ** 2 > 1", 0, "operator ** is not allowed"),
        ("A % 2 == 0", 0, "operator % is not allowed"),
        ("A == None", 5, "write `X is None`"),
        ("A is 1", 5, "`is` only tests for None"),
        ("1 < A in (1, 2)", 0, "cannot be chained"),
        ("A in ('x', 1)", 5, "mixes text and numbers"),
        ("A in ('x', None)", 11, "None never matches"),
        ("(B := 1) == 1", 1, "assignment (:=) is not allowed"),
        ("A if B else C", 0, "`a if c else b` is not supported"),
        ("{'a': 1} == A", 0, "dict literals"),
        ("A == null", 5, "write None"),
        ("A and B > 1 or 'x'", 15, "`'x'` is not a condition"),
        ("not (A + 1)", 5, "`A + 1` is not a condition"),
        ("~A", 0, "only `not` and unary minus"),
        ("A == b'x'", 5, "constant b'x' is not allowed"),
    ],
)
def test_whitelist_refusals_point_at_the_offending_node(
    text: str, offset: int, message: str
) -> None:
    err = refusal(text)
    assert message in err.message
    assert err.offset == offset, err.caret(text)


@pytest.mark.parametrize(
    ("text", "offset", "message"),
    [
        ("STATUS = 'A'", 7, "write == to compare"),
        ("A == 1 AND B == 2", 7, "lower case"),
        ("A <> 1", 2, "write !="),
        ("A == 1 && B", 7, "write `and`"),
        ("A IS NULL", 2, "write `X is None`"),
        ("A == (1", 5, "invalid syntax"),
        ("A == 1 B", 7, "invalid syntax; expressions use Python syntax"),
    ],
)
def test_syntax_errors_carry_an_offset_and_a_hint(text: str, offset: int, message: str) -> None:
    err = refusal(text)
    assert message in err.message
    assert err.offset == offset, err.caret(text)


def test_offsets_count_characters_not_utf8_bytes() -> None:
    text = "NOM == 'Élodie' and x.y"
    assert refusal(text).offset == text.index("x.y")


def test_offsets_survive_leading_blanks_and_newlines() -> None:
    text = "  STATUS == 'A'\n  and x.y == 1"
    assert refusal(text).offset == text.index("x.y")


def test_backtick_names_and_offsets_after_them() -> None:
    expr = parse_expression("`UNIT PRICE` > 0 and `é` == 'x'")
    assert expr.columns == frozenset({"UNIT PRICE", "é"})
    text = "`UNIT PRICE` > 0 and A.b"
    assert refusal(text).offset == text.index("A.b")


def test_backticks_inside_text_are_text() -> None:
    assert evaluate("A == 'a`b'", A=["a`b", "x"]) == [True, False]


@pytest.mark.parametrize(("text", "offset"), [("`A == 1", 0), ("A == `` ", 5)])
def test_bad_backticks(text: str, offset: int) -> None:
    assert refusal(text).offset == offset


def test_caret_shows_where() -> None:
    err = refusal("A == 1 and B.c")
    assert err.caret("A == 1 and B.c").splitlines()[1].startswith(" " * 11 + "^")


# --- evaluation: SQL semantics --------------------------------------------------------------


def test_comparisons_with_null_are_null() -> None:
    assert evaluate("A != 'D'", A=["A", "D", None]) == [True, False, None]


def test_and_or_not_are_three_valued() -> None:
    a = [True, False, None, None]
    b = [None, None, False, True]
    assert evaluate("A and B", A=a, B=b) == [None, False, False, None]
    assert evaluate("A or B", A=a, B=b) == [True, None, None, True]
    assert evaluate("not A", A=a, B=b) == [False, True, None, None]


def test_in_and_not_in_keep_null_unknown() -> None:
    values = ["A", "B", None]
    assert evaluate("S in ('A', 'C')", S=values) == [True, False, None]
    assert evaluate("S not in ('A', 'C')", S=values) == [False, True, None]
    assert evaluate("S in ()", S=values) == [False, False, None]


def test_is_none_and_is_null_never_give_null() -> None:
    values = ["A", None]
    assert evaluate("S is None", S=values) == [False, True]
    assert evaluate("S is not None", S=values) == [True, False]
    assert evaluate("is_null(S)", S=values) == [False, True]


def test_chained_comparison() -> None:
    assert evaluate("0 < Q <= 10", Q=[0, 5, 10, 11, None]) == [False, True, True, False, None]


def test_text_functions_and_len() -> None:
    cols = {"S": ["  ab ", None]}
    assert evaluate("trim(S) == 'ab'", **cols) == [True, None]
    assert evaluate("upper(trim(S)) == 'AB'", **cols) == [True, None]
    assert evaluate("lower('X') == 'x'", **cols) == [True, True]
    assert evaluate("len(S) > 3", **cols) == [True, None]


def test_arithmetic_and_text_concatenation() -> None:
    assert evaluate("A * 2 - 1 > 4", A=[2, 3]) == [False, True]
    assert evaluate("-A < 0", A=[1, -1]) == [True, False]
    assert evaluate("A / 4 == 0.5", A=[2, 4]) == [True, False]
    assert evaluate("A + '-' + B == 'x-y'", A=["x", "x"], B=["y", None]) == [True, None]


def test_division_by_zero_is_a_row_error() -> None:
    values, errs = rows("A / B > 1", A=[4, 4], B=[2, 0])
    assert values == [True, None]
    assert errs == [None, "division by zero in `A / B`"]


def test_division_by_constant_zero_is_refused() -> None:
    with pytest.raises(ExpressionError, match="division by zero"):
        evaluate("A / 0 > 1", A=[1])


def test_integer_overflow_is_an_error_not_a_wrap() -> None:
    with pytest.raises(ExpressionError, match="overflow"):
        evaluate("A * A > 0", A=[2**62])


# --- evaluation: text read as numbers and dates ---------------------------------------------


def test_text_column_compared_with_a_number_is_read_as_a_number() -> None:
    values, errs = rows("BAL >= 10", BAL=["9.5", " 10 ", "1e2", "lots", None])
    assert values == [False, True, True, None, None]
    assert errs[:3] == [None, None, None]
    assert errs[4] is None
    assert errs[3] == "BAL: 'lots' is not a number"


def test_in_with_numbers_reads_text_as_numbers() -> None:
    values, errs = rows("CODE in (1, 2)", CODE=["1", "02", "3", "x"])
    assert values == [True, True, False, None]
    assert errs[3] is not None


def test_numeric_column_in_a_text_list_compares_as_text() -> None:
    assert evaluate("CODE in ('1', '2')", CODE=[1, 3]) == [True, False]


def test_text_constant_compared_with_a_number_column() -> None:
    assert evaluate("N > '2'", N=[1, 3]) == [False, True]
    with pytest.raises(ExpressionError, match="'abc' is not a number"):
        evaluate("N > 'abc'", N=[1])


def test_date_column_compared_with_iso_text() -> None:
    days = [dt.date(2019, 12, 31), dt.date(2020, 1, 1)]
    assert evaluate("D >= '2020-01-01'", D=days) == [False, True]
    with pytest.raises(ExpressionError, match="not a valid date"):
        evaluate("D >= '01/01/2020'", D=days)


def test_incomparable_types_are_an_error_naming_both() -> None:
    with pytest.raises(ExpressionError, match=r"cannot compare `A` \(bool\) with `B` \(int64\)"):
        evaluate("A == B", A=[True], B=[1])


def test_a_non_boolean_operand_of_and_is_an_error() -> None:
    with pytest.raises(ExpressionError, match="`A` is string, not a condition"):
        evaluate("A and B == 1", A=["x"], B=[1])


def test_missing_column_is_an_error_with_a_suggestion() -> None:
    with pytest.raises(
        ExpressionError, match="no column 'STATU' in the source. Did you mean 'STATUS'"
    ):
        evaluate("STATU == 'A'", STATUS=["A"])


def test_evaluate_raises_on_a_row_error_but_evaluate_rows_reports_it() -> None:
    with pytest.raises(ExpressionError, match="row 1: BAL: 'x' is not a number"):
        evaluate("BAL > 0", BAL=["1", "x"])


def test_constant_expression_has_one_value_per_row() -> None:
    assert evaluate("1 == 1", A=[1, 2, 3]) == [True, True, True]


def test_all_null_column_compares_as_null() -> None:
    assert evaluate("A == 'x'", A=pa.nulls(2)) == [None, None]
