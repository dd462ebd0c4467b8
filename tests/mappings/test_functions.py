"""Transform functions: the registry, argument validation, and each built-in's behaviour."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError
from ruamel.yaml import YAML

from ferryman.connectors.registry import RegistryError
from ferryman.mappings.functions import (
    BUILTINS,
    FUNCTIONS,
    StepResult,
    TextFunction,
    TransformFunction,
    get_function,
    parse_args,
    run_doc_example,
)
from ferryman.mappings.functions.base import SingleInputFunction
from ferryman.mappings.lookups import CompileContext, InMemoryLookups
from ferryman.mappings.model import Step

EXPECTED_BUILTINS = {
    "trim", "upper", "lower", "title", "collapse_whitespace", "map", "parse_date",
    "parse_timestamp", "parse_number", "concat", "coalesce", "replace", "substring",
    "pad", "unpad", "extract", "split", "concat_ws", "lookup", "hash",
}  # fmt: skip


def step(yaml_text: str) -> Step:
    return Step.model_validate(YAML(typ="safe", pure=True).load(yaml_text))


def run(yaml_text: str, *columns: list[Any], types: pa.DataType | None = None) -> StepResult:
    s = step(yaml_text)
    arrays = [pa.array(c, types or pa.string()) for c in columns]
    return get_function(s.function).apply(arrays, parse_args(s))


def plain(values: pa.Array) -> list[Any]:
    out = []
    for v in values.to_pylist():
        if isinstance(v, dt.datetime):
            v = v.isoformat(sep=" ")
        elif isinstance(v, dt.date):
            v = v.isoformat()
        out.append(v)
    return out


def errors(result: StepResult) -> list[str | None]:
    n = len(result.values)
    return [None] * n if result.errors is None else result.errors.to_pylist()


# --- registry -------------------------------------------------------------------------------


def test_builtins_are_registered_once_by_name() -> None:
    assert set(FUNCTIONS.names()) >= EXPECTED_BUILTINS
    assert {fn.name for fn in BUILTINS} == EXPECTED_BUILTINS
    assert len(BUILTINS) == len(EXPECTED_BUILTINS)


def test_a_duplicate_name_raises_instead_of_overwriting() -> None:
    with pytest.raises(RegistryError, match="registered twice"):
        FUNCTIONS.register("trim", get_function("upper"))
    assert get_function("trim").name == "trim"


def test_unknown_function_suggests_the_closest_name() -> None:
    with pytest.raises(
        RegistryError, match=r"unknown transform function 'mapp'\. Did you mean 'map'\?"
    ):
        get_function("mapp")


class Pad(TextFunction):
    name = "pad"

    def transform(self, text: pa.Array, args: Any) -> StepResult:
        return StepResult(text)


def test_a_plugin_registered_as_a_class_is_instantiated(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(FUNCTIONS._items, "pad", Pad)
    assert isinstance(get_function("pad"), Pad)


def test_a_plugin_that_is_no_function_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(FUNCTIONS._items, "pad", len)
    with pytest.raises(RegistryError, match="not a TransformFunction"):
        get_function("pad")


@pytest.mark.parametrize("fn", BUILTINS, ids=lambda f: f.name)
def test_args_models_are_strict_and_every_argument_is_described(fn: TransformFunction) -> None:
    assert fn.args_model.model_config.get("extra") == "forbid"
    for name, info in fn.args_model.model_fields.items():
        assert info.description, f"{fn.name}.{name} has no description"
    if fn.scalar_arg is not None:
        assert fn.scalar_arg in fn.args_model.model_fields


@pytest.mark.parametrize("fn", BUILTINS, ids=lambda f: f.name)
def test_doc_example_holds(fn: TransformFunction) -> None:
    ex = fn.doc_example
    s = step(ex.step)
    assert s.function == fn.name
    result = run_doc_example(fn)
    assert plain(result.values) == ex.output
    assert errors(result) == (ex.errors or [None] * len(ex.output))


SINGLE = [fn for fn in BUILTINS if isinstance(fn, SingleInputFunction)]


def doc_context(ex: Any) -> CompileContext:
    lookups = InMemoryLookups()
    for table, rows in ex.tables.items():
        lookups.add("target", table, pa.Table.from_pylist(rows))
    return CompileContext(lookups=lookups, environ=dict(ex.environ))


@pytest.mark.parametrize("fn", SINGLE, ids=lambda f: f.name)
def test_null_in_gives_null_out_and_no_error(fn: TransformFunction) -> None:
    ex = fn.doc_example
    args = fn.prepare(parse_args(step(ex.step)), doc_context(ex))
    result = fn.apply([pa.array([None, None], pa.string())], args)
    assert result.values.to_pylist() == [None, None]
    assert errors(result) == [None, None]


def test_single_input_functions_refuse_two_columns() -> None:
    with pytest.raises(ValueError, match="trim takes one column"):
        get_function("trim").apply([pa.array(["a"]), pa.array(["b"])], parse_args(step("trim")))


# --- parse_args and the scalar shorthand ----------------------------------------------------


def test_scalar_shorthand_fills_the_scalar_arg() -> None:
    args = parse_args(step("substring: 3"))
    assert args.model_dump() == {"start": 3, "length": None}


def test_shorthand_errors_point_at_the_underscore_key() -> None:
    with pytest.raises(ValidationError) as err:
        parse_args(step("substring: zero"))
    assert [e["loc"] for e in err.value.errors()] == [("_",)]


def test_shorthand_range_error_keeps_its_message_type_and_context() -> None:
    with pytest.raises(ValidationError, match="greater than or equal to 1") as err:
        parse_args(step("substring: 0"))
    (error,) = err.value.errors()
    assert error["type"] == "greater_than_equal"
    assert error.get("ctx") == {"ge": 1}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("trim: 3", "trim has no one-value form; it takes no arguments: write `- trim`"),
        ("map: A", "map has no one-value form; write its arguments as a mapping"),
    ],
)
def test_shorthand_on_a_function_without_one_is_explained(text: str, message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        parse_args(step(text))


def test_unknown_argument_is_refused() -> None:
    with pytest.raises(ValidationError, match="Extra inputs are not permitted"):
        parse_args(step("concat: {separator: ' '}"))


def test_parse_args_of_unknown_function_raises_registry_error() -> None:
    with pytest.raises(RegistryError):
        parse_args(step("strp"))


# --- text -----------------------------------------------------------------------------------


def test_text_functions_read_numbers_as_text() -> None:
    result = run("trim", [12, None], types=pa.int64())
    assert result.values.to_pylist() == ["12", None]


def test_collapse_whitespace_handles_no_break_spaces() -> None:
    assert run("collapse_whitespace", ["a\u00a0\u00a0b\t c"]).values.to_pylist() == ["a b c"]


def test_replace_refuses_a_bad_regex_at_load_time() -> None:
    with pytest.raises(ValidationError, match="no look-around") as err:
        parse_args(step("replace: {pattern: '(?<=x)y'}"))
    assert err.value.errors()[0]["loc"] == ("pattern",)


def test_replace_refuses_a_missing_group() -> None:
    with pytest.raises(ValidationError, match=r"replacement '\\\\2'"):
        parse_args(step(r"replace: {pattern: '(a)', replacement: '\2'}"))


@pytest.mark.parametrize("bad", ["substring: {start: true}", "substring: {start: 2, length: -1}"])
def test_substring_arguments_are_checked(bad: str) -> None:
    with pytest.raises(ValidationError):
        parse_args(step(bad))


def test_substring_counts_characters_not_bytes() -> None:
    assert run("substring: {start: 2, length: 2}", ["héllo"]).values.to_pylist() == ["él"]


# --- map ------------------------------------------------------------------------------------


def test_map_default_policy_is_quarantine_without_default() -> None:
    result = run("map: {values: {A: x}}", ["A", "B"])
    assert result.values.to_pylist() == ["x", None]
    assert "'B' is not a known code (known: 'A')" in (errors(result)[1] or "")


def test_map_unmatched_null_written_unquoted_in_yaml() -> None:
    args = parse_args(step("map: {values: {A: x}, unmatched: null}"))
    assert args.policy == "null"  # type: ignore[attr-defined]
    result = run("map: {values: {A: x}, unmatched: null}", ["A", "B"])
    assert result.values.to_pylist() == ["x", None]
    assert result.errors is None


def test_map_keep_keeps_the_code() -> None:
    result = run("map: {values: {A: x}, unmatched: keep}", ["A", "B", None])
    assert result.values.to_pylist() == ["x", "B", None]


def test_map_default_may_be_a_typed_value() -> None:
    result = run("map: {values: {Y: true, N: false}, default: false}", ["Y", "?", "N"])
    assert result.values.type == pa.bool_()
    assert result.values.to_pylist() == [True, False, False]


def test_map_lists_only_a_few_known_codes() -> None:
    codes = ", ".join(f"C{i}: v" for i in range(20))
    result = run(f"map: {{values: {{{codes}}}}}", ["ZZ"])
    assert "and 12 more" in (errors(result)[0] or "")


def test_map_hints_at_case_and_blanks() -> None:
    result = run("map: {values: {A: x}}", [" a", "Q"])
    msgs = errors(result)
    assert "matching is exact" in (msgs[0] or "")
    assert "matching is exact" not in (msgs[1] or "")


def test_map_integer_yaml_keys_match_text_and_numbers() -> None:
    assert run("map: {values: {1: one}}", ["1"]).values.to_pylist() == ["one"]
    assert run("map: {values: {1: one}}", [1], types=pa.int64()).values.to_pylist() == ["one"]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("map: {values: {A: x}, unmatched: default}", "needs a `default:`"),
        ("map: {values: {A: x}, default: y, unmatched: quarantine}", "never used with"),
        ("map: {values: {true: x}}", "not text; quote it"),
        ("map: {values: {}}", "at least 1 item"),
        ("map: {values: {A: x}, unmatched: drop}", "Input should be"),
    ],
)
def test_map_arguments_are_checked(text: str, message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        parse_args(step(text))


# --- parse_date / parse_timestamp -----------------------------------------------------------


def test_parse_date_first_format_that_reads_wins() -> None:
    result = run("parse_date: {formats: ['%d/%m/%Y', '%m/%d/%Y']}", ["01/02/2019", "12/31/2019"])
    assert plain(result.values) == ["2019-02-01", "2019-12-31"]
    assert result.errors is None


@pytest.mark.parametrize("value", ["20230231", "20190229", "20191301", "2019010", "201901011"])
def test_parse_date_refuses_impossible_dates_instead_of_rolling_over(value: str) -> None:
    result = run("parse_date: '%Y%m%d'", [value])
    assert result.values.to_pylist() == [None]
    assert errors(result) == [f"'{value}' is not a valid date in the format %Y%m%d"]


def test_parse_date_does_not_read_a_two_digit_year_as_year_19() -> None:
    result = run("parse_date: '%d/%m/%Y'", ["01/02/19"])
    assert result.values.to_pylist() == [None]


def test_parse_date_blank_value_points_to_nulls() -> None:
    assert "add '' to the field's `nulls:`" in (errors(run("parse_date: '%Y'", ["  "]))[0] or "")


def test_parse_date_refuses_to_drop_a_time_of_day() -> None:
    result = run("parse_date: '%Y-%m-%d %H:%M'", ["2019-01-01 00:00", "2019-01-01 13:45"])
    assert plain(result.values) == ["2019-01-01", None]
    assert "has a time of day" in (errors(result)[1] or "")


def test_parse_date_passes_dates_through() -> None:
    values = pa.array([dt.date(2019, 1, 2), None])
    result = get_function("parse_date").apply([values], parse_args(step("parse_date: '%Y'")))
    assert result.values.to_pylist() == [dt.date(2019, 1, 2), None]


@pytest.mark.parametrize(("fmt", "what"), [("%Y-%m-%d %H:%M:%S.%f", "%f"), ("%Y %z", "%z")])
def test_parse_timestamp_refuses_unsupported_directives(fmt: str, what: str) -> None:
    with pytest.raises(ValidationError, match=what):
        parse_args(step(f"parse_timestamp: '{fmt}'"))


def test_parse_date_format_needs_a_directive() -> None:
    with pytest.raises(ValidationError, match="no % directive"):
        parse_args(step("parse_date: YYYYMMDD"))


def test_parse_timestamp_reads_month_names_in_any_case() -> None:
    result = run("parse_timestamp: '%d %b %Y %H:%M'", ["01 JAN 2019 10:30", "1 feb 2019 00:00"])
    assert plain(result.values) == ["2019-01-01 10:30:00", "2019-02-01 00:00:00"]


DATE_FORMATS = ["%Y%m%d", "%d/%m/%Y", "%Y-%m-%d", "%d.%m.%y", "%d %b %Y", "%m/%d/%Y"]


@settings(max_examples=150, deadline=None)
@given(
    values=st.lists(
        st.one_of(st.none(), st.text(max_size=12), st.from_regex(r"\d{6,9}")), max_size=20
    ),
    formats=st.lists(st.sampled_from(DATE_FORMATS), min_size=1, max_size=3),
)
def test_parse_date_never_raises_and_never_drops_a_value_silently(
    values: list[str | None], formats: list[str]
) -> None:
    fn = get_function("parse_date")
    result = fn.apply(
        [pa.array(values, pa.string())],
        parse_args(Step(function="parse_date", args={"formats": formats})),
    )
    assert len(result.values) == len(values)
    errs = errors(result)
    for raw, value, err in zip(values, result.values.to_pylist(), errs, strict=True):
        if raw is None:
            assert value is None
            assert err is None
        else:
            assert (value is None) != (err is None), (raw, value, err)


@settings(max_examples=150, deadline=None)
@given(
    day=st.dates(min_value=dt.date(1000, 1, 1), max_value=dt.date(9999, 12, 31)),
    fmt=st.sampled_from(["%Y%m%d", "%d/%m/%Y", "%Y-%m-%d", "%d %b %Y"]),
)
def test_parse_date_reads_back_what_strftime_wrote(day: dt.date, fmt: str) -> None:
    result = run(f"parse_date: '{fmt}'", [day.strftime(fmt)])
    assert result.values.to_pylist() == [day]


# --- parse_number ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "raw", "canonical"),
    [
        ("{}", "1,234,567.89", "1234567.89"),
        ("{}", "-0.5", "-0.5"),
        ("{}", "1.", "1"),
        ("{thousands: ''}", "1234.5", "1234.5"),
        ("{thousands: '.', decimal: ','}", "1.234,5", "1234.5"),
        ("{thousands: ' ', decimal: ','}", "1\u00a0234,5", "1234.5"),
        ('{thousands: "\'"}', "1'234", "1234"),
    ],
)
def test_parse_number_canonical_form(args: str, raw: str, canonical: str) -> None:
    result = run(f"parse_number: {args}", [raw])
    assert result.values.to_pylist() == [canonical]
    assert result.errors is None


@pytest.mark.parametrize("raw", ["1,5", "12,34,567", "1.2.3", "abc", "1,234.5.6", "--1", ""])
def test_parse_number_refuses_what_it_cannot_read_exactly(raw: str) -> None:
    result = run("parse_number", [raw])
    assert result.values.to_pylist() == [None]
    assert f"'{raw}' is " in (errors(result)[0] or "")


def test_parse_number_passes_numbers_through() -> None:
    result = run("parse_number", [1.5, None], types=pa.float64())
    assert result.values.to_pylist() == [1.5, None]


@pytest.mark.parametrize(
    "args",
    ["{thousands: '.', decimal: '.'}", "{decimal: ''}", "{thousands: '1'}", "{decimal: ',,'}"],
)
def test_parse_number_separators_are_checked(args: str) -> None:
    with pytest.raises(ValidationError):
        parse_args(step(f"parse_number: {args}"))


# --- concat / coalesce ----------------------------------------------------------------------


def test_concat_keeps_rows_aligned_when_a_row_is_all_null() -> None:
    # Regression: Arrow's null_handling="skip" drops all-null rows and shifts the rest.
    result = run("concat: '-'", ["a", None, "c"], ["x", None, None])
    assert result.values.to_pylist() == ["a-x", None, "c"]


def test_concat_emits_null_when_asked() -> None:
    result = run("concat: {sep: '-', skip_nulls: false}", ["a", None], ["x", "y"])
    assert result.values.to_pylist() == ["a-x", None]


def test_concat_reads_numbers_as_text() -> None:
    fn, args = get_function("concat"), parse_args(step("concat: '/'"))
    result = fn.apply([pa.array([1, 2]), pa.array(["a", None])], args)
    assert result.values.to_pylist() == ["1/a", "2"]


def test_coalesce_keeps_a_common_type_and_falls_back_to_text() -> None:
    fn, args = get_function("coalesce"), parse_args(step("coalesce"))
    same = fn.apply([pa.array([None, 2]), pa.array([1, 3])], args)
    assert same.values.type == pa.int64()
    assert same.values.to_pylist() == [1, 2]
    mixed = fn.apply([pa.array([None, 2]), pa.array(["x", "y"])], args)
    assert mixed.values.to_pylist() == ["x", "2"]
    with_null_type = fn.apply([pa.nulls(2), pa.array([1, None])], args)
    assert with_null_type.values.to_pylist() == [1, None]
