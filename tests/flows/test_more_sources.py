"""One target fed from several sources in sequence (`more_sources`): every stream loads,
batches are numbered on across streams, a run killed inside the second stream resumes
there with no row lost or doubled, and a column a further stream lacks is a positioned
error at check."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ferryman.flows.prefect_flows import migrate
from ferryman.flows.project.session import check_project
from ferryman.yaml_positions import SpecError
from tests.conftest import Database
from tests.flows import harness
from tests.helpers import cli
from tests.helpers.project import ProjectBuilder

pytestmark = pytest.mark.usefixtures("prefect_harness")

SPEC = """
target: people
source: {connection: legacy, table: OLD_CRM}
key: [person_id]
fields:
  person_id: {from: ID, type: integer}
  name: {from: NAME, transform: [trim], type: string(40)}
  origin: {value: crm, type: string(10)}
more_sources:
  - connection: legacy
    table: WEB_USERS
    fields:
      person_id: {expr: "UID + 1000", type: integer}
      name: {from: FULLNAME, transform: [trim], type: string(40)}
      origin: {value: web, type: string(10)}
    filter: "ACTIVE == 1"
"""


LEGACY = {
    "OLD_CRM": ("ID INTEGER PRIMARY KEY, NAME TEXT", [(i, f" crm {i} ") for i in range(1, 8)]),
    "WEB_USERS": (
        "UID INTEGER PRIMARY KEY, FULLNAME TEXT, ACTIVE INTEGER",
        [(i, f"web {i}", 0 if i == 4 else 1) for i in range(1, 9)],
    ),
}


def _project(build: ProjectBuilder, db: Database, spec: str = SPEC) -> Path:
    return build(db, {"people": spec}, legacy=LEGACY, name="streams", batch_size=3)


def test_every_stream_loads_into_the_one_table(
    any_db: Database, project_builder: ProjectBuilder
) -> None:
    summary = migrate(str(_project(project_builder, any_db)))
    t = summary["tables"]["people"]
    # 7 CRM rows (3 batches) then 8 web rows (3 batches), one of them inactive: filtered.
    assert (t["read"], t["loaded"], t["filtered"], t["batches"]) == (15, 14, 1, 6)
    assert t["balanced"]
    assert "OLD_CRM" in t["source"]
    assert "WEB_USERS" in t["source"]
    rows = harness.table_rows(any_db.engine, "people")
    assert rows is not None
    assert sorted(r[0] for r in rows) == [*range(1, 8), *(1000 + i for i in range(1, 9) if i != 4)]
    assert "crm" in {r[2] for r in rows}
    assert "web" in {r[2] for r in rows}
    assert (1, "crm 1", "crm") in rows
    assert (1005, "web 5", "web") in rows


def test_a_run_killed_in_the_second_stream_resumes_there(
    any_db: Database, project_builder: ProjectBuilder, prefect_harness: str
) -> None:
    project = _project(project_builder, any_db)
    fault = "after_commit:people:4"  # batch 4: the second of WEB_USERS
    killed = cli.ferryman(["run"], project, cli.child_env(prefect_harness, fault))
    assert killed.returncode == -9, killed.stderr[-2000:]
    run_id = harness.only_run_id(any_db.engine)
    resumed = cli.ferryman(["resume", run_id, "--json"], project, cli.child_env(prefect_harness))
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    rows = harness.table_rows(any_db.engine, "people")
    expected = sorted([*range(1, 8), *(1000 + i for i in range(1, 9) if i != 4)])
    assert rows is not None
    assert sorted(r[0] for r in rows.elements()) == expected  # none lost, none doubled
    t = json.loads(resumed.stdout)["tables"]["people"]
    assert (t["read"], t["loaded"], t["filtered"], t["batches"]) == (15, 14, 1, 6)


def test_a_column_a_further_stream_lacks_is_a_positioned_error(
    sqlite_db: Database, project_builder: ProjectBuilder
) -> None:
    spec = SPEC.replace("from: FULLNAME", "from: FULL_NAME")
    project = _project(project_builder, sqlite_db, spec)
    with pytest.raises(SpecError) as err:
        check_project(project)
    (issue,) = err.value.issues
    assert issue.path == "more_sources[0].fields.name.from"
    assert "FULL_NAME" in issue.message
    assert "FULLNAME" in issue.message
    line = (project / "mappings" / "specs" / "people.yaml").read_text().splitlines()[issue.line - 1]
    assert "FULL_NAME" in line
