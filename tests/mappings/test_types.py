"""Target types and the strict cast: never a silent NULL, never a silent loss."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ferryman.connectors.base import ColumnSchema, TableSchema
from ferryman.mappings.model import TypeSpec
from ferryman.mappings.tables import schema_diff
from ferryman.mappings.types import arrow_type, cast_column, logical_type, max_length


def cast(
    values: list[Any], type_text: str, arrow: pa.DataType | None = None
) -> tuple[list[Any], list[str | None]]:
    result = cast_column(pa.array(values, arrow), TypeSpec.parse(type_text))
    assert result.values.type == arrow_type(TypeSpec.parse(type_text))
    errs = [None] * len(values) if result.errors is None else result.errors.to_pylist()
    return result.values.to_pylist(), errs


@pytest.mark.parametrize(
    ("text", "arrow"),
    [
        ("integer", pa.int32()),
        ("bigint", pa.int64()),
        ("decimal(12,2)", pa.decimal128(12, 2)),
        ("float", pa.float64()),
        ("boolean", pa.bool_()),
        ("string", pa.string()),
        ("string(40)", pa.string()),
        ("date", pa.date32()),
        ("timestamp", pa.timestamp("us")),
    ],
)
def test_arrow_type(text: str, arrow: pa.DataType) -> None:
    assert arrow_type(TypeSpec.parse(text)) == arrow


def test_integer_messages_name_the_value_and_type() -> None:
    values, errs = cast(["1O", "2147483648", " 7 "], "integer")
    assert values == [None, None, 7]
    assert errs[0] == "'1O' is not an integer"
    assert errs[1] is not None
    assert errs[1].startswith("'2147483648' is out of range for integer")
    assert "use bigint" in errs[1]


def test_integer_bounds_are_exact() -> None:
    values, errs = cast(["-2147483648", "2147483647", "-2147483649"], "integer")
    assert values == [-(2**31), 2**31 - 1, None]
    assert errs[2] is not None


def test_bigint_from_huge_text_is_an_error_not_a_crash() -> None:
    values, errs = cast(["9" * 60, "-" + "0" * 50 + "5"], "bigint")
    assert values == [None, -5]
    assert errs[0] is not None
    assert "out of range" in errs[0]


def test_integer_from_int64_checks_the_int32_range() -> None:
    values, errs = cast([1, 2**40, None], "integer", pa.int64())
    assert values == [1, None, None]
    assert errs[1] is not None
    assert errs[2] is None


def test_integer_from_float_only_when_integral() -> None:
    values, errs = cast([2.0, 2.5, float("inf"), 1e19], "bigint", pa.float64())
    assert values == [2, None, None, None]
    assert "fraction" in (errs[1] or "")
    assert errs[2] == "'inf' is not an integer (bigint)"
    assert "out of range" in (errs[3] or "")


def test_integer_from_decimal_only_when_integral() -> None:
    values, errs = cast([Decimal("12.00"), Decimal("12.50")], "integer", pa.decimal128(6, 2))
    assert values == [12, None]
    assert errs[1] == "'12.50' is not an integer"


def test_decimal_never_rounds() -> None:
    values, errs = cast(["0.125", "0.120", ".5", "-007.10"], "decimal(4,2)")
    assert values == [None, Decimal("0.12"), Decimal("0.50"), Decimal("-7.10")]
    assert errs[0] is not None
    assert "has 3 decimal places; decimal(4,2) allows 2" in errs[0]


def test_decimal_from_float_keeps_the_shortest_spelling() -> None:
    values, errs = cast([19.99, 0.1 + 0.2, 1e30], "decimal(10,2)", pa.float64())
    assert values == [Decimal("19.99"), None, None]
    assert "more decimal places" in (errs[1] or "")
    assert "does not fit" in (errs[2] or "")


def test_decimal_from_integers() -> None:
    values, errs = cast([12, 123456], "decimal(6,2)", pa.int64())
    assert values == [Decimal("12.00"), None]
    assert errs[1] is not None


def test_float_refuses_integers_it_cannot_hold_exactly() -> None:
    values, errs = cast([2**53, 2**53 + 1], "float", pa.int64())
    assert values == [float(2**53), None]
    assert "cannot be held exactly" in (errs[1] or "")


@pytest.mark.parametrize("bad", ["nan", "inf", "1,5", "0x10", "1_000"])
def test_float_refuses_non_numbers(bad: str) -> None:
    assert cast([bad], "float")[0] == [None]


def test_boolean_from_integers() -> None:
    values, errs = cast([0, 1, 2], "boolean", pa.int64())
    assert values == [False, True, None]
    assert errs[2] is not None


def test_string_from_numbers_and_dates() -> None:
    assert cast([1, None], "string", pa.int64())[0] == ["1", None]
    assert cast([dt.date(2019, 1, 2)], "string(10)")[0] == ["2019-01-02"]


def test_string_length_counts_characters() -> None:
    values, errs = cast(["ééé", "éééé"], "string(3)")
    assert values == ["ééé", None]
    assert errs[1] is not None
    assert errs[1].startswith("value has 4 characters; string(3) allows 3")


def test_date_from_timestamps_only_at_midnight() -> None:
    stamps = [dt.datetime(2019, 1, 1), dt.datetime(2019, 1, 1, 13, 45)]
    values, errs = cast(stamps, "date", pa.timestamp("us"))
    assert values == [dt.date(2019, 1, 1), None]
    assert "has a time of day" in (errs[1] or "")


def test_timestamp_keeps_microseconds_and_refuses_to_drop_nanoseconds() -> None:
    values, errs = cast([1_000_000_000, 1_000_000_001], "timestamp", pa.timestamp("ns"))
    assert values == [dt.datetime(1970, 1, 1, 0, 0, 1), None]
    assert "nanoseconds" in (errs[1] or "")


def test_zoned_timestamps_load_as_utc() -> None:
    arrow = pa.timestamp("us", tz="Europe/Paris")
    values, _ = cast([dt.datetime(2019, 1, 1, 12, tzinfo=dt.UTC)], "timestamp", arrow)
    assert values == [dt.datetime(2019, 1, 1, 12)]


def test_date_to_timestamp() -> None:
    values, _ = cast([dt.date(2019, 1, 2)], "timestamp", pa.date32())
    assert values == [dt.datetime(2019, 1, 2)]


def test_all_null_and_empty_inputs() -> None:
    assert cast([None, None], "integer", pa.null()) == ([None, None], [None, None])
    assert cast([], "date", pa.string()) == ([], [])


def test_dictionary_input_is_decoded() -> None:
    arr = pa.array(["1", "x", "1"]).dictionary_encode()
    result = cast_column(arr, TypeSpec.parse("integer"))
    assert result.values.to_pylist() == [1, None, 1]


def test_chunked_input_is_accepted() -> None:
    chunked = pa.chunked_array([["1"], ["2"]])
    assert cast_column(chunked, TypeSpec.parse("integer")).values.to_pylist() == [1, 2]


# --- properties ------------------------------------------------------------------------------

TYPES = [
    "integer", "bigint", "decimal(5,2)", "decimal(38,0)", "float", "boolean", "string",
    "string(5)", "date", "timestamp",
]  # fmt: skip

NUMBERISH = st.from_regex(r"\s?[+-]?\d{0,22}(\.\d{0,4})?([eE]-?\d{1,3})?\s?", fullmatch=True)
DATEISH = st.from_regex(r"\d{4}-\d{2}-\d{2}( \d{2}:\d{2}(:\d{2}(\.\d{1,7})?)?)?", fullmatch=True)
TEXT = st.one_of(st.text(max_size=12), NUMBERISH, DATEISH, st.sampled_from(["Y", "no", "0", ""]))

COLUMNS = st.one_of(
    st.lists(st.one_of(st.none(), TEXT), max_size=15).map(lambda v: pa.array(v, pa.string())),
    st.lists(st.one_of(st.none(), st.integers(-(2**63), 2**63 - 1)), max_size=15).map(
        lambda v: pa.array(v, pa.int64())
    ),
    st.lists(st.one_of(st.none(), st.floats()), max_size=15).map(
        lambda v: pa.array(v, pa.float64())
    ),
    st.lists(st.one_of(st.none(), st.booleans()), max_size=15).map(lambda v: pa.array(v)),
    st.lists(st.one_of(st.none(), st.datetimes()), max_size=15).map(
        lambda v: pa.array(v, pa.timestamp("us"))
    ),
)


@settings(max_examples=400, deadline=None)
@given(values=COLUMNS, type_text=st.sampled_from(TYPES))
def test_cast_never_raises_and_never_nulls_a_value_silently(
    values: pa.Array, type_text: str
) -> None:
    t = TypeSpec.parse(type_text)
    result = cast_column(values, t)
    assert result.values.type == arrow_type(t)
    assert len(result.values) == len(values)
    errs = [None] * len(values) if result.errors is None else result.errors.to_pylist()
    for raw, out, err in zip(values.to_pylist(), result.values.to_pylist(), errs, strict=True):
        if raw is None:
            assert out is None
            assert err is None
        else:
            assert (out is None) != (err is None), (raw, out, err)


# --- uuid, json, time: what the target needs to create native columns -------------------


@pytest.mark.parametrize(
    ("text", "logical", "length"),
    [("uuid", "uuid", 36), ("json", "json", None), ("time", None, None), ("string", None, None)],
)
def test_uuid_and_json_are_named_for_the_target(
    text: str, logical: str | None, length: int | None
) -> None:
    """Both are text in batches: the target schema says which, so the engine's own UUID
    and JSONB types can be created."""
    t = TypeSpec.parse(text)
    assert logical_type(t) == logical
    assert max_length(t) == length


def test_json_is_stored_in_its_canonical_spelling() -> None:
    values, errors = cast(
        ['{"b": 1, "a": [true, null, "x"]}', " [1.50, 1E+2, -0] ", '"\\u00e9"', "{}"], "json"
    )
    assert values == ['{"a":[true,null,"x"],"b":1}', "[1.50,100,0]", '"é"', "{}"]
    assert errors == [None] * 4


def test_json_canonical_text_would_change_is_quarantined_not_altered() -> None:
    values, errors = cast(
        ['{"a": 1, "a": 2}', '{"s": "nul\\u0000"}', "1e200000", "[1", '{"ok": 1}'], "json"
    )
    assert values == [None, None, None, None, '{"ok":1}']
    assert errors[0] is not None
    assert "cannot be stored as JSON exactly: an object has the key 'a' twice" in errors[0]
    assert errors[1] is not None
    assert "holds \\u0000, which PostgreSQL cannot store" in errors[1]
    assert errors[2] is not None
    assert "out of PostgreSQL's numeric range" in errors[2]
    assert errors[3] is not None
    assert "is not valid JSON" in errors[3]
    assert errors[4] is None


def test_schema_diff_names_uuid_and_json_and_takes_text_columns_long_enough() -> None:
    wanted = TableSchema(
        "t",
        (
            ColumnSchema("u", pa.string(), max_length=36, logical="uuid"),
            ColumnSchema("j", pa.string(), logical="json"),
        ),
    )
    earlier = [ColumnSchema("u", pa.string(), max_length=36), ColumnSchema("j", pa.string())]
    assert schema_diff(earlier, wanted) == []
    assert schema_diff(wanted.columns, wanted) == []
    short = [ColumnSchema("u", pa.string(), max_length=32), ColumnSchema("j", pa.int64())]
    assert schema_diff(short, wanted) == [
        "t.u: the table has string(32), too short for the spec's uuid",
        "t.j: the table has bigint, the spec makes json",
    ]
    assert schema_diff([], wanted) == [
        "t.u: missing; the spec makes uuid (add the column or drop the table)",
        "t.j: missing; the spec makes json (add the column or drop the table)",
    ]
    crossed = [ColumnSchema("u", pa.string(), logical="json"), ColumnSchema("j", pa.string())]
    assert schema_diff(crossed, wanted) == ["t.u: the table has json, the spec makes uuid"]
