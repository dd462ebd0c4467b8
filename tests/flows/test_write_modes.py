"""Write modes, journal and rollback on SQLite, PostgreSQL and MariaDB: after rolling back,
every touched table's fingerprint equals the one recorded when the run started."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from ferryman.flows.ledger.checkpoint import table_fingerprint
from ferryman.flows.ops.rollback import RollbackConflict
from ferryman.flows.prefect_flows import migrate, resume, rollback
from ferryman.flows.project.session import UsageError, open_session
from tests.conftest import Database
from tests.flows import harness
from tests.flows.gate_project import make_project

pytestmark = pytest.mark.usefixtures("prefect_harness")


def _project(
    tmp_path: Path,
    db: Database,
    mode: str,
    rows: list[tuple[Any, ...]],
    monkeypatch: pytest.MonkeyPatch,
) -> Path:
    return make_project(tmp_path, db, monkeypatch, mode=mode, rows=rows)


def _preload(db: Database, rows: list[tuple[int, str, str]]) -> None:
    with db.engine.begin() as conn:
        conn.execute(
            sa.text(
                "CREATE TABLE items (item_id INTEGER PRIMARY KEY, name VARCHAR(40),"
                " amount NUMERIC(10,2))"
            )
        )
        conn.execute(
            sa.text("INSERT INTO items VALUES (:i, :n, :a)"),
            [{"i": i, "n": n, "a": a} for i, n, a in rows],
        )


def _fingerprint(project: Path) -> tuple[int, int]:
    session = open_session(project)
    try:
        fp = table_fingerprint(session.target, "items")
    finally:
        session.close()
    return fp.rows, fp.digest


SOURCE = [
    (1, " one ", "1.10"),
    (2, "two", "2.20"),
    (3, "three", "3.30"),
    (4, "four", "4.40"),
    (5, "five", "5.50"),
    (6, "six", "6.60"),
    (7, "seven", "7.70"),
]
EXISTING = [(2, "two", "2.20"), (3, "OLD three", "9.99"), (100, "kept", "1.00")]


def test_insert_then_rollback_restores_the_table(
    any_db: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = _project(tmp_path, any_db, "insert", SOURCE, monkeypatch)
    _preload(any_db, [(100, "kept", "1.00")])
    before = _fingerprint(project)
    summary = migrate(str(project))
    t = summary["tables"]["items"]
    assert (t["read"], t["inserted"], t["batches"]) == (7, 7, 3)
    assert harness.table_rows(any_db.engine, "items") is not None
    result = rollback(summary["run_id"], str(project))
    assert result["verified"] is True
    assert _fingerprint(project) == before
    assert len(harness.table_rows(any_db.engine, "items") or {}) == 1


def test_upsert_updates_inserts_and_a_rerun_changes_nothing(
    any_db: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = _project(tmp_path, any_db, "upsert", SOURCE, monkeypatch)
    _preload(any_db, EXISTING)
    original = _fingerprint(project)
    first = migrate(str(project))
    t = first["tables"]["items"]
    assert (t["inserted"], t["updated"], t["unchanged"]) == (5, 1, 1)  # 3 changed, 2 same
    with any_db.engine.connect() as conn:
        assert conn.execute(sa.text("SELECT name FROM items WHERE item_id = 3")).scalar() == "three"
        assert conn.execute(sa.text("SELECT COUNT(*) FROM items")).scalar() == 8
    after_first = _fingerprint(project)
    second = migrate(str(project))
    t2 = second["tables"]["items"]
    assert (t2["inserted"], t2["updated"], t2["unchanged"]) == (0, 0, 7)
    assert _fingerprint(project) == after_first
    # the first run cannot be rolled back while the second stands on it
    with pytest.raises(UsageError, match="later runs changed the same tables"):
        rollback(first["run_id"], str(project))
    rollback(second["run_id"], str(project))
    assert rollback(first["run_id"], str(project))["verified"] is True
    assert _fingerprint(project) == original


def test_replace_holds_exactly_the_run_rows_and_rolls_back_to_the_old_ones(
    any_db: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = _project(tmp_path, any_db, "replace", SOURCE, monkeypatch)
    _preload(any_db, EXISTING)
    original = _fingerprint(project)
    summary = migrate(str(project))
    with any_db.engine.connect() as conn:
        ids = conn.execute(sa.text("SELECT item_id FROM items ORDER BY item_id")).scalars().all()
    assert ids == [1, 2, 3, 4, 5, 6, 7]
    result = rollback(summary["run_id"], str(project))
    assert result["tables"]["items"]["snapshot_restored"] == 3
    assert _fingerprint(project) == original


def test_rollback_to_batch_keeps_the_earlier_batches(
    any_db: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = _project(tmp_path, any_db, "insert", SOURCE, monkeypatch)
    summary = migrate(str(project))
    result = rollback(summary["run_id"], str(project), to_batch=0)
    assert result["state"] == "partially_rolled_back"
    with any_db.engine.connect() as conn:
        ids = conn.execute(sa.text("SELECT item_id FROM items ORDER BY item_id")).scalars().all()
    assert ids == [1, 2, 3]  # batch 0 held the first three rows
    assert rollback(summary["run_id"], str(project))["verified"] is True


def test_rollback_refuses_rows_changed_since_the_run_unless_forced(
    any_db: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = _project(tmp_path, any_db, "insert", SOURCE, monkeypatch)
    summary = migrate(str(project))
    with any_db.engine.begin() as conn:
        conn.execute(sa.text("UPDATE items SET name = 'edited by hand' WHERE item_id = 5"))
    changed = harness.table_rows(any_db.engine, "items")
    with pytest.raises(RollbackConflict, match=r"item_id=5: changed since the run"):
        rollback(summary["run_id"], str(project))
    assert harness.table_rows(any_db.engine, "items") == changed  # nothing was touched
    assert rollback(summary["run_id"], str(project), force=True)["verified"] is True


def test_resume_refuses_changed_specs_and_unknown_runs(
    sqlite_db: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = _project(tmp_path, sqlite_db, "insert", SOURCE, monkeypatch)
    with pytest.raises(UsageError, match="no run 'nope'"):
        resume("nope", str(project))
    with pytest.raises(UsageError, match="no run 'nope'"):
        rollback("nope", str(project))
    summary = migrate(str(project))
    with pytest.raises(UsageError, match="already succeeded"):
        resume(summary["run_id"], str(project))
    with sqlite_db.engine.begin() as conn:  # as if the run had died
        conn.execute(sa.text("UPDATE ferryman_runs SET state = 'failed'"))
    spec = project / "mappings" / "specs" / "items.yaml"
    # a change that still fits the table (a longer string(41) would be refused: too short)
    spec.write_text(spec.read_text().replace("string(40)", "string(39)"))
    with pytest.raises(UsageError, match="specs or suites changed"):
        resume(summary["run_id"], str(project))
    assert resume(summary["run_id"], str(project), force=True)["state"] == "succeeded"
    rollback(summary["run_id"], str(project))
    with pytest.raises(UsageError, match="already rolled back"):
        rollback(summary["run_id"], str(project))
