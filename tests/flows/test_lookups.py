"""Lookups in a real run: a target table loaded earlier in the run (a dependency: loaded
first) and a table of a SQL source, one query per batch; unmatched codes are quarantined.
Indexes of the specs exist after the load; a lookup naming a wrong connection is a
positioned error before anything runs."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa

from flows.migrate import migrate
from flows.plan import load_plan
from flows.project import load_project
from mappings.yaml_positions import SpecError
from tests.conftest import Database
from tests.flows.lookup_project import ACCOUNTS, REGIONS, make_project

pytestmark = pytest.mark.usefixtures("prefect_harness")


def test_target_and_source_lookups_resolve_and_quarantine_unmatched_codes(
    any_db: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = make_project(
        tmp_path, any_db, monkeypatch, {"regions": REGIONS, "accounts": ACCOUNTS}
    )
    # `accounts` sorts first, but looks `regions` up: regions must be loaded before it.
    assert load_plan(load_project(project)).tables == ["regions", "accounts"]
    summary = migrate(str(project))
    t = summary["tables"]["accounts"]
    assert (t["read"], t["loaded"], t["quarantined"]) == (5, 3, 2)
    with any_db.engine.connect() as conn:
        regions: dict[str, int] = dict(
            conn.execute(sa.text("SELECT code, region_id FROM regions")).all()
        )
        accounts = conn.execute(
            sa.text("SELECT account_id, region_id, segment FROM accounts ORDER BY account_id")
        ).all()
        reasons = conn.execute(
            sa.text(
                "SELECT source_position, message FROM ferryman_quarantine"
                " WHERE table_name = 'accounts' ORDER BY source_position"
            )
        ).all()
    assert [tuple(r) for r in accounts] == [
        (1, regions["N"], "Retail"),
        (2, regions["S"], "Business"),
        (5, regions["W"], None),
    ]
    assert "'X' has no row in target table regions (code -> region_id)" in reasons[0][1]
    assert "'Z' has no row in source table SEGMENTS of legacy (SEGCODE -> LABEL)" in reasons[1][1]


def test_indexes_of_the_specs_exist_after_the_load(
    any_db: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = make_project(
        tmp_path, any_db, monkeypatch, {"regions": REGIONS, "accounts": ACCOUNTS}
    )
    migrate(str(project))
    migrate(str(project))  # a second run finds them and creates nothing twice
    inspector = sa.inspect(any_db.engine)
    regions = {ix["name"]: ix for ix in inspector.get_indexes("regions")}
    accounts = {ix["name"]: ix for ix in inspector.get_indexes("accounts")}
    assert regions["ux_regions_code"]["column_names"] == ["code"]
    assert regions["ux_regions_code"]["unique"]
    assert accounts["ix_accounts_region_id"]["column_names"] == ["region_id"]
    assert not accounts["ix_accounts_region_id"]["unique"]


def test_a_unique_index_the_data_breaks_fails_with_the_query_to_find_it(
    sqlite_db: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    spec = ACCOUNTS.replace("[{columns: [region_id]}]", "[{columns: [kind], unique: true}]")
    spec += "  kind: {value: std, type: string(5)}\n"
    project = make_project(tmp_path, sqlite_db, monkeypatch, {"regions": REGIONS, "accounts": spec})
    with pytest.raises(Exception, match="cannot create unique index ux_accounts_kind"):
        migrate(str(project))


@pytest.mark.parametrize(
    ("connection", "expected"),
    [
        ("legasy", "unknown connection 'legasy'. Did you mean 'legacy'?"),
        ("exports", "connection 'exports' is a csv connection; a source lookup reads a table"),
    ],
)
def test_a_source_lookup_must_name_a_sql_connection(
    sqlite_db: Database,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    connection: str,
    expected: str,
) -> None:
    spec = ACCOUNTS.replace("connection: legacy, table: SEGMENTS", f"connection: {connection},"
                            " table: SEGMENTS")  # fmt: skip
    project = make_project(tmp_path, sqlite_db, monkeypatch, {"regions": REGIONS, "accounts": spec})
    with pytest.raises(SpecError) as err:
        load_plan(load_project(project))
    (issue,) = err.value.issues
    assert expected in issue.message
    text = (project / "mappings" / "specs" / "accounts.yaml").read_text().splitlines()
    assert connection in text[issue.line - 1]
    assert issue.path.endswith("lookup.source.connection")


def test_more_sources_are_refused_rather_than_silently_left_out(
    sqlite_db: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    spec = REGIONS + "more_sources:\n  - {connection: legacy, table: REG}\n"
    project = make_project(tmp_path, sqlite_db, monkeypatch, {"regions": spec})
    with pytest.raises(SpecError) as err:
        load_plan(load_project(project))
    (issue,) = err.value.issues
    assert issue.path == "more_sources"
    assert "does not load more_sources yet" in issue.message
