"""Running suites on mapped batches: rejects, gates, warnings, types GX sees, quiet GX."""

from __future__ import annotations

import datetime as dt
import socket
from decimal import Decimal
from typing import Any

import pyarrow as pa
import pytest

from ferryman.connectors.base import ROW_POSITION
from ferryman.mappings.compile import ROW_INDEX
from ferryman.mappings.rejects import Reject
from ferryman.validations import gx_context
from ferryman.validations.gx_runner import SuiteRunner, ValidationOutcome, to_frame
from ferryman.validations.suites import SuiteSpec

EMAIL = r"^[^@\s]+@[^@\s]+\.[A-Za-z]{2,}$"


def suite(*expectations: dict[str, Any], name: str = "s") -> SuiteSpec:
    return SuiteSpec.model_validate({"name": name, "expectations": list(expectations)})


def batch(row_index: list[int] | None = None, **columns: pa.Array | list[Any]) -> pa.Table:
    """A mapped batch; by default its rows are 3, 5, 8... of the source batch (earlier
    steps removed the others), read from lines 10, 11, 12... of a file."""
    n = len(next(iter(columns.values())))
    index = row_index if row_index is not None else [3 + i * i + i for i in range(n)]
    data = {name: pa.array(values) for name, values in columns.items()}
    data[ROW_POSITION] = pa.array([f"legacy.csv:{10 + i}" for i in range(n)], pa.string())
    data[ROW_INDEX] = pa.array(index, pa.int32())
    return pa.table(data)


def run(rows: pa.Table, *expectations: dict[str, Any]) -> ValidationOutcome:
    return SuiteRunner([suite(*expectations)]).validate(rows)


def regex(column: str = "email", **extra: Any) -> dict[str, Any]:
    kwargs = {"column": column, "regex": EMAIL}
    return {"type": "expect_column_values_to_match_regex", "kwargs": kwargs, **extra}


def test_row_failures_become_rejects_at_their_source_rows() -> None:
    rows = batch(
        email=["ann@example.com", "john.doe@", "bob@example.org", "x y@z.com"],
        name=["Ann", "John", "Bob", "X"],
    )
    assert rows.column(ROW_INDEX).to_pylist() == [3, 5, 9, 15]
    outcome = run(rows, regex())
    assert outcome.rejects == [
        Reject(
            row=5,
            position="legacy.csv:11",
            column="email",
            raw_value="john.doe@",
            rule="expect_column_values_to_match_regex",
            message=f"email 'john.doe@' does not match the pattern {EMAIL}",
        ),
        Reject(
            row=15,
            position="legacy.csv:13",
            column="email",
            raw_value="x y@z.com",
            rule="expect_column_values_to_match_regex",
            message=f"email 'x y@z.com' does not match the pattern {EMAIL}",
        ),
    ]
    assert (outcome.batch_failures, outcome.warnings) == ([], [])
    (result,) = outcome.outcomes
    assert (result.success, result.unexpected_count, result.element_count) == (False, 2, 4)
    assert (result.column, result.severity, result.suite) == ("email", "row", "s")


def test_clean_batch_has_no_rejects() -> None:
    outcome = run(batch(email=["ann@example.com"]), regex())
    assert outcome.rejects == []
    assert outcome.outcomes[0].success


def test_batch_severity_fails_the_batch_only_when_the_expectation_fails() -> None:
    count = {
        "type": "expect_table_row_count_to_be_between",
        "kwargs": {"min_value": 3},
        "severity": "batch",
    }
    failing = run(batch(email=["a@b.cc", "c@d.ee"]), count)
    assert failing.rejects == []
    assert failing.batch_failures == [
        "suite 's': expect_table_row_count_to_be_between: observed 2, expected min_value=3"
    ]
    passing = run(batch(email=["a@b.cc", "c@d.ee", "e@f.gg"]), count)
    assert (passing.batch_failures, passing.outcomes[0].observed) == ([], "3")


def test_batch_severity_on_a_column_map_expectation_counts_and_shows_examples() -> None:
    rows = batch(email=["bad", "a@b.cc", "worse"])
    outcome = run(rows, regex(severity="batch", description="emails must be deliverable"))
    assert outcome.rejects == []  # a batch rule quarantines nothing: it stops the load
    assert outcome.batch_failures == [
        "suite 's': expect_column_values_to_match_regex on email (emails must be deliverable):"
        f" 2 of 3 rows (66.67%) does not match the pattern {EMAIL}; e.g. 'bad', 'worse'"
    ]


def test_warn_severity_reports_and_quarantines_nothing() -> None:
    rows = batch(status=["active", "gone", "closed"])
    in_set = {
        "type": "expect_column_values_to_be_in_set",
        "kwargs": {"column": "status", "value_set": ["active", "closed"]},
        "severity": "warn",
    }
    outcome = run(rows, in_set)
    assert (outcome.rejects, outcome.batch_failures) == ([], [])
    assert outcome.warnings == [
        "suite 's': expect_column_values_to_be_in_set on status: 1 of 3 rows (33.33%)"
        " is not one of {'active', 'closed'}; e.g. 'gone'"
    ]
    assert run(batch(status=["active"]), in_set).warnings == []


def test_mostly_quarantines_failing_rows_and_fails_the_batch_beyond_its_tolerance() -> None:
    tolerant = regex(kwargs={"column": "email", "regex": EMAIL, "mostly": 0.5})
    few = run(batch(email=["a@b.cc", "c@d.ee", "e@f.gg", "bad"]), tolerant)
    assert [r.raw_value for r in few.rejects] == ["bad"]  # within tolerance, still held back
    assert few.outcomes[0].success
    assert few.batch_failures == []
    many = run(batch(email=["a@b.cc", "bad", "worse", "worst"]), tolerant)
    assert [r.raw_value for r in many.rejects] == ["bad", "worse", "worst"]
    (failure,) = many.batch_failures
    assert "3 of 4 rows (75.00%)" in failure
    assert ", more than `mostly: 0.5` allows" in failure


def test_nulls_pass_a_regex_and_fail_not_null() -> None:
    rows = batch(email=pa.array([None, "a@b.cc", "bad", None], pa.string()))
    not_null = {"type": "expect_column_values_to_not_be_null", "kwargs": {"column": "email"}}
    outcome = run(rows, regex(), not_null)
    by_rule = {(r.rule, r.row): r for r in outcome.rejects}
    assert sorted(by_rule) == [
        ("expect_column_values_to_match_regex", 9),
        ("expect_column_values_to_not_be_null", 3),
        ("expect_column_values_to_not_be_null", 15),
    ]
    null = by_rule[("expect_column_values_to_not_be_null", 3)]
    assert (null.raw_value, null.message) == (None, "email is missing (null)")


def test_dates_and_decimals_survive_the_conversion() -> None:
    rows = batch(
        born=pa.array([dt.date(1985, 3, 1), dt.date(1850, 1, 1), None, dt.date(2031, 1, 1)]),
        amount=pa.array(
            [Decimal("12.50"), Decimal("-3.00"), Decimal("7.25"), None], pa.decimal128(12, 2)
        ),
        seen=pa.array([dt.datetime(2020, 1, 1, 9, 30)] * 4, pa.timestamp("us")),
    )
    born = {
        "type": "expect_column_values_to_be_between",
        "kwargs": {"column": "born", "min_value": dt.date(1900, 1, 1), "max_value": "2030-12-31"},
    }
    amount = {
        "type": "expect_column_values_to_be_between",
        "kwargs": {"column": "amount", "min_value": 0, "max_value": 10},
    }
    known = {
        "type": "expect_column_values_to_be_in_set",
        "kwargs": {"column": "amount", "value_set": [12.5, 7.25, 1]},  # an int: GX+Arrow broke
    }
    seen = {
        "type": "expect_column_values_to_be_between",
        "kwargs": {"column": "seen", "min_value": dt.datetime(2019, 1, 1)},
    }
    outcome = run(rows, born, amount, known, seen)
    assert [o.error for o in outcome.outcomes] == [None, None, None, None]
    assert [(r.column, r.row, r.raw_value) for r in outcome.rejects] == [
        ("born", 5, "1850-01-01"),
        ("born", 15, "2031-01-01"),
        ("amount", 3, "12.50"),  # the exact decimal, not the float GX compared
        ("amount", 5, "-3.00"),
        ("amount", 5, "-3.00"),
    ]
    assert outcome.rejects[0].message == "born 1850-01-01 is not between 1900-01-01 and 2030-12-31"
    assert outcome.rejects[3].message == "amount -3.00 is not between 0 and 10"


def test_gx_sees_target_columns_with_arrow_dtypes() -> None:
    rows = batch(n=pa.array([1, None], pa.int64()), d=pa.array([dt.date(2020, 1, 1), None]))
    frame = to_frame(rows)
    assert list(frame.columns) == ["n", "d"]  # ROW_POSITION / ROW_INDEX stay out of GX's view
    assert [str(t) for t in frame.dtypes] == ["int64[pyarrow]", "date32[day][pyarrow]"]
    columns = {
        "type": "expect_table_columns_to_match_set",
        "kwargs": {"column_set": ["n", "d"], "exact_match": True},
        "severity": "batch",
    }
    assert run(rows, columns).batch_failures == []


def test_pair_expectation_rejects_name_both_values() -> None:
    rows = batch(start=[1, 5, 2], end=[2, 4, 3])
    pair = {
        "type": "expect_column_pair_values_a_to_be_greater_than_b",
        "kwargs": {"column_A": "end", "column_B": "start"},
    }
    (reject,) = run(rows, pair).rejects
    assert (reject.row, reject.column, reject.raw_value) == (5, None, "end=4, start=5")
    assert reject.message == "the values (end=4, start=5) do not have end greater than start"


def test_an_expectation_that_cannot_run_fails_the_batch_or_warns() -> None:
    rows = batch(seen=pa.array([dt.datetime(2020, 1, 1)], pa.timestamp("us")))
    kwargs = {"column": "seen", "min_value": dt.date(2019, 1, 1)}  # a date for a timestamp
    between = {"type": "expect_column_values_to_be_between", "kwargs": kwargs}
    outcome = run(rows, between)
    assert outcome.rejects == []
    (failure,) = outcome.batch_failures
    assert failure.startswith(
        "suite 's': expect_column_values_to_be_between on seen could not run on this batch:"
    )
    assert "a timestamp column needs bounds like 2024-01-01 00:00:00" in failure
    assert outcome.outcomes[0].error is not None
    warned = run(rows, {**between, "severity": "warn"})
    assert (len(warned.warnings), warned.batch_failures) == (1, [])


def test_several_suites_run_in_one_pass_and_report_in_suite_order() -> None:
    first = suite(regex(), name="contacts")
    second = suite(
        {"type": "expect_column_values_to_not_be_null", "kwargs": {"column": "name"}},
        {
            "type": "expect_column_value_lengths_to_be_between",
            "kwargs": {"column": "name", "max_value": 3},
        },
        name="people",
    )
    rows = batch(email=["a@b.cc", "bad"], name=pa.array(["Anne", None]))
    outcome = SuiteRunner([first, second]).validate(rows)
    assert [(o.suite, o.type) for o in outcome.outcomes] == [
        ("contacts", "expect_column_values_to_match_regex"),
        ("people", "expect_column_values_to_not_be_null"),
        ("people", "expect_column_value_lengths_to_be_between"),
    ]
    assert [(r.row, r.rule) for r in outcome.rejects] == [
        (5, "expect_column_values_to_match_regex"),
        (5, "expect_column_values_to_not_be_null"),
        (3, "expect_column_value_lengths_to_be_between"),
    ]
    assert outcome.rejects[2].message == "name 'Anne' is not at most 3 characters long"


def test_a_batch_without_row_index_is_refused() -> None:
    rows = pa.table({"email": ["a@b.cc"], ROW_POSITION: ["x:1"]})
    with pytest.raises(ValueError, match="lacks __ferryman_row"):
        SuiteRunner([suite(regex())]).validate(rows)


def test_no_suites_means_nothing_to_do() -> None:
    assert SuiteRunner([]).validate(batch(email=["x"])) == ValidationOutcome([], [], [], [])


def test_gx_prints_no_progress_bars(capfd: pytest.CaptureFixture[str]) -> None:
    capfd.readouterr()
    run(batch(email=["a@b.cc", "bad"]), regex())
    captured = capfd.readouterr()
    assert "Calculating Metrics" not in captured.err
    assert (captured.out, captured.err) == ("", "")


def test_one_context_per_process() -> None:
    handles = gx_context.gx_handles()
    runner = SuiteRunner([suite(regex())])
    runner.validate(batch(email=["bad"]))
    SuiteRunner([suite(regex())]).validate(batch(email=["bad"]))
    assert gx_context.gx_handles() is handles
    assert [d.name for d in handles.context.data_sources.all().values()] == ["ferryman"]
    assert handles.context.config.analytics_enabled is False
    assert handles.context.progress_bars.metric_calculations is False


def test_creating_the_context_and_validating_need_no_network(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError(f"network call attempted: {args}")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(gx_context, "_HANDLES", None)  # build a fresh context under the guard
    outcome = run(batch(email=["bad"]), regex())
    assert len(outcome.rejects) == 1


def test_a_row_condition_limits_the_rows_checked_and_keeps_their_indexes() -> None:
    kwargs = {
        "column": "email",
        "regex": EMAIL,
        "row_condition": 'col("kind")=="person"',
        "condition_parser": "great_expectations",
    }
    rows = batch(email=["bad", "worse", "a@b.cc"], kind=["robot", "person", "person"])
    outcome = run(rows, {"type": "expect_column_values_to_match_regex", "kwargs": kwargs})
    assert [(r.row, r.raw_value) for r in outcome.rejects] == [(5, "worse")]


def test_failing_rows_are_found_whatever_the_previous_batch_held() -> None:
    """A runner asks first for the rows of the checks that failed in the previous batch:
    each batch's outcome is still exactly a fresh runner's."""
    not_null = {"type": "expect_column_values_to_not_be_null", "kwargs": {"column": "name"}}
    in_set = {
        "type": "expect_column_values_to_be_in_set",
        "kwargs": {"column": "status", "value_set": ["a", "b"], "mostly": 0.5},
    }
    batches = [
        batch(email=["bad", "a@b.cc"], name=["x", "y"], status=["a", "b"]),
        batch(email=["a@b.cc", "c@d.ee"], name=["x", "y"], status=["a", "z"]),
        batch(
            email=["a@b.cc", "c@d.ee"], name=pa.array([None, "y"], pa.string()), status=["a", "b"]
        ),
        batch(email=["bad", "worse"], name=pa.array([None, None], pa.string()), status=["z", "z"]),
        batch(email=["a@b.cc", "c@d.ee"], name=["x", "y"], status=["a", "b"]),
    ]
    runner = SuiteRunner([suite(regex(), not_null, in_set)])
    for rows in batches:
        assert runner.validate(rows) == run(rows, regex(), not_null, in_set)
    assert [len(run(rows, regex(), not_null, in_set).rejects) for rows in batches] == [
        1,
        1,
        1,
        6,
        0,
    ]


def test_numeric_columns_go_to_gx_as_numpy_with_the_same_verdicts() -> None:
    rows = batch(
        id=pa.array([1, 2, 2, 2**62], pa.int64()),
        small=pa.array([1, 5, 9, 3], pa.int16()),
        maybe=pa.array([1, None, 7, 3], pa.int64()),
        score=pa.array([0.5, None, -1.5, 3.0], pa.float64()),
        odd=pa.array([0.5, float("nan"), -1.5, None], pa.float64()),
        amount=pa.array(
            [Decimal("1.10"), None, Decimal("-2.00"), Decimal("3.30")], pa.decimal128(9, 2)
        ),
    )
    checks = [
        {"type": "expect_column_values_to_be_unique", "kwargs": {"column": "id"}},
        {
            "type": "expect_column_values_to_be_between",
            "kwargs": {"column": "small", "max_value": 8},
        },
        {
            "type": "expect_column_values_to_be_in_set",
            "kwargs": {"column": "maybe", "value_set": [1, 3]},
        },
        {
            "type": "expect_column_values_to_be_between",
            "kwargs": {"column": "score", "min_value": 0},
        },
        {"type": "expect_column_values_to_not_be_null", "kwargs": {"column": "score"}},
        {"type": "expect_column_values_to_be_between", "kwargs": {"column": "odd", "min_value": 0}},
        {
            "type": "expect_column_values_to_be_between",
            "kwargs": {"column": "amount", "min_value": 0},
        },
    ]
    fast = SuiteRunner([suite(*checks)])
    arrow = SuiteRunner([suite(*checks)])
    arrow._numpy_columns = frozenset()  # every column Arrow-backed, as before the shortcut
    assert fast.validate(rows) == arrow.validate(rows)
    frame = to_frame(rows, fast._numpy_columns)
    assert {c: str(t) for c, t in frame.dtypes.items()} == {
        "id": "int64",
        "small": "int64",
        "maybe": "int64[pyarrow]",  # nulls: stays Arrow, an int
        "score": "float64",  # its null becomes NaN, which GX takes for null
        "odd": "double[pyarrow]",  # a real NaN is a value, not a null: stays Arrow
        "amount": "float64",
    }
    outcome = fast.validate(rows)
    assert sorted((r.column, r.row, r.raw_value) for r in outcome.rejects) == [
        ("amount", 9, "-2.00"),
        ("id", 5, "2"),
        ("id", 9, "2"),
        ("maybe", 9, "7"),
        ("odd", 5, "nan"),
        ("odd", 9, "-1.5"),
        ("score", 5, None),
        ("score", 9, "-1.5"),
        ("small", 9, "9"),
    ]
