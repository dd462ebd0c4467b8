"""Lookups in a real run: a target table loaded earlier in the run (a dependency: loaded
first) and a table of a SQL source, one query per batch; unmatched codes are quarantined.
Indexes of the specs exist after the load; a lookup naming a wrong connection is a
positioned error before anything runs."""

from __future__ import annotations

import re
import socket
from pathlib import Path

import pytest
import sqlalchemy as sa

from ferryman.flows.prefect_flows import migrate
from ferryman.flows.project.config import load_project
from ferryman.flows.project.plan import load_plan
from ferryman.flows.project.session import check_project
from ferryman.yaml_positions import SpecError, SpecIssue
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


# --- `ferryman check`: lookup tables and their columns -------------------------------------


def _check(project: Path, tables: list[str] | None = None) -> list[SpecIssue]:
    """The issues check_project (`ferryman check`, and the start of every run) reports."""
    try:
        _, _, sources = check_project(project, tables)
    except SpecError as err:
        return err.issues
    for s in sources.values():
        s.close()
    return []


def _at(issue: SpecIssue) -> str:
    """The text of the spec file from the issue's line and column on."""
    line = Path(issue.file).read_text().splitlines()[issue.line - 1]
    return line[issue.column - 1 :]


def test_check_accepts_lookups_whose_tables_and_columns_exist(
    sqlite_db: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = make_project(
        tmp_path, sqlite_db, monkeypatch, {"regions": REGIONS, "accounts": ACCOUNTS}
    )
    monkeypatch.chdir(project)
    assert _check(project) == []


@pytest.mark.parametrize(
    ("old", "new", "path", "expected"),
    [
        (
            "table: regions,",
            "table: regoins,",
            "lookup.table",
            "lookup table 'regoins' does not exist in the target (connection 'target')",
        ),
        (
            "key: code, value: region_id",
            "key: cod, value: region_id",
            "lookup.key",
            "lookup key column 'cod' is not a column of the fields of"
            " mappings/specs/regions.yaml. Did you mean 'code'?",
        ),
        (
            "key: code, value: region_id",
            "key: code, value: regionid",
            "lookup.value",
            "lookup value column 'regionid' is not a column of the fields of"
            " mappings/specs/regions.yaml. Did you mean 'region_id'?",
        ),
        (
            "table: SEGMENTS}",
            "table: SEGMENT}",
            "lookup.source.table",
            "lookup table 'SEGMENT' does not exist in source connection 'legacy'.",
        ),
        (
            "key: SEGCODE, value: LABEL",
            "key: SEGCOD, value: LABEL",
            "lookup.key",
            "lookup key column 'SEGCOD' is not a column of table 'SEGMENTS' in source"
            " connection 'legacy'. Did you mean 'SEGCODE'?",
        ),
    ],
    ids=["target-table", "target-key", "target-value", "source-table", "source-key"],
)
def test_check_refuses_a_lookup_table_or_column_that_is_not_there(
    sqlite_db: Database,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    old: str,
    new: str,
    path: str,
    expected: str,
) -> None:
    assert old in ACCOUNTS
    spec = ACCOUNTS.replace(old, new)
    project = make_project(tmp_path, sqlite_db, monkeypatch, {"regions": REGIONS, "accounts": spec})
    monkeypatch.chdir(project)
    (issue,) = _check(project)
    assert issue.file == "mappings/specs/accounts.yaml"
    assert issue.path.endswith(path)
    assert expected in issue.message
    bad = next(w for w in re.findall(r"\w+", new) if w not in re.findall(r"\w+", old))
    assert _at(issue).startswith(bad)  # the position is the misspelt name itself
    if path.endswith("table"):
        wanted = "regions" if "regoins" in new else "SEGMENTS"
        assert f"Did you mean {wanted!r}?" in issue.message


def test_a_lookup_table_outside_the_run_must_be_in_the_target(
    any_db: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`--table accounts` alone: regions is not loaded by this run, so it must already be
    in the target; once it is, the lookup's columns are checked against the real table."""
    project = make_project(
        tmp_path, any_db, monkeypatch, {"regions": REGIONS, "accounts": ACCOUNTS}
    )
    monkeypatch.chdir(project)
    (issue,) = _check(project, ["accounts"])
    assert issue.path.endswith("lookup.table")
    assert "lookup table 'regions' does not exist in the target" in issue.message
    assert "no spec of this run loads it" in issue.message
    with any_db.engine.begin() as conn:
        conn.execute(sa.text("CREATE TABLE regions (region_id BIGINT, code VARCHAR(4))"))
    assert _check(project, ["accounts"]) == []
    with any_db.engine.begin() as conn:
        conn.execute(sa.text("DROP TABLE regions"))
        conn.execute(sa.text("CREATE TABLE regions (region_key BIGINT, code VARCHAR(4))"))
    (issue,) = _check(project, ["accounts"])
    assert issue.path.endswith("lookup.value")
    assert (
        "lookup value column 'region_id' is not a column of table 'regions' in the target"
        in issue.message
    )
    assert "Did you mean 'region_key'?" in issue.message


def test_an_unreachable_target_is_one_issue_with_its_password_masked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    url = f"postgresql://ferry:s3cr3t-pw@127.0.0.1:{port}/none"
    db = Database("postgres", url, sa.create_engine("sqlite://"))
    twice = ACCOUNTS + (
        "  again:\n    from: REG\n"
        "    transform: [{lookup: {table: regions, key: code, value: name}}]\n"
        "    type: string(40)\n"
    )
    project = make_project(tmp_path, db, monkeypatch, {"accounts": twice})
    monkeypatch.chdir(project)
    (issue,) = _check(project)
    assert issue.path.endswith("lookup.table")
    assert issue.message.startswith("cannot check the lookup table: cannot use connection")
    assert "s3cr3t-pw" not in issue.message
    assert "***" in issue.message
