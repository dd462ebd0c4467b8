"""Properties (hypothesis) of every cast, with its options, and of date parsing: they never
raise because of the data, keep the row count, and never turn a non-null value into NULL
without an error (the error quarantines the row). NULL in gives NULL out, no error."""

from __future__ import annotations

from typing import Any

import pyarrow as pa
from hypothesis import given, settings
from hypothesis import strategies as st

from ferryman.mappings._arrow import StepResult
from ferryman.mappings.functions import get_function
from ferryman.mappings.model import CastOptions, Step, TypeSpec
from ferryman.mappings.types import arrow_type, cast_column

CASTS: list[tuple[str, dict[str, Any]]] = [
    ("integer", {}),
    ("bigint", {}),
    ("decimal(5,2)", {}),
    ("decimal(38,10)", {}),
    ("float", {}),
    ("boolean", {}),
    ("boolean", {"true_words": ["J", "ja"], "false_words": ["N"]}),
    ("string", {}),
    ("string(3)", {}),
    ("date", {}),
    ("time", {}),
    ("timestamp", {}),
    ("timestamp", {"timezone": "America/New_York"}),
    ("timestamptz", {}),
    ("timestamptz", {"timezone": "Europe/Paris"}),
    ("timestamptz", {"timezone": "Australia/Lord_Howe"}),  # half-hour DST shifts
    ("uuid", {}),
    ("json", {}),
    ("binary", {}),
    ("binary", {"encoding": "base64"}),
    ("binary", {"encoding": "utf8"}),
]

NUMBERISH = st.from_regex(r"\s?[+-]?\d{0,22}(\.\d{0,4})?([eE]-?\d{1,3})?\s?", fullmatch=True)
TIMESTAMPISH = st.from_regex(
    r"\d{4}-[01]\d-[0-3]\d([ T][0-2]\d:[0-5]\d(:[0-6]\d(\.\d{1,7})?)?)?(Z|[+-][0-2]\d:?\d\d)?",
    fullmatch=True,
)
TIMEISH = st.from_regex(r"[0-2]?\d:[0-6]\d(:[0-6]\d(\.\d{1,7})?)?", fullmatch=True)
HEXISH = st.from_regex(r"(\\x|0x|\{|urn:uuid:)?[0-9a-fA-F-]{0,40}\}?", fullmatch=True)
B64ISH = st.from_regex(r"[A-Za-z0-9+/]{0,12}={0,2}", fullmatch=True)
JSONISH = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=4),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner),
    max_leaves=5,
).map(lambda v: __import__("json").dumps(v))
TEXT = st.one_of(
    st.text(max_size=12),
    NUMBERISH,
    TIMESTAMPISH,
    TIMEISH,
    HEXISH,
    B64ISH,
    JSONISH,
    st.sampled_from(["J", "n", "ja", "", "NaN", "2021-03-28 02:30:00", "2021-10-31 02:30"]),
)

COLUMNS = st.one_of(
    st.lists(st.one_of(st.none(), TEXT), max_size=12).map(lambda v: pa.array(v, pa.string())),
    st.lists(st.one_of(st.none(), st.integers(-(2**63), 2**63 - 1)), max_size=12).map(
        lambda v: pa.array(v, pa.int64())
    ),
    st.lists(st.one_of(st.none(), st.floats()), max_size=12).map(
        lambda v: pa.array(v, pa.float64())
    ),
    st.lists(st.one_of(st.none(), st.datetimes()), max_size=12).map(
        lambda v: pa.array(v, pa.timestamp("us"))
    ),
    st.lists(st.one_of(st.none(), st.datetimes()), max_size=12).map(
        lambda v: pa.array(v, pa.timestamp("us", tz="Europe/Paris"))
    ),
    st.lists(st.one_of(st.none(), st.dates()), max_size=12).map(lambda v: pa.array(v)),
    st.lists(st.one_of(st.none(), st.times()), max_size=12).map(lambda v: pa.array(v)),
    st.lists(st.one_of(st.none(), st.binary(max_size=6)), max_size=12).map(
        lambda v: pa.array(v, pa.binary())
    ),
)


def check_accounted(values: pa.Array, result: StepResult) -> None:
    assert len(result.values) == len(values)
    errs = [None] * len(values) if result.errors is None else result.errors.to_pylist()
    for raw, out, err in zip(values.to_pylist(), result.values.to_pylist(), errs, strict=True):
        if raw is None:
            assert out is None
            assert err is None
        else:
            assert (out is None) != (err is None), (raw, out, err)


@settings(max_examples=300, deadline=None)
@given(values=COLUMNS, cast=st.sampled_from(CASTS))
def test_every_cast_accounts_for_every_value(
    values: pa.Array, cast: tuple[str, dict[str, Any]]
) -> None:
    type_text, options = cast
    t = TypeSpec.parse(type_text)
    result = cast_column(values, t, CastOptions(**options) if options else None)
    assert result.values.type == arrow_type(t)
    check_accounted(values, result)


FORMATS = ["%Y%m%d", "%d/%m/%Y", "%d/%m/%y", "%y%m%d", "%d.%m.%Y %H:%M", "%Y-%m-%d %H:%M:%S"]
DATE_TEXT = st.one_of(
    st.text(max_size=10),
    st.from_regex(r"\d{1,2}/\d{1,2}/\d{2,4}", fullmatch=True),
    st.from_regex(r"\d{6,8}", fullmatch=True),
    st.from_regex(r"\s?\d{2}\.\d{2}\.\d{4} \d{2}:\d{2}\s?", fullmatch=True),
    st.from_regex(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}", fullmatch=True),
)


@settings(max_examples=200, deadline=None)
@given(
    texts=st.lists(st.one_of(st.none(), DATE_TEXT), max_size=12),
    function=st.sampled_from(["parse_date", "parse_timestamp"]),
    formats=st.lists(st.sampled_from(FORMATS), min_size=1, max_size=3, unique=True),
    pivot=st.one_of(st.none(), st.integers(0, 100)),
)
def test_date_parsing_accounts_for_every_value(
    texts: list[str | None], function: str, formats: list[str], pivot: int | None
) -> None:
    args: dict[str, Any] = {"formats": formats}
    if pivot is not None:
        formats.append("%d/%m/%y")  # a pivot needs a two-digit-year format
        args = {"formats": list(dict.fromkeys(formats)), "pivot": pivot}
    fn = get_function(function)
    parsed = fn.args_model.model_validate(args)
    values = pa.array(texts, pa.string())
    result = fn.apply([values], parsed)
    check_accounted(values, result)
    assert Step(function=function, args=args).function == function


@settings(max_examples=200, deadline=None)
@given(
    texts=st.lists(st.one_of(st.none(), st.from_regex(r"\d{2}/\d{2}/\d{2}", fullmatch=True))),
    pivot=st.integers(0, 100),
)
def test_the_pivot_decides_the_century(texts: list[str | None], pivot: int) -> None:
    fn = get_function("parse_date")
    args = fn.args_model.model_validate({"formats": ["%d/%m/%y"], "pivot": pivot})
    result = fn.apply([pa.array(texts, pa.string())], args)
    for text, out in zip(texts, result.values.to_pylist(), strict=True):
        if out is not None and text is not None:
            yy = int(text[-2:])
            assert out.year == (2000 + yy if yy < pivot else 1900 + yy)


def test_undecodable_bytes_are_read_as_escaped_text() -> None:
    values = pa.array([b"\x80", b"12", None], pa.binary())
    result = cast_column(values, TypeSpec.parse("integer"))
    assert result.values.to_pylist() == [None, 12, None]
    assert result.errors is not None
    assert result.errors[0].as_py() == "'\\x80' is not an integer"
