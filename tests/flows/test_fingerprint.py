"""Row hashes and table fingerprints are recorded at a run's start and compared at its
rollback, possibly by a later ferryman: the hash of every kind of value is pinned here, as
the code before `ferryman.codec` computed it."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import pytest

from ferryman.flows.ledger.fingerprint import fingerprint, row_hash

PINNED: list[tuple[Any, int]] = [
    (None, 2130139739821001827),
    ("", 384276974392803404),
    ("text é", 5140931797037024218),
    (True, 579450136117485302),
    (False, 15041073954064335159),
    (0, 15041073954064335159),
    (-7, 1733491682314484876),
    (2**70, 15791796687510318278),
    (Decimal("12.50"), 11058541147313702961),
    (Decimal("12.5"), 11058541147313702961),
    (Decimal("-0.000"), 14857424301013122661),
    (Decimal("1E+3"), 806848214724283581),
    (Decimal("NaN"), 16157158411713062602),
    (Decimal("-Infinity"), 15346106888447979342),
    (1.0, 579450136117485302),
    (-0.0, 15041073954064335159),
    (2.5, 7703950811410308109),
    (1e300, 2325270675986728657),
    (2.0**60, 2871672819759488974),
    (float("nan"), 15119041488727998926),
    (float("inf"), 1399984854158100755),
    (float("-inf"), 5869750210716805853),
    (dt.datetime(2024, 2, 29, 13, 5, 9, 250001), 12953395489409570044),
    (dt.datetime(2024, 2, 29, 13, 5, tzinfo=dt.UTC), 15017336504643167204),
    (dt.datetime(2024, 7, 1, 8, 0, tzinfo=ZoneInfo("Europe/Paris")), 10571916284298197758),
    (
        dt.datetime(2024, 7, 1, 8, 0, tzinfo=dt.timezone(dt.timedelta(hours=-3, minutes=-30))),
        6410191698980828705,
    ),
    (dt.date(1999, 12, 31), 1394699108381494542),
    (dt.time(23, 59, 59, 999999), 8938599543144969465),
    (dt.time(1, 2, tzinfo=dt.UTC), 12315654538802235324),
    (b"", 15521900249604877701),
    (b"\x00\xff", 17041170874213108029),
    (bytearray(b"ab"), 6574633844556587777),
    (memoryview(b"cd"), 11708112519380341768),
    (uuid.UUID("c0ffee00-0000-4000-8000-0000000000cc"), 7027629262925597298),
    ({"b": [1, 2.5], "a": "é"}, 2776003523711217286),
    ([1, "x", None], 13124113177462963936),
    ({"$d": "1"}, 17830251308912141877),
    (dt.timedelta(days=1, microseconds=5), 12811859216456268547),
    (np.int64(5), 6787807299369231466),
    (np.float64(2.5), 8171673688003387971),
]


@pytest.mark.parametrize(
    ("value", "expected"),
    PINNED,
    ids=[f"{i}-{type(v).__name__}" for i, (v, _) in enumerate(PINNED)],
)
def test_the_hash_of_a_value_is_what_earlier_runs_recorded(value: Any, expected: int) -> None:
    assert row_hash([value]) == expected


def test_a_table_fingerprint_is_what_earlier_runs_recorded() -> None:
    values = [v for v, _ in PINNED]
    rows = [values[i : i + 5] for i in range(0, len(values), 5)]
    assert str(fingerprint([rows])) == "8 rows, hash a67ab10542b5445d"
