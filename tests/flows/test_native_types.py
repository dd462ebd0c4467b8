"""time, uuid and json columns through real runs on SQLite, PostgreSQL and MariaDB: the
table is created with the engine's native types, a rerun of the same input changes
nothing (what is read back equals what was written), reconciliation finds no drift, and
rolling back an upsert that changed those columns restores exactly what the engine held."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from ferryman.flows.prefect_flows import migrate, rollback
from tests.conftest import Database
from tests.helpers.project import ProjectBuilder, write_legacy

pytestmark = pytest.mark.usefixtures("prefect_harness")

SPEC = """
target: things
source: {connection: legacy, table: SRC}
key: [item_id]
mode: upsert
fields:
  item_id: {from: ID, type: integer}
  uid: {from: U, type: uuid}
  at: {from: T, type: time}
  doc: {from: J, type: json}
"""

ROWS = [
    (1, "{A1B2C3D4-0000-4000-8000-00000000000A}", "14:05", '{"b": [1, 2.50], "a": "é"}'),
    (2, "a1b2c3d40000400080000000000000bb", "09:05:09.250001", '{"n": 1E+2, "z": -0.0}'),
    (3, "urn:uuid:c0ffee00-0000-4000-8000-0000000000cc", "23:59:59.999999", "[]"),
    (4, None, None, None),
]
CHANGED = [
    (1, "d0d0d0d0-0000-4000-8000-0000000000dd", "14:05", '{"b": [1, 2.50], "a": "é"}'),
    (2, "a1b2c3d40000400080000000000000bb", "09:05:09.250001", '{"n": 1E+2, "z": 3.25}'),
    (3, "urn:uuid:c0ffee00-0000-4000-8000-0000000000cc", "00:00", "[]"),
    (4, None, None, None),
    (5, "e0e0e0e0-0000-4000-8000-0000000000ee", "12:00:00.5", '"text"'),
]


def _project(build: ProjectBuilder, db: Database) -> Path:
    return build(db, {"things": SPEC}, name="types", batch_size=2)


def _source(build: ProjectBuilder, rows: list[tuple[Any, ...]]) -> None:
    write_legacy(build.legacy, {"SRC": ("ID INTEGER PRIMARY KEY, U TEXT, T TEXT, J TEXT", rows)})


def _stored(db: Database) -> list[tuple[Any, ...]]:
    """The table as the engine holds it, through the driver alone."""
    cols = "item_id, uid, at, doc"
    if db.backend == "postgres":
        cols = "item_id, CAST(uid AS TEXT), CAST(at AS TEXT), CAST(doc AS TEXT)"
    with db.engine.connect() as conn:
        return [tuple(r) for r in conn.execute(sa.text(f"SELECT {cols} FROM things ORDER BY 1"))]


def _counts(summary: dict[str, Any]) -> tuple[int, int, int, int]:
    t = summary["tables"]["things"]
    return t["read"], t["inserted"], t["updated"], t["unchanged"]


def test_native_types_rerun_and_rollback_of_an_upsert(
    any_db: Database,
    project_builder: ProjectBuilder,
    request: pytest.FixtureRequest,
) -> None:
    project = _project(project_builder, any_db)
    _source(project_builder, ROWS)
    first = migrate(str(project))
    assert first["state"] == "succeeded"  # reconciliation: no drift
    assert _counts(first) == (4, 4, 0, 0)
    loaded = _stored(any_db)
    assert loaded[0][0] == 1
    assert loaded[0][3] in ('{"a":"é","b":[1,2.50]}', '{"a": "é", "b": [1, 2.50]}')

    again = migrate(str(project))
    assert again["state"] == "succeeded"
    assert _counts(again) == (4, 0, 0, 4)  # read back == written: nothing to update
    assert _stored(any_db) == loaded

    _source(project_builder, CHANGED)
    changed = migrate(str(project))
    assert changed["state"] == "succeeded"
    assert _counts(changed) == (5, 1, 3, 1)
    assert _stored(any_db) != loaded

    result = rollback(changed["run_id"], str(project))
    assert result["verified"] is True
    assert _stored(any_db) == loaded


def test_rollback_restores_json_someone_else_spelt_their_way(
    any_db: Database,
    project_builder: ProjectBuilder,
    request: pytest.FixtureRequest,
) -> None:
    """A row changed outside ferryman after its load (JSON with spaces and trailing zeros)
    is updated by the next run; rolling that run back gives the engine its exact value."""
    project = _project(project_builder, any_db)
    _source(project_builder, ROWS)
    migrate(str(project))
    with any_db.engine.begin() as conn:
        conn.execute(
            sa.text("UPDATE things SET doc = :d WHERE item_id = 2"),
            {"d": '{"z" : 1.50,  "n": [0.10, 1E+2]}'},
        )
    before = _stored(any_db)
    run = migrate(str(project))
    assert _counts(run) == (4, 0, 1, 3)
    assert rollback(run["run_id"], str(project))["verified"] is True
    assert _stored(any_db) == before
