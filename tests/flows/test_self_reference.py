"""A table that references itself (employees.reports_to): parents loaded in the same batch
count, and a row whose parent is held back is held back too."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from ferryman.flows.prefect_flows import migrate
from tests.conftest import Database
from tests.helpers.project import ProjectBuilder

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
    sqlite_db: Database, project_builder: ProjectBuilder
) -> None:
    rows = [(3, 2), (1, None), (2, 1), (5, 4), (4, 99)]
    project = project_builder(
        sqlite_db, {"employees": SPEC}, legacy={"EMP": ("ID INTEGER, BOSS INTEGER", rows)}
    )
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
