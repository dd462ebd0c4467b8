"""A table that references itself (employees.reports_to): parents loaded in the same batch
count, and a row whose parent is held back is held back too."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
import sqlalchemy as sa

from ferryman.flows.prefect_flows import migrate
from tests.conftest import Database

pytestmark = pytest.mark.usefixtures("prefect_harness")

SPEC = """
target: employees
source: {connection: legacy, table: EMP}
key: [employee_id]
foreign_keys:
  - columns: [reports_to]
    references: employees(employee_id)
fields:
  employee_id: {from: ID, type: integer}
  reports_to: {from: BOSS, type: integer}
"""


def test_parents_in_the_same_batch_count_and_orphans_cascade(
    sqlite_db: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = tmp_path / "project"
    (project / "mappings" / "specs").mkdir(parents=True)
    legacy = tmp_path / "legacy.db"
    with sqlite3.connect(legacy) as conn:
        conn.execute("CREATE TABLE EMP (ID INTEGER, BOSS INTEGER)")
        conn.executemany(
            "INSERT INTO EMP VALUES (?, ?)", [(3, 2), (1, None), (2, 1), (5, 4), (4, 99)]
        )
    (project / "ferryman.yaml").write_text(
        f"name: emp\nconnections:\n  legacy:\n    kind: sql\n    url: sqlite:///{legacy}\n"
        "  target:\n    kind: sql\n    url: ${T_URL}\n"
    )
    (project / "mappings" / "specs" / "employees.yaml").write_text(SPEC)
    monkeypatch.setenv("T_URL", sqlite_db.url)
    summary = migrate(str(project))
    t = summary["tables"]["employees"]
    assert (t["read"], t["loaded"], t["quarantined"]) == (5, 3, 2)
    with sqlite_db.engine.connect() as conn:
        ids = conn.execute(sa.text("SELECT employee_id FROM employees ORDER BY 1")).scalars().all()
        reasons = (
            conn.execute(sa.text("SELECT raw_value FROM ferryman_quarantine ORDER BY raw_value"))
            .scalars()
            .all()
        )
    assert ids == [1, 2, 3]
    assert reasons == ["reports_to=4", "reports_to=99"]
