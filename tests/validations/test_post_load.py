"""Suites on the loaded table (`applies_to: target`): GX's SQL engine on SQLite, PostgreSQL
and MariaDB, the gate they make after a table's load (exit code 3), and the suite rules
that only make sense before or after the load."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pyarrow as pa
import pytest
import sqlalchemy as sa

from ferryman.flows.ops.gates import GateStop, TableGates
from ferryman.flows.ops.post_load import SKIPPED_IN_DRY_RUN, check_after_load
from ferryman.flows.ops.report import RunSummary, TableSummary
from ferryman.flows.project.session import prepare
from ferryman.mappings.loader import SpecError
from ferryman.validations.gx_runner import SuiteRunner
from ferryman.validations.post_load import PostLoadRunner, TargetTable
from ferryman.validations.suites import SuiteSpec, load_suite
from tests.conftest import Database
from tests.helpers import cli
from tests.helpers.project import ProjectBuilder

from .test_custom import CODES
from .test_gx_runner import batch

SUITE = """\
name: orders_loaded
applies_to: target
expectations:
  - type: expect_table_row_count_to_be_between
    kwargs: {min_value: 1, max_value: 1000}
    severity: batch
  - type: expect_column_values_to_be_unique
    kwargs: {column: id}
    severity: batch
    description: order numbers are unique across all batches
  - type: expect_no_orphan_order
    severity: batch
  - type: expect_column_mean_to_be_between
    kwargs: {column: amount, max_value: 100}
    severity: warn
  - type: expect_column_values_to_not_be_null
    kwargs: {column: amount}
    applies_to: rows
"""


def suite_files(tmp_path: Path, text: str = SUITE) -> SuiteSpec:
    (tmp_path / "validations" / "expectations").mkdir(parents=True, exist_ok=True)
    (tmp_path / "validations" / "suites").mkdir(parents=True, exist_ok=True)
    (tmp_path / "validations" / "expectations" / "codes.py").write_text(CODES)
    path = tmp_path / "validations" / "suites" / "orders_loaded.yaml"
    path.write_text(text)
    return load_suite(path)


def tables(db: Database, orders: list[tuple[int, int, float]]) -> None:
    with db.engine.begin() as conn:
        conn.execute(sa.text("CREATE TABLE customers (id INTEGER PRIMARY KEY)"))
        conn.execute(sa.text("INSERT INTO customers (id) VALUES (1), (2)"))
        conn.execute(sa.text("CREATE TABLE orders (id INTEGER, customer_id INTEGER, amount FLOAT)"))
        for row in orders:
            conn.execute(
                sa.text("INSERT INTO orders VALUES (:i, :c, :a)"),
                dict(zip("ica", row, strict=True)),
            )


def test_passing_table(any_db: Database, tmp_path: Path) -> None:
    tables(any_db, [(1, 1, 10.0), (2, 2, 20.0), (3, 1, 30.0)])
    runner = PostLoadRunner([suite_files(tmp_path)])
    outcome = runner.validate(TargetTable(any_db.url, "orders"))
    assert (outcome.failures, outcome.warnings) == ([], [])
    assert outcome.passed
    assert [(o.type, o.success) for o in outcome.outcomes] == [
        ("expect_table_row_count_to_be_between", True),
        ("expect_column_values_to_be_unique", True),
        ("expect_no_orphan_order", True),
        ("expect_column_mean_to_be_between", True),
    ]  # the `applies_to: rows` one runs on the batches, not here
    assert outcome.outcomes[0].observed == "3"
    assert outcome.to_json()["passed"] is True


def test_failing_table(any_db: Database, tmp_path: Path) -> None:
    tables(any_db, [(1, 1, 10.0), (2, 9, 200.0), (2, 2, 300.0)])
    outcome = PostLoadRunner([suite_files(tmp_path)]).validate(TargetTable(any_db.url, "orders"))
    assert not outcome.passed
    unique, orphan = outcome.failures
    assert unique == (
        "suite 'orders_loaded': expect_column_values_to_be_unique on id (order numbers are"
        " unique across all batches): 2 of 3 rows (66.67%) occurs more than once in the"
        " batch; e.g. 2, 2"
    )
    assert orphan.startswith(
        "suite 'orders_loaded': expect_no_orphan_order (every order has its customer):"
        " its query returned 1 unexpected row(s); e.g. (id=2, customer_id=9, amount=200"
    )
    (warning,) = outcome.warnings
    assert warning.startswith(
        "suite 'orders_loaded': expect_column_mean_to_be_between on amount: observed"
    )


def test_a_schema_given_apart_from_the_url(postgres_db: Database, tmp_path: Path) -> None:
    """PostgreSQL: a target whose `schema:` option names the schema (not the URL)."""
    tables(postgres_db, [(1, 1, 10.0), (1, 2, 20.0)])
    base_url, options = postgres_db.url.split("?", 1)
    schema = options.rsplit("%3D", 1)[1]
    outcome = PostLoadRunner([suite_files(tmp_path)]).validate(
        TargetTable(base_url, "orders", schema=schema)
    )
    assert [f.split(":", 2)[1] for f in outcome.failures] == [
        " expect_column_values_to_be_unique on id (order numbers are unique across all batches)"
    ]


def test_a_table_that_cannot_be_read_fails_every_batch_expectation(
    sqlite_db: Database, tmp_path: Path
) -> None:
    outcome = PostLoadRunner([suite_files(tmp_path)]).validate(TargetTable(sqlite_db.url, "nope"))
    assert len(outcome.failures) == 3
    assert len(outcome.warnings) == 1
    assert all("could not run on table nope:" in f for f in outcome.failures)


def test_a_password_never_shows_in_a_failure(tmp_path: Path) -> None:
    url = "postgresql+psycopg://ferry:s3cr3t-pw@127.0.0.1:9/nowhere"
    outcome = PostLoadRunner([suite_files(tmp_path)]).validate(TargetTable(url, "orders"))
    assert outcome.failures
    assert all("s3cr3t-pw" not in f for f in outcome.failures + outcome.warnings)


def test_rows_and_target_expectations_run_at_their_own_stage(tmp_path: Path) -> None:
    suite = suite_files(tmp_path)
    rows = SuiteRunner([suite])
    outcome = rows.validate(batch(id=[1, 1], amount=pa.array([None, 5.0])))
    assert [o.type for o in outcome.outcomes] == ["expect_column_values_to_not_be_null"]
    assert [r.row for r in outcome.rejects] == [3]
    assert not PostLoadRunner([suite]).empty
    only_rows = SuiteSpec.model_validate(
        {
            "name": "r",
            "expectations": [
                {"type": "expect_column_values_to_be_unique", "kwargs": {"column": "id"}}
            ],
        }
    )
    assert PostLoadRunner([only_rows]).empty


def test_stage_rules_are_positioned_errors(tmp_path: Path) -> None:
    text = """\
    name: orders_loaded
    applies_to: targets
    expectations:
      - type: expect_column_values_to_be_unique
        kwargs: {column: id}
        applies_to: target
      - type: expect_table_row_count_to_be_between
        kwargs: {min_value: 1}
        severity: batch
        applies_to: row
    """
    with pytest.raises(SpecError) as caught:
        suite_files(tmp_path, textwrap.dedent(text))
    suite_stage, row_after_load, expectation_stage = caught.value.issues
    assert (suite_stage.line, suite_stage.path) == (2, "applies_to")
    assert suite_stage.message == (
        "expected one of rows, target, got 'targets'. Did you mean 'target'?"
    )
    assert (row_after_load.line, row_after_load.path) == (4, "expectations[0].severity")
    assert row_after_load.message.startswith(
        "severity 'row' (the default) quarantines failing rows before they load, but this"
        " expectation runs after the load (`applies_to: target`)"
    )
    assert "use `severity: batch` (a failure stops the run, exit code 3)" in row_after_load.message
    assert (expectation_stage.line, expectation_stage.path) == (10, "expectations[1].applies_to")
    assert expectation_stage.message.endswith("got 'row'. Did you mean 'rows'?")


# --- the gate after a table's load -------------------------------------------------------

SPEC = """\
target: orders
source: {connection: legacy, table: SRC}
key: [id]
mode: insert
fields:
  id: {from: ID, type: integer}
  customer_id: {from: CUST, type: integer}
  amount: {from: AMT, type: "decimal(10,2)"}
suites: [orders_loaded]
"""


def gate_project(
    build: ProjectBuilder, db: Database, rows: list[tuple[int, int, str]], extra: str = ""
) -> Path:
    """A project loading SRC into `orders`, in batches of 2, with the suite above."""
    legacy = {"SRC": ("ID INTEGER, CUST INTEGER, AMT TEXT", rows)}
    project = build(
        db, {"orders": SPEC}, legacy=legacy, name="post_load", batch_size=2, settings=extra
    )
    suite_files(project)
    with db.engine.begin() as conn:
        conn.execute(sa.text("CREATE TABLE customers (id INTEGER PRIMARY KEY)"))
        conn.execute(sa.text("INSERT INTO customers (id) VALUES (1), (2)"))
    return project


def _load_directly(db: Database, rows: list[tuple[int, int, str]]) -> None:
    with db.engine.begin() as conn:
        for i, c, a in rows:
            conn.execute(
                sa.text("INSERT INTO orders VALUES (:i, :c, :a)"), {"i": i, "c": c, "a": a}
            )


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_check_after_load_passes_and_fails_the_gate(
    backend: str, request: pytest.FixtureRequest, project_builder: ProjectBuilder
) -> None:
    db: Database = request.getfixturevalue(f"{backend}_db")
    rows = [(1, 1, "10.00"), (2, 2, "20.00"), (3, 1, "30.00")]
    prepared = prepare(gate_project(project_builder, db, rows))
    try:
        (job,) = prepared.jobs
        _load_directly(db, rows)  # as the batches would have
        summary = RunSummary("r1", "post_load", "target")
        table = TableSummary("orders", "SRC")
        outcome = check_after_load(prepared, job, table, summary, TableGates())
        assert outcome is not None
        assert outcome.passed
        (gate,) = summary.gates
        assert (gate.gate, gate.passed) == ("post_load_expectation", True)
        assert gate.message == "orders: 4 expectation(s) on the loaded table passed"
        assert table.to_json()["post_load"]["passed"] is True

        _load_directly(db, [(4, 7, "500.00")])  # an orphan, and the mean goes over 100
        summary = RunSummary("r1", "post_load", "target")
        with pytest.raises(GateStop) as stop:
            check_after_load(prepared, job, table, summary, TableGates(on_gate_failure="rollback"))
        assert stop.value.action == "rollback"
        (gate,) = summary.gates
        assert not gate.passed
        assert gate.message.startswith(
            "orders: expectation failed after load: suite 'orders_loaded':"
            " expect_no_orphan_order (every order has its customer): its query returned 1"
            " unexpected row(s); e.g. (id=4, customer_id=7, amount="
        )
        assert table.post_load["failures"] == [gate.figure]
        (warning,) = table.warnings
        assert warning.startswith(
            "suite 'orders_loaded': expect_column_mean_to_be_between on amount: observed 140"
        )
    finally:
        prepared.close()


def test_a_dry_run_skips_the_check_and_says_so(
    sqlite_db: Database, project_builder: ProjectBuilder
) -> None:
    prepared = prepare(gate_project(project_builder, sqlite_db, [(1, 1, "1.00")]), pin=True)
    try:
        (job,) = prepared.jobs
        table = TableSummary("orders", "SRC")
        summary = RunSummary("r1", "post_load", "target")
        assert check_after_load(prepared, job, table, summary, TableGates()) is None
        assert table.post_load == {"skipped": SKIPPED_IN_DRY_RUN}
        assert summary.gates == []
    finally:
        prepared.close()


@pytest.mark.slow
@pytest.mark.parametrize(("backend", "action"), [("sqlite", "halt"), ("postgres", "rollback")])
def test_a_failing_batch_expectation_after_load_stops_the_run_with_exit_code_3(
    backend: str, action: str, request: pytest.FixtureRequest, project_builder: ProjectBuilder
) -> None:
    db: Database = request.getfixturevalue(f"{backend}_db")
    rows = [(1, 1, "10.00"), (2, 2, "20.00"), (3, 9, "30.00")]  # order 3: no customer 9
    project = gate_project(project_builder, db, rows, f"gates: {{on_gate_failure: {action}}}\n")
    res = cli.ferryman(["run", "--project", str(project), "--json"], project, timeout=600)
    assert res.returncode == 3, res.stderr[-3000:]
    summary = json.loads(res.stdout)
    assert summary["state"] == "stopped_by_gate"
    (failed,) = summary["failed_gates"]
    assert failed.startswith(
        "orders: expectation failed after load: suite 'orders_loaded': expect_no_orphan_order"
        " (every order has its customer): its query returned 1 unexpected row(s); e.g. (id=3,"
    )
    orders = summary["tables"]["orders"]
    assert (orders["read"], orders["loaded"], orders["quarantined"]) == (3, 3, 0)
    assert orders["post_load"]["passed"] is False
    if action == "halt":
        with db.engine.connect() as conn:
            ids = sorted(conn.execute(sa.text("SELECT id FROM orders")).scalars())
        assert ids == [1, 2, 3]  # left for inspection
    else:
        assert summary["gate_action"].startswith("rolled back automatically")
        assert not sa.inspect(db.engine).has_table("orders")  # the run created it
