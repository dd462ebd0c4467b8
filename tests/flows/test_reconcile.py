"""Reconciliation: counts, row hashes and column aggregates of what a run loaded against
the target; a row changed by hand afterwards is named by its key. And the data-quality
commands as a user runs them: exit code 3, `reconcile`, `quarantine list|export`."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pandas as pd
import pytest
import sqlalchemy as sa

from ferryman.flows.ops.reconcile import reconcile_run
from ferryman.flows.prefect_flows import migrate
from ferryman.flows.project.session import open_session
from tests.conftest import Database
from tests.flows import harness
from tests.flows.gate_project import make_project
from tests.helpers import cli

pytestmark = pytest.mark.usefixtures("prefect_harness")


def _reconcile(project: Path, run_id: str) -> dict[str, list[str]]:
    session = open_session(project)
    try:
        run = session.ledger.get_run(run_id)
        assert run is not None
        return {r.table: r.drift() for r in reconcile_run(session, run)}
    finally:
        session.close()


def test_reconcile_names_a_row_changed_after_the_run(
    any_db: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = make_project(tmp_path, any_db, monkeypatch)
    summary = migrate(str(project))
    rec = summary["reconciliation"]["items"]
    assert (rec["read"], rec["loaded"], rec["quarantined"]) == (8, 7, 1)
    assert (rec["expected_rows"], rec["target_rows"], rec["rows_checked"]) == (7, 7, 7)
    assert rec["drift"] == []
    assert rec["aggregates"]["loaded"]["amount"]["sum"] == {"$d": "30.80"}
    assert _reconcile(project, summary["run_id"]) == {"items": []}
    with any_db.engine.begin() as conn:
        conn.execute(sa.text("UPDATE items SET amount = 99 WHERE item_id = 5"))
    drift = _reconcile(project, summary["run_id"])["items"]
    assert "items item_id=5: differs from what the run wrote" in drift
    assert any(d.startswith("items.amount sum: loaded Decimal('30.80')") for d in drift), drift
    with any_db.engine.begin() as conn:
        conn.execute(sa.text("DELETE FROM items WHERE item_id = 2"))
    drift = _reconcile(project, summary["run_id"])["items"]
    assert "items item_id=2: missing from the target" in drift
    assert any("target holds 6 rows, expected 7 (7 inserted by the run)" in d for d in drift), drift


def test_reconcile_counts_rows_there_before_the_run(
    sqlite_db: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = make_project(tmp_path, sqlite_db, monkeypatch)
    with sqlite_db.engine.begin() as conn:
        conn.execute(
            sa.text(
                "CREATE TABLE items (item_id INTEGER PRIMARY KEY, name VARCHAR(40),"
                " amount NUMERIC(10,2))"
            )
        )
        conn.execute(sa.text("INSERT INTO items VALUES (100, 'kept', 1.00)"))
    summary = migrate(str(project))
    rec = summary["reconciliation"]["items"]
    assert (rec["rows_before"], rec["expected_rows"], rec["target_rows"]) == (1, 8, 8)
    assert rec["drift"] == []
    with sqlite_db.engine.begin() as conn:  # someone else adds a row: the count drifts
        conn.execute(sa.text("INSERT INTO items VALUES (101, 'stray', 1.00)"))
    (drift,) = _reconcile(project, summary["run_id"])["items"]
    assert "target holds 9 rows, expected 8 (1 before the run + 7 inserted by the run)" in drift


def test_a_key_upserted_twice_by_one_run_is_not_drift(
    sqlite_db: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    rows = [(1, "one", "1.00"), (2, "two", "2.00"), (3, "three", "3.00"), (1, "uno", "9.00")]
    project = make_project(tmp_path, sqlite_db, monkeypatch, mode="upsert", rows=rows)
    summary = migrate(str(project))
    assert summary["state"] == "succeeded"
    rec = summary["reconciliation"]["items"]
    assert rec["drift"] == []
    assert rec["note"].startswith("aggregates not compared: the run wrote 1 key(s) more than once")
    with sqlite_db.engine.begin() as conn:  # the row hashes are still compared
        conn.execute(sa.text("UPDATE items SET name = 'one' WHERE item_id = 1"))
    assert _reconcile(project, summary["run_id"]) == {
        "items": ["items item_id=1: differs from what the run wrote"]
    }


def test_an_earlier_run_superseded_by_a_later_one_checks_its_accounting_only(
    sqlite_db: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = make_project(tmp_path, sqlite_db, monkeypatch, mode="upsert")
    first = migrate(str(project))
    with sqlite3.connect(tmp_path / "legacy.db") as conn:  # the source changes row 5
        conn.execute("UPDATE SRC SET AMT = '55.00' WHERE ID = 5")
    second = migrate(str(project))
    assert second["tables"]["items"]["updated"] == 1
    assert _reconcile(project, second["run_id"]) == {"items": []}
    session = open_session(project)
    try:
        run = session.ledger.get_run(first["run_id"])
        assert run is not None
        (rec,) = reconcile_run(session, run)
    finally:
        session.close()
    # Row 5 no longer holds what the first run wrote, rightly: that is not drift.
    assert rec.superseded_by == [second["run_id"]]
    assert rec.drift() == []
    assert rec.note is not None
    assert f"ferryman reconcile {second['run_id']}" in rec.note


def test_cli_gate_exit_code_quarantine_and_reconcile(
    sqlite_db: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, prefect_harness: str
) -> None:
    project = make_project(
        tmp_path, sqlite_db, monkeypatch, "gates:\n  max_quarantined_share: 0.005\n"
    )
    env = cli.child_env(prefect_harness)

    def command(*args: str) -> tuple[int, str, str]:
        res = cli.ferryman([*args, "--project", str(project)], project, env)
        return res.returncode, res.stdout, res.stderr

    code, out, err = command("run")
    assert code == 3, out + err
    assert "gate failed: items: quarantined 12.5% (1 of 8) > max_quarantined_share 0.5%" in out
    assert "halted; what was loaded stays for inspection" in out
    run_id = harness.only_run_id(sqlite_db.engine)

    code, out, err = command("quarantine", "list", "--json")
    assert code == 0, err
    doc = json.loads(out)
    assert doc["run_id"] == run_id
    (reason,) = doc["tables"]["items"]["reasons"]
    assert (reason["rule"], reason["count"]) == ("cast:decimal", 1)
    assert reason["examples"][0]["raw_value"] == "not a number"

    for fmt in ("csv", "parquet"):
        file = tmp_path / f"q.{fmt}"
        code, out, err = command(
            "quarantine", "export", run_id, "--out", str(file), "--format", fmt
        )
        assert code == 0, err
        frame = pd.read_csv(file) if fmt == "csv" else pd.read_parquet(file)
        assert list(frame["source.AMT"]) == ["not a number"]
        assert {"run_id", "rule", "message", "source_row", "source.ID"} <= set(frame.columns)

    code, out, err = command("reconcile", run_id)
    assert code == 0, out + err
    assert out.startswith("ok    items: read 8 = loaded 7 + quarantined 1 + filtered 0")
    with sqlite_db.engine.begin() as conn:
        conn.execute(sa.text("UPDATE items SET name = 'edited' WHERE item_id = 3"))
    code, out, err = command("reconcile", run_id, "--json")
    assert code == 3, out + err
    doc = json.loads(out)
    assert doc["state"] == "drift"
    assert "items item_id=3: differs from what the run wrote" in doc["tables"]["items"]["drift"]
    code, out, err = command("quarantine", "export", run_id, "--out", "x", "--format", "xlsx")
    assert code == 2
    assert "use csv or parquet" in err


def test_install_adds_the_aggregates_column_to_an_older_ledger(sqlite_db: Database) -> None:
    with sqlite_db.engine.begin() as conn:  # as an older ferryman made it (abridged)
        conn.execute(sa.text("CREATE TABLE ferryman_batches (run_id VARCHAR(40), state TEXT)"))
    columns = {c["name"] for c in sa.inspect(sqlite_db.engine).get_columns("ferryman_batches")}
    assert "aggregates" not in columns
    harness.install_ledger(sqlite_db.url)
    columns = {c["name"] for c in sa.inspect(sqlite_db.engine).get_columns("ferryman_batches")}
    assert "aggregates" in columns


# --- reading back in chunks: key ranges, key lists, the order drift is named in ----------


@pytest.mark.parametrize("spacing", [1, 1000], ids=["dense", "sparse"])
def test_drift_is_named_in_the_order_the_run_wrote_it_across_chunks(
    any_db: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, spacing: int
) -> None:
    """60 rows written in descending key order, read back 7 keys at a time (dense keys by
    key range, sparse ones by key list): the first 20 rows that differ or are missing are
    named in the order the run wrote them, whatever order the keys are read in."""
    import ferryman.flows.ops.reconcile

    ids = [spacing * n for n in range(60, 0, -1)]
    project = make_project(
        tmp_path, any_db, monkeypatch, rows=[(i, f"n{i}", f"{i % 97}.25") for i in ids]
    )
    summary = migrate(str(project))
    assert summary["reconciliation"]["items"]["drift"] == []
    monkeypatch.setattr(ferryman.flows.ops.reconcile, "CHUNK", 7)
    assert _reconcile(project, summary["run_id"]) == {"items": []}
    expected = []
    with any_db.engine.begin() as conn:  # row number n: a multiple of 5 goes, of 3 changes
        for i in ids:
            n = i // spacing
            if n % 5 == 0:
                conn.execute(sa.text("DELETE FROM items WHERE item_id = :i"), {"i": i})
                expected.append(f"items item_id={i}: missing from the target")
            elif n % 3 == 0:
                conn.execute(sa.text("UPDATE items SET name = 'x' WHERE item_id = :i"), {"i": i})
                expected.append(f"items item_id={i}: differs from what the run wrote")
    session = open_session(project)
    try:
        run = session.ledger.get_run(summary["run_id"])
        assert run is not None
        (rec,) = reconcile_run(session, run)
    finally:
        session.close()
    assert len(expected) == 28
    assert rec.rows_differing == expected[:20]
    assert rec.rows_checked == 60 - 12
    assert "items: target holds 48 rows, expected 60 (60 inserted by the run)" in rec.drift()
    assert rec.aggregates_target["item_id"]["count"] == 48


def test_rows_in_a_key_range_the_run_did_not_write_are_not_its_rows(
    any_db: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Keys 1-3 and 5-7 loaded around a row 4 that was there before: read back by the key
    range 1-7, row 4 is neither checked nor in the target's aggregates."""
    rows = [(i, f"n{i}", f"{i}.50") for i in (1, 2, 3, 5, 6, 7)]
    project = make_project(tmp_path, any_db, monkeypatch, rows=rows)
    with any_db.engine.begin() as conn:
        conn.execute(
            sa.text(
                "CREATE TABLE items (item_id INTEGER PRIMARY KEY, name VARCHAR(40),"
                " amount NUMERIC(10,2))"
            )
        )
        conn.execute(sa.text("INSERT INTO items VALUES (4, 'before', 1000.00)"))
    summary = migrate(str(project))
    rec = summary["reconciliation"]["items"]
    assert (rec["rows_before"], rec["target_rows"], rec["rows_checked"]) == (1, 7, 6)
    assert rec["drift"] == []
    assert rec["aggregates"]["target"]["amount"]["sum"] == {"$d": "27.00"}
    with any_db.engine.begin() as conn:  # the row that was there before is not the run's
        conn.execute(sa.text("UPDATE items SET amount = 1 WHERE item_id = 4"))
    assert _reconcile(project, summary["run_id"]) == {"items": []}


def test_text_keys_are_read_back_by_key(
    any_db: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A text key (PostgreSQL: a temporary table of the keys, one COPY back): a row changed
    or deleted afterwards is named by its key as the journal holds it."""
    rows = [(i, name, f"{i}.00") for i, name in enumerate(["o'ne", 'tw"o', "drei", "vier"], 1)]
    project = make_project(tmp_path, any_db, monkeypatch, rows=rows)
    spec = project / "mappings" / "specs" / "items.yaml"
    spec.write_text(spec.read_text().replace("key: [item_id]", "key: [name]"))
    summary = migrate(str(project))
    assert summary["reconciliation"]["items"]["drift"] == []
    with any_db.engine.begin() as conn:
        conn.execute(sa.text("UPDATE items SET amount = 9 WHERE name = 'tw\"o'"))
        conn.execute(sa.text("DELETE FROM items WHERE name = 'o''ne'"))
    drift = _reconcile(project, summary["run_id"])["items"]
    assert drift[1:3] == [
        'items name="o\'ne": missing from the target',
        "items name='tw\"o': differs from what the run wrote",
    ]
    assert drift[0] == "items: target holds 3 rows, expected 4 (4 inserted by the run)"
