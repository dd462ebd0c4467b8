"""One target fed from several sources in sequence (`more_sources`): every stream loads,
batches are numbered on across streams, a run killed inside the second stream resumes
there with no row lost or doubled, and a column a further stream lacks is a positioned
error at check."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from ferryman.flows.prefect_flows import migrate
from ferryman.flows.project.session import check_project
from ferryman.yaml_positions import SpecError
from tests.conftest import Database
from tests.flows import harness

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


def _project(tmp_path: Path, db: Database, spec: str = SPEC) -> Path:
    project = tmp_path / "project"
    (project / "mappings" / "specs").mkdir(parents=True)
    legacy = tmp_path / "legacy.db"
    with sqlite3.connect(legacy) as conn:
        conn.execute("CREATE TABLE OLD_CRM (ID INTEGER PRIMARY KEY, NAME TEXT)")
        conn.executemany(
            "INSERT INTO OLD_CRM VALUES (?, ?)", [(i, f" crm {i} ") for i in range(1, 8)]
        )
        conn.execute(
            "CREATE TABLE WEB_USERS (UID INTEGER PRIMARY KEY, FULLNAME TEXT, ACTIVE INTEGER)"
        )
        conn.executemany(
            "INSERT INTO WEB_USERS VALUES (?, ?, ?)",
            [(i, f"web {i}", 0 if i == 4 else 1) for i in range(1, 9)],
        )
    (project / "ferryman.yaml").write_text(
        "name: streams\nconnections:\n  legacy:\n    kind: sql\n"
        f"    url: sqlite:///{legacy}\n  target:\n    kind: sql\n    url: {db.url}\n"
        "defaults:\n  batch_size: 3\n"
    )
    (project / "mappings" / "specs" / "people.yaml").write_text(spec)
    return project


def test_every_stream_loads_into_the_one_table(any_db: Database, tmp_path: Path) -> None:
    summary = migrate(str(_project(tmp_path, any_db)))
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
    any_db: Database, tmp_path: Path, prefect_harness: str
) -> None:
    project = _project(tmp_path, any_db)
    env = {
        **harness.child_env(tmp_path, any_db.url, prefect_harness),
        "FERRYMAN_FAULT": "after_commit:people:4",  # batch 4: the second of WEB_USERS
    }
    killed = harness.ferryman(["run"], env, project)
    assert killed.returncode == -9, killed.stderr[-2000:]
    run_id = harness.only_run_id(any_db.engine)
    env.pop("FERRYMAN_FAULT")
    resumed = harness.ferryman(["resume", run_id, "--json"], env, project)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    rows = harness.table_rows(any_db.engine, "people")
    expected = sorted([*range(1, 8), *(1000 + i for i in range(1, 9) if i != 4)])
    assert rows is not None
    assert sorted(r[0] for r in rows.elements()) == expected  # none lost, none doubled
    t = json.loads(resumed.stdout)["tables"]["people"]
    assert (t["read"], t["loaded"], t["filtered"], t["batches"]) == (15, 14, 1, 6)


def test_a_column_a_further_stream_lacks_is_a_positioned_error(
    sqlite_db: Database, tmp_path: Path
) -> None:
    project = _project(tmp_path, sqlite_db, SPEC.replace("from: FULLNAME", "from: FULL_NAME"))
    with pytest.raises(SpecError) as err:
        check_project(project)
    (issue,) = err.value.issues
    assert issue.path == "more_sources[0].fields.name.from"
    assert "FULL_NAME" in issue.message
    assert "FULLNAME" in issue.message
    line = (project / "mappings" / "specs" / "people.yaml").read_text().splitlines()[issue.line - 1]
    assert "FULL_NAME" in line
