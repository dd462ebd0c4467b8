"""An existing target table that does not fit the spec is refused before anything is
written, with one line per difference (`ferryman.mappings.tables.schema_diff`); a table ferryman
created itself always fits its spec on the next run."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa

from ferryman.flows.project.session import prepare
from ferryman.yaml_positions import SpecError
from tests.conftest import Database
from tests.flows.lookup_project import REGIONS, make_project


def test_a_table_that_does_not_fit_is_refused_with_the_diff(
    any_db: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = make_project(tmp_path, any_db, monkeypatch, {"regions": REGIONS})
    with any_db.engine.begin() as conn:
        conn.execute(
            sa.text(
                "CREATE TABLE regions (region_id BIGINT PRIMARY KEY, code VARCHAR(2),"
                " name VARCHAR(40) NOT NULL)"
            )
        )
    with pytest.raises(SpecError) as err:
        prepare(project)
    (issue,) = err.value.issues
    assert issue.file.endswith("regions.yaml")
    assert (issue.line, issue.path) == (2, "target")
    assert "regions.code: the table has string(2), too short for the spec's string(4)" in (
        issue.message
    )
    assert "regions.name: NOT NULL in the table, but the spec may leave it NULL" in issue.message
    assert "region_id" not in issue.message.split("does not fit the spec:")[1]
    assert not sa.inspect(any_db.engine).has_table("ferryman_runs")  # nothing was touched


def test_a_table_ferryman_created_fits_its_spec_again(
    any_db: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    spec = REGIONS + (
        "  active: {value: 'true', type: boolean}\n"
        "  seen: {value: '2024-01-02 03:04:05+00:00', type: timestamptz}\n"
        "  amount: {value: '1.50', type: 'decimal(8,2)'}\n"
        "  born: {value: '2024-01-02', type: date}\n"
        "  note: {value: x, type: string}\n"
        "  ratio: {value: 0.5, type: float}\n"
    )
    project = make_project(tmp_path, any_db, monkeypatch, {"regions": spec})
    prepare(project).close()  # creates the table
    prepare(project).close()  # and finds it fits
