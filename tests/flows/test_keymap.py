"""Surrogate keys: the same legacy key gets the same new key in every run, a batch that
does not commit leaves no assignment, and rolling a run back removes the ones it made (a
rerun then gets the same keys again)."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa

import ferryman.flows.batch.load
from ferryman.flows.ops.run import RunFailed
from ferryman.flows.prefect_flows import migrate, resume, rollback
from tests.conftest import Database
from tests.flows.lookup_project import REGION_ROWS, REGIONS, make_project, write_legacy

pytestmark = pytest.mark.usefixtures("prefect_harness")


def _keys(db: Database) -> dict[str, int]:
    with db.engine.connect() as conn:
        return dict(conn.execute(sa.text("SELECT code, region_id FROM regions")).all())


def _keymap(db: Database) -> list[tuple[str, int, str]]:
    with db.engine.connect() as conn:
        rows = conn.execute(
            sa.text("SELECT legacy_key, new_key, run_id FROM ferryman_keymap ORDER BY new_key")
        ).all()
    return [tuple(r) for r in rows]


def test_keys_are_stable_across_runs_and_a_rollback_removes_its_assignments(
    any_db: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = make_project(tmp_path, any_db, monkeypatch, {"regions": REGIONS})
    first = migrate(str(project))
    keys = _keys(any_db)
    assert keys == {"N": 1, "S": 2, "E": 3, "W": 4}
    assert {r[2] for r in _keymap(any_db)} == {first["run_id"]}
    # A later run with one more legacy row: the known ones keep their key, the new one
    # gets the next free key.
    write_legacy(tmp_path / "legacy.db", [("C", "Centre"), *REGION_ROWS])
    second = migrate(str(project))
    assert second["tables"]["regions"]["unchanged"] == 4
    assert _keys(any_db) == {**keys, "C": 5}
    assert [(k, n) for k, n, r in _keymap(any_db) if r == second["run_id"]] == [("C", 5)]
    # Rolling back the second run removes only its assignment; the first run's stay.
    assert rollback(second["run_id"], str(project))["verified"] is True
    assert [r[:2] for r in _keymap(any_db)] == sorted(keys.items(), key=lambda kv: kv[1])
    # Rolling back the first too leaves no assignment, and a rerun gets the same keys.
    assert rollback(first["run_id"], str(project))["verified"] is True
    assert _keymap(any_db) == []
    write_legacy(tmp_path / "legacy.db", REGION_ROWS)
    migrate(str(project))
    assert _keys(any_db) == keys


def test_a_batch_that_fails_leaves_no_assignment_and_the_resume_gets_the_same_keys(
    any_db: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = make_project(tmp_path, any_db, monkeypatch, {"regions": REGIONS})

    def fail_second_batch(point: str, table: str, batch_no: int) -> None:
        if point == "before_commit" and batch_no == 1:
            raise RuntimeError("injected failure before the commit of batch 1")

    monkeypatch.setattr(ferryman.flows.batch.load, "fault_point", fail_second_batch)
    with pytest.raises(RunFailed) as err:
        migrate(str(project))
    run_id = err.value.summary.run_id
    assert [r[:2] for r in _keymap(any_db)] == [("N", 1), ("S", 2)]  # batch 0 only
    monkeypatch.undo()
    monkeypatch.setenv("T_URL", any_db.url)
    resume(run_id, str(project))
    assert _keys(any_db) == {"N": 1, "S": 2, "E": 3, "W": 4}
    assert {r[2] for r in _keymap(any_db)} == {run_id}
