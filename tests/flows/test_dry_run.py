"""Dry run (`ferryman plan`) on SQLite, PostgreSQL and MariaDB: its counts are exactly what
the real run then does, the target (every table, the control tables, the sequence
counters) is the same before and after, and a dry run killed with SIGKILL leaves the
target unchanged, which the next command verifies and `ferryman status` shows.

The before/after comparison here reads every row with plain SQL (tests/flows/harness.py),
independently of the fingerprints the dry run itself uses."""

from __future__ import annotations

import json
import sqlite3
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from ferryman.connectors.sql.dialects import dialect_for
from ferryman.flows.dryrun.target_state import HISTORY_TABLE
from ferryman.flows.prefect_flows import dry_run, migrate
from tests.conftest import Database
from tests.flows import harness
from tests.flows.gate_project import SOURCE, make_project
from tests.helpers import cli

pytestmark = pytest.mark.usefixtures("prefect_harness")

COUNTS = ("read", "quarantined", "filtered")
WRITES = {"would_insert": "inserted", "would_update": "updated", "unchanged": "unchanged"}


def _snapshot(db: Database) -> dict[str, Any]:
    """Every table of the test's schema row by row, and the counters; the dry-run history
    is the one table a dry run may write."""
    with db.engine.connect() as conn:
        names = sorted(sa.inspect(conn).get_table_names())
        counters = dialect_for(db.engine.dialect.name).read_counters(conn)
    rows: dict[str, Counter[tuple[Any, ...]] | None] = {
        t: harness.table_rows(db.engine, t) for t in names if t != HISTORY_TABLE
    }
    return {"tables": rows, "counters": counters}


def _assert_same_as_real(plan: dict[str, Any], real: dict[str, Any]) -> None:
    assert plan["tables"].keys() == real["tables"].keys()
    for name, p in plan["tables"].items():
        r = real["tables"][name]
        assert p["balanced"]
        assert r["balanced"]
        assert [p[c] for c in COUNTS] == [r[c] for c in COUNTS], name
        assert {k: p[k] for k in WRITES} == {k: r[v] for k, v in WRITES.items()}, name


def _rewrite_source(tmp_path: Path, rows: list[tuple[Any, ...]]) -> None:
    with sqlite3.connect(tmp_path / "legacy.db") as conn:
        conn.execute("DELETE FROM SRC")
        conn.executemany("INSERT INTO SRC VALUES (?, ?, ?)", rows)


def test_dry_run_over_an_empty_target_matches_the_real_run(
    any_db: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = make_project(tmp_path, any_db, monkeypatch)
    before = _snapshot(any_db)
    plan = dry_run(str(project))
    assert plan["state"] == "planned"
    assert plan["target_unchanged"] is True, plan["differences"]
    assert _snapshot(any_db) == before  # no items table, no control tables
    items = plan["tables"]["items"]
    assert (items["read"], items["would_insert"], items["quarantined"]) == (8, 7, 1)
    assert (
        items["quarantine_rules"] == {"parse_number": 1}
        or sum(items["quarantine_rules"].values()) == 1
    )
    assert any(s.startswith("CREATE TABLE items") for s in plan["ddl"])
    assert "ferryman_runs" in plan["control_tables_created"]
    real = migrate(str(project))
    _assert_same_as_real(plan, real)


def test_dry_run_over_a_loaded_target_reports_updates_and_touches_nothing(
    any_db: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = make_project(tmp_path, any_db, monkeypatch, mode="upsert")
    migrate(str(project))  # quarantines row 8: the quarantine counter has moved once
    changed = [(3, "THREE", "3.30"), (5, "five", "55.00"), (9, "nine", "9.90")]
    keep = [r for r in SOURCE if r[0] not in (3, 5)]
    _rewrite_source(tmp_path, keep + changed)
    before = _snapshot(any_db)
    plan = dry_run(str(project))
    assert plan["target_unchanged"] is True, plan["differences"]
    assert _snapshot(any_db) == before  # rows, control tables and counters
    items = plan["tables"]["items"]
    assert (items["would_insert"], items["would_update"], items["unchanged"]) == (1, 2, 5)
    assert items["quarantined"] == 1
    assert plan["ddl"] == []
    assert plan["control_tables_created"] == []
    samples = {s["key"]["item_id"]: s["changes"] for s in items["update_samples"]}
    assert samples[3] == {"name": ["three", "THREE"]}
    assert list(samples[5]) == ["amount"]
    if any_db.backend != "sqlite":
        # The quarantined row took an id from a counter no rollback restores: put back.
        assert plan["counters_moved"], "the quarantine id counter should have moved"
        assert plan["counters_not_restored"] == []
    real = migrate(str(project))
    _assert_same_as_real(plan, real)


def test_dry_run_of_a_replace_counts_the_rows_that_would_go(
    any_db: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = make_project(tmp_path, any_db, monkeypatch, mode="replace")
    migrate(str(project))
    # Row 2 leaves the source, row 10 arrives.
    _rewrite_source(tmp_path, [r for r in SOURCE if r[0] != 2] + [(10, "ten", "10.00")])
    before = _snapshot(any_db)
    plan = dry_run(str(project))
    assert plan["target_unchanged"] is True, plan["differences"]
    assert _snapshot(any_db) == before
    items = plan["tables"]["items"]
    assert items["replaced"] == 7  # what the table holds now, deleted first
    assert items["would_delete"] == 1  # of those keys, only 2 is not in the new data
    assert items["would_insert"] == 7
    assert items["quarantined"] == 1
    real = migrate(str(project))
    _assert_same_as_real(plan, real)


def test_demo_dry_run_matches_the_real_run(
    any_db: Database,
    small_legacy: tuple[Path, dict[str, Any]],
    tmp_path: Path,
    prefect_harness: str,
) -> None:
    """Four tables with foreign keys between them: children see the parents the dry run
    loaded earlier in its own transaction (on MariaDB, in its temporary shadow tables)."""
    from tests.flows.conftest import copy_demo_project

    legacy_dir, _ = small_legacy
    project = copy_demo_project(tmp_path / "demo")
    env = cli.demo_env(legacy_dir, any_db.url, prefect_harness)
    before = _snapshot(any_db)
    planned = cli.ferryman(["plan", "--json"], project, env)
    assert planned.returncode == 0, planned.stderr[-3000:]
    plan = json.loads(planned.stdout)
    assert plan["target_unchanged"] is True
    assert _snapshot(any_db) == before
    ran = cli.ferryman(["run", "--json"], project, env)
    assert ran.returncode == 0, ran.stderr[-3000:]
    _assert_same_as_real(plan, json.loads(ran.stdout))


def test_a_killed_dry_run_leaves_the_target_unchanged_and_status_says_so(
    any_db: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, prefect_harness: str
) -> None:
    project = make_project(tmp_path, any_db, monkeypatch, mode="upsert")
    migrate(str(project))
    _rewrite_source(tmp_path, [(i, n.upper(), a) for i, n, a in SOURCE])
    before = _snapshot(any_db)
    # Batch 2 holds row 8, quarantined: the quarantine counter moves before the kill.
    killed = cli.ferryman(["plan"], project, cli.child_env(prefect_harness, "after_commit:items:2"))
    assert killed.returncode == -9, killed.stderr[-3000:]
    status = cli.ferryman(["status", "--json"], project, cli.child_env(prefect_harness))
    assert status.returncode == 0, status.stderr[-3000:]
    (entry,) = json.loads(status.stdout)["dry_runs"]
    assert entry["state"] == "interrupted"
    assert "verified unchanged" in entry["outcome"], entry["outcome"]
    assert _snapshot(any_db) == before  # rows, control tables, and counters put back


def test_plan_command_no_history_and_a_failing_gate(
    sqlite_db: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, prefect_harness: str
) -> None:
    gates = "gates:\n  max_quarantined_share: 0.05\n"
    project = make_project(tmp_path, sqlite_db, monkeypatch, project_gates=gates)
    planned = cli.ferryman(
        ["run", "--dry-run", "--no-history"], project, cli.child_env(prefect_harness)
    )
    assert planned.returncode == 3, planned.stderr[-3000:]
    assert "gate would fail" in planned.stdout
    assert "max_quarantined_share" in planned.stdout
    assert "Target unchanged" in planned.stdout
    with sqlite_db.engine.connect() as conn:
        assert sa.inspect(conn).get_table_names() == []  # not even the history
