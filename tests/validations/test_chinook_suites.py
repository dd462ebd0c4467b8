"""The Chinook suites (examples/chinook/validations/suites) on Chinook's real rows: the rows
pass, and one planted defect makes each expectation fire as its severity says (`row`:
that row, and only it, is quarantined; `batch`: the batch fails; `warn`: a warning).

The rows are the SQLite tables read by the real SQL source and mapped by the project's
specs, as `ferryman run` does before validating."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from ferryman.connectors.sql.options import SqlOptions
from ferryman.connectors.sql.source import SqlSource
from ferryman.mappings.compile import ROW_INDEX, compile_spec
from ferryman.mappings.loader import load_specs
from ferryman.validations.gx_runner import SuiteRunner, ValidationOutcome
from ferryman.validations.suites import load_suites

PROJECT = Path(__file__).resolve().parents[2] / "examples" / "chinook"
BATCH = 1000  # the project's batch_size


@pytest.fixture(scope="module")
def mapped(datasets: Path) -> dict[str, pa.Table]:
    """The first batch of every table that has a suite, mapped by its spec."""
    url = f"sqlite:///{datasets / 'chinook' / 'Chinook_Sqlite.sqlite'}"
    source = SqlSource("chinook", SqlOptions.model_validate({"url": url}))
    out = {}
    for spec in load_specs(PROJECT / "mappings" / "specs"):
        if spec.suites:
            batch = next(iter(source.read_batches(spec.source.stream, BATCH)))
            result = compile_spec(spec).apply(batch.data)
            assert result.rejects == []
            out[spec.target] = result.rows
    return out


@pytest.fixture(scope="module")
def runners() -> dict[str, SuiteRunner]:
    suites = load_suites(PROJECT / "validations" / "suites")
    specs = load_specs(PROJECT / "mappings" / "specs")
    return {s.target: SuiteRunner([suites[n] for n in s.suites]) for s in specs if s.suites}


def _validate(
    runners: dict[str, SuiteRunner],
    mapped: dict[str, pa.Table],
    table: str,
    column: str,
    change: Callable[[int, Any], Any],
) -> tuple[ValidationOutcome, pa.Table]:
    """Validate `table`'s batch with `change(i, value)` applied to every value of `column`."""
    rows = mapped[table]
    i = rows.column_names.index(column)
    values = [change(n, v) for n, v in enumerate(rows.column(column).to_pylist())]
    planted = rows.set_column(i, column, pa.array(values, rows.schema.field(column).type))
    return runners[table].validate(planted), planted


def test_chinook_rows_pass_every_suite(
    runners: dict[str, SuiteRunner], mapped: dict[str, pa.Table]
) -> None:
    assert sorted(runners) == ["customer", "employee", "invoice", "invoice_line", "track"]
    for table, runner in runners.items():
        outcome = runner.validate(mapped[table])
        assert (outcome.rejects, outcome.batch_failures) == ([], []), table
        if table == "customer":  # stanisław.wójcik@wp.pl: reported, loaded
            (warning,) = outcome.warnings
            assert "SMTPUTF8" in warning
            assert "'stanisław.wójcik@wp.pl'" in warning
        else:
            assert outcome.warnings == [], table


ROW_DEFECTS = [
    ("track", "track_id", None, "expect_column_values_to_not_be_null"),
    ("track", "milliseconds", 0, "expect_column_values_to_be_between"),
    ("track", "bytes", 0, "expect_column_values_to_be_between"),
    ("track", "unit_price", Decimal("-0.99"), "expect_column_values_to_be_between"),
    ("track", "unit_price", Decimal("199.00"), "expect_column_values_to_be_between"),
    ("track", "name", "", "expect_column_value_lengths_to_be_between"),
    ("invoice", "invoice_id", None, "expect_column_values_to_not_be_null"),
    ("invoice", "total", Decimal("-1.98"), "expect_column_values_to_be_between"),
    ("invoice", "invoice_date", dt.datetime(1999, 12, 31), "expect_column_values_to_be_between"),
    ("invoice_line", "quantity", 0, "expect_column_values_to_be_between"),
    ("invoice_line", "unit_price", Decimal("-0.99"), "expect_column_values_to_be_between"),
    ("customer", "customer_id", None, "expect_column_values_to_not_be_null"),
    ("customer", "email", "luisg@embraer", "expect_column_values_to_match_regex"),
    ("customer", "email", "luis g@embraer.com.br", "expect_column_values_to_match_regex"),
    ("employee", "employee_id", None, "expect_column_values_to_not_be_null"),
    ("employee", "birth_date", dt.datetime(1890, 1, 1), "expect_column_values_to_be_between"),
    (
        "employee",
        "hire_date",
        dt.datetime(1901, 1, 1),
        "expect_column_pair_values_a_to_be_greater_than_b",
    ),
]


@pytest.mark.parametrize(
    ("table", "column", "value", "rule"),
    ROW_DEFECTS,
    ids=[f"{t}.{c}={v}" for t, c, v, _ in ROW_DEFECTS],
)
def test_a_row_defect_quarantines_that_row_only(
    runners: dict[str, SuiteRunner],
    mapped: dict[str, pa.Table],
    table: str,
    column: str,
    value: Any,
    rule: str,
) -> None:
    bad = 3
    outcome, planted = _validate(
        runners, mapped, table, column, lambda n, v: value if n == bad else v
    )
    assert outcome.batch_failures == []
    assert {(r.row, r.rule) for r in outcome.rejects} == {
        (planted.column(ROW_INDEX)[bad].as_py(), rule)
    }


def test_prices_in_cents_fail_the_batch(
    runners: dict[str, SuiteRunner], mapped: dict[str, pa.Table]
) -> None:
    for table in ("track", "invoice_line"):
        # 0.99 -> 99.00 passes the row rule, 1.99 -> 199.00 does not; the mean catches both
        outcome, planted = _validate(runners, mapped, table, "unit_price", lambda n, v: v * 100)
        (failure,) = outcome.batch_failures
        assert "expect_column_mean_to_be_between on unit_price" in failure
        over = [i for i, v in enumerate(planted.column("unit_price").to_pylist()) if v > 100]
        assert sorted(r.row for r in outcome.rejects) == [
            planted.column(ROW_INDEX)[i].as_py() for i in over
        ]


def test_too_many_non_ascii_emails_fail_the_customer_batch(
    runners: dict[str, SuiteRunner], mapped: dict[str, pa.Table]
) -> None:
    def accented(n: int, email: str) -> str:  # 4 more, 5 of 59 in all: beyond mostly 0.95
        return f"é{email}" if n < 4 else email

    outcome, _ = _validate(runners, mapped, "customer", "email", accented)
    assert outcome.rejects == []
    (failure,) = outcome.batch_failures
    assert "5 of 59 rows" in failure
    assert "more than `mostly: 0.95` allows" in failure


def test_missing_billing_countries_fail_the_invoice_batch(
    runners: dict[str, SuiteRunner], mapped: dict[str, pa.Table]
) -> None:
    outcome, _ = _validate(
        runners, mapped, "invoice", "billing_country", lambda n, v: None if n < 10 else v
    )
    assert outcome.rejects == []
    (failure,) = outcome.batch_failures
    assert "billing_country" in failure


WARN_DEFECTS = [
    ("track", "composer", lambda n, v: None, "most tracks credit a composer"),
    ("customer", "support_rep_id", lambda n, v: None if n == 0 else v, "support rep"),
    ("employee", "email", lambda n, v: "andrew@gmail.com" if n == 0 else v, "company domain"),
    ("invoice_line", "track_id", lambda n, v: 2 if n == 1 else v, "once per invoice"),
]


@pytest.mark.parametrize(
    ("table", "column", "change", "words"),
    WARN_DEFECTS,
    ids=[f"{t}.{c}" for t, c, *_ in WARN_DEFECTS],
)
def test_a_warn_defect_is_reported_and_loads(
    runners: dict[str, SuiteRunner],
    mapped: dict[str, pa.Table],
    table: str,
    column: str,
    change: Callable[[int, Any], Any],
    words: str,
) -> None:
    outcome, _ = _validate(runners, mapped, table, column, change)
    assert (outcome.rejects, outcome.batch_failures) == ([], [])
    assert any(words in w for w in outcome.warnings), outcome.warnings
