"""The value codec: every value it takes comes back from JSON exactly, with its type, and
the spellings journal rows and aggregates were written in before it existed still read."""

from __future__ import annotations

import datetime as dt
import decimal
import json
import math
import uuid
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from ferryman import codec

_offsets = st.builds(
    dt.timezone,
    st.timedeltas(min_value=dt.timedelta(hours=-23, minutes=-59), max_value=dt.timedelta(hours=23)),
)
_json_scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text()
)
_json_documents = st.recursive(
    _json_scalars,
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(st.sampled_from(["$d", "$ts", "$json", "$x", "a"]) | st.text(), inner)
    ),
    max_leaves=8,
)
VALUES = (
    _json_scalars
    | st.floats()  # NaN, inf, -inf, -0.0
    | st.decimals()  # NaN, sNaN, Infinity, -0, 1E+3, 12.50
    | st.datetimes()
    | st.datetimes(timezones=st.timezones())
    | st.datetimes(timezones=_offsets)
    | st.dates()
    | st.times()
    | st.times(timezones=_offsets)
    | st.timedeltas()
    | st.binary()
    | st.uuids()
    | _json_documents
)


def _identity(value: Any) -> tuple[str, Any]:
    """What must survive: the type and everything the value says (a Decimal's digits, a
    float's sign and NaN-ness, a datetime's wall time and UTC offset)."""
    if isinstance(value, decimal.Decimal | float):
        return type(value).__name__, repr(value)
    if isinstance(value, dt.datetime | dt.time):
        return type(value).__name__, (value.isoformat(), value.utcoffset())
    return type(value).__name__, json.dumps(value, sort_keys=True, default=repr)


def _through_json(value: Any) -> Any:
    text = json.dumps(codec.encode(value), allow_nan=False)  # strict JSON: no NaN token
    return codec.decode(json.loads(text))


@settings(max_examples=600)
@given(VALUES)
@example(dt.datetime(2016, 3, 27, 1, 0, tzinfo=ZoneInfo("Atlantic/Canary")))  # in a DST gap
def test_every_value_comes_back_exactly(value: Any) -> None:
    back = _through_json(value)
    assert _identity(back) == _identity(value)
    if isinstance(value, dt.datetime) and value.tzinfo is not None:
        # the same instant; `==` would do but for a local time in a DST gap or fold, which
        # Python never calls equal to a datetime of another zone (PEP 495)
        assert back.timestamp() == value.timestamp()
    elif not _nan(value):
        assert back == value


def _nan(value: Any) -> bool:
    if isinstance(value, decimal.Decimal):
        return value.is_nan()
    return isinstance(value, float) and math.isnan(value)


@given(st.binary())
def test_bytes_like_values_come_back_as_bytes(data: bytes) -> None:
    assert _through_json(bytearray(data)) == data
    assert _through_json(memoryview(data)) == data


def test_a_named_zone_comes_back_as_its_offset_at_that_instant() -> None:
    summer = dt.datetime(2024, 7, 1, 8, 0, tzinfo=ZoneInfo("Europe/Paris"))
    back = _through_json(summer)
    assert back == summer
    assert back.utcoffset() == dt.timedelta(hours=2)
    assert codec.encode(summer) == {"$ts": "2024-07-01T08:00:00+02:00"}


def test_nanoseconds_survive() -> None:
    stamp = pd.Timestamp("2024-01-02 03:04:05.123456789", tz="UTC")
    back = _through_json(stamp)
    assert isinstance(back, pd.Timestamp)
    assert back == stamp
    assert back.nanosecond == 789


def test_arrow_and_numpy_scalars_are_their_python_values() -> None:
    assert codec.encode(pa.scalar(decimal.Decimal("1.50"))) == {"$d": "1.50"}
    assert codec.encode(pa.scalar(None, pa.int64())) is None
    assert codec.encode(np.int64(5)) == 5
    assert codec.encode(np.float64("nan")) == {"$f": "nan"}
    assert codec.encode(np.bool_(True)) is True
    assert codec.encode(pd.NaT) is None


@pytest.mark.parametrize(
    ("document", "stored"),
    [
        ({"$d": "1"}, {"$json": {"$d": "1"}}),
        ({"$json": 1}, {"$json": {"$json": 1}}),
        ({"$anything": 1}, {"$json": {"$anything": 1}}),
        ({"a": 1}, {"a": 1}),  # written as it is, like the journal always did
        ({"$d": "1", "b": 2}, {"$d": "1", "b": 2}),
        ([{"$d": "1"}], [{"$d": "1"}]),  # only a top-level object could be read as a tag
    ],
)
def test_json_documents_are_never_taken_for_typed_values(
    document: Any, stored: dict[str, Any]
) -> None:
    assert codec.encode(document) == stored
    assert codec.decode(stored) == document


# The spellings the journal (before-images, inserted keys) and the ledger's aggregates were
# written in before the codec: the codec writes exactly these, so old and new rows mix.
JOURNAL = [
    (decimal.Decimal("12.50"), {"$d": "12.50"}),
    (decimal.Decimal("-1E+3"), {"$d": "-1E+3"}),
    (dt.datetime(2024, 2, 29, 13, 5, 9, 250001), {"$ts": "2024-02-29T13:05:09.250001"}),
    (
        dt.datetime(2024, 2, 29, 13, 5, tzinfo=dt.UTC),
        {"$ts": "2024-02-29T13:05:00+00:00"},
    ),
    (dt.date(1999, 12, 31), {"$date": "1999-12-31"}),
    (dt.time(23, 59, 59, 999999), {"$time": "23:59:59.999999"}),
    (b"\x00\xff", {"$b": "00ff"}),
    ("text", "text"),
    (7, 7),
    (2.5, 2.5),
    (True, True),
    (None, None),
    ({"a": [1, "x"]}, {"a": [1, "x"]}),
]


@pytest.mark.parametrize(("value", "stored"), JOURNAL)
def test_the_journal_spellings_are_unchanged(value: Any, stored: Any) -> None:
    assert codec.encode(value) == stored
    assert codec.decode(stored) == value


def test_a_non_finite_float_the_old_journal_wrote_as_a_bare_token_still_reads() -> None:
    """Before the codec, NaN went into the journal as Python's non-standard `NaN` token."""
    (old,) = json.loads("[NaN]")
    assert math.isnan(codec.decode(old))
    assert json.dumps(codec.encode(float("-inf"))) == '{"$f": "-inf"}'


def test_a_value_without_a_spelling_is_refused_by_name() -> None:
    with pytest.raises(codec.NotEncodable, match="type object has no JSON spelling"):
        codec.encode(object())


def test_an_unknown_tag_is_left_as_the_document_it_is() -> None:
    assert codec.decode({"$nope": "1"}) == {"$nope": "1"}
    assert codec.decode({"d": "1"}) == {"d": "1"}
    assert codec.decode(uuid.UUID(int=0).hex) == uuid.UUID(int=0).hex
