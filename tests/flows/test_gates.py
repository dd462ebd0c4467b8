"""Gates: the quarantined share (passing and failing), `batch` expectations, and what
`on_gate_failure` does with what was loaded (halt keeps it, rollback undoes it)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from ferryman.flows.ops.run import RunFailed
from ferryman.flows.prefect_flows import migrate, resume
from ferryman.flows.project.session import UsageError
from tests.conftest import Database
from tests.flows.gate_project import make_project

pytestmark = pytest.mark.usefixtures("prefect_harness")

SUITE = """
name: items
expectations:
  - type: expect_column_max_to_be_between
    kwargs: {column: amount, max_value: 5}
    severity: batch
"""


def _ids(db: Database) -> list[int] | None:
    if not sa.inspect(db.engine).has_table("items"):
        return None
    with db.engine.connect() as conn:
        return list(conn.execute(sa.text("SELECT item_id FROM items ORDER BY 1")).scalars())


def _run_state(db: Database, run_id: str) -> str:
    with db.engine.connect() as conn:
        q = sa.text("SELECT state FROM ferryman_runs WHERE run_id = :r")
        return str(conn.execute(q, {"r": run_id}).scalar_one())


def _stopped(project: Path) -> dict[str, Any]:
    with pytest.raises(RunFailed) as info:
        migrate(str(project))
    summary = info.value.summary.to_json()
    assert summary["state"] == "stopped_by_gate"
    return summary


def test_share_under_the_threshold_passes_and_is_reported(
    sqlite_db: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = make_project(
        tmp_path, sqlite_db, monkeypatch, "gates:\n  max_quarantined_share: 0.125\n"
    )
    summary = migrate(str(project))
    assert summary["state"] == "succeeded"
    share = [g for g in summary["gates"] if g["gate"] == "max_quarantined_share"]
    assert share[0]["passed"] is True
    assert share[0]["message"] == (
        "items: quarantined 12.5% (1 of 8) <= max_quarantined_share 12.5%"
    )
    assert summary["reconciliation"]["items"]["drift"] == []
    assert summary["failed_gates"] == []


def test_share_over_the_threshold_halts_and_keeps_the_rows(
    any_db: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = make_project(
        tmp_path, any_db, monkeypatch, "gates:\n  max_quarantined_share: 0.005\n"
    )
    summary = _stopped(project)
    assert summary["failed_gates"] == [
        "items: quarantined 12.5% (1 of 8) > max_quarantined_share 0.5%"
    ]
    assert summary["on_gate_failure"] == "halt"
    assert summary["gate_action"] is None
    assert _ids(any_db) == [1, 2, 3, 4, 5, 6, 7]  # left for inspection
    run_id = summary["run_id"]
    assert _run_state(any_db, run_id) == "stopped_by_gate"
    report = Path(summary["report"]).read_text(encoding="utf-8")
    assert "<td>max_quarantined_share</td><td>FAIL</td>" in report
    with pytest.raises(UsageError, match="stopped by a quality gate"):
        resume(run_id, str(project))
    with pytest.raises(RunFailed):  # --force checks the gate again: still failing
        resume(run_id, str(project), force=True)
    ferryman_yaml = project / "ferryman.yaml"
    ferryman_yaml.write_text(ferryman_yaml.read_text().replace("0.005", "0.2"))
    assert resume(run_id, str(project), force=True)["state"] == "succeeded"


def test_spec_gate_overrides_the_project_and_rolls_back(
    sqlite_db: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = make_project(
        tmp_path,
        sqlite_db,
        monkeypatch,
        "gates:\n  max_quarantined_share: 0.5\n",
        "gates: {max_quarantined_share: 0.1, on_gate_failure: rollback}",
    )
    summary = _stopped(project)
    assert summary["failed_gates"] == [
        "items: quarantined 12.5% (1 of 8) > max_quarantined_share 10%"
    ]
    assert summary["gate_action"].startswith("rolled back automatically: every table")
    assert _ids(sqlite_db) is None  # the run created the table: dropped again
    assert _run_state(sqlite_db, summary["run_id"]) == "rolled_back"


@pytest.mark.parametrize("action", ["halt", "rollback"])
def test_a_failing_batch_expectation_is_a_gate(
    sqlite_db: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, action: str
) -> None:
    project = make_project(
        tmp_path,
        sqlite_db,
        monkeypatch,
        f"gates:\n  on_gate_failure: {action}\n",
        suite=SUITE,
    )
    summary = _stopped(project)
    (failed,) = summary["failed_gates"]
    assert failed.startswith("items batch 1: batch expectation failed")
    assert "expect_column_max_to_be_between" in failed
    # batch 0 (amounts up to 3.30) passed and was committed before batch 1 failed
    assert _ids(sqlite_db) == ([1, 2, 3] if action == "halt" else None)


def test_a_passing_batch_expectation_lets_the_run_through(
    sqlite_db: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    suite = SUITE.replace("max_value: 5", "max_value: 100")
    project = make_project(tmp_path, sqlite_db, monkeypatch, suite=suite)
    assert migrate(str(project))["state"] == "succeeded"
    assert _ids(sqlite_db) == [1, 2, 3, 4, 5, 6, 7]
