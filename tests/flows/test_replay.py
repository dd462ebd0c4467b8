"""Quarantine replay: a run quarantines rows, their export is fixed with pandas as a user
would in a spreadsheet, and `replay` loads the fixed rows through the same specs as a new
run: fixed rows land, rows still wrong are quarantined again in the replay run (with a
position saying where they came from), every row is accounted for, and rolling the replay
back restores the target exactly. Bad files, tables and run ids exit 2, touching nothing."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import sqlalchemy as sa

from ferryman.flows.ops.quarantine import export, overview
from ferryman.flows.ops.replay import plan_replay
from ferryman.flows.prefect_flows import migrate, replay, resume, rollback
from ferryman.flows.project.session import UsageError, open_session
from tests.conftest import Database
from tests.flows import harness
from tests.flows.gate_project import SPEC
from tests.helpers import cli
from tests.helpers.project import ProjectBuilder

pytestmark = pytest.mark.usefixtures("prefect_harness")

TABLES = ("items", "notes")

# gate_project's items spec; the share gate lets the planted bad rows through.
ITEMS_GATES = "gates: {max_quarantined_share: 0.4}"

NOTES = """
target: notes
source: {connection: legacy, table: NOTES}
key: [note_id]
foreign_keys:
  - columns: [item_id]
    references: items(item_id)
fields:
  note_id: {from: NID, type: integer}
  item_id: {from: ITEM, type: integer}
  text: {from: TXT, type: string(20)}
"""

LONG = "x" * 50
# Item 3's amount does not cast; item 6 fails twice (name too long, amount); item 7's
# amount does not cast. Notes 2, 3 and 4 hang off items 3, 6 and 7: no parent, quarantined.
SRC = [
    (1, "one", "1.10"),
    (2, "two", "2.20"),
    (3, "three", "3,30 EUR"),
    (4, "four", "4.40"),
    (5, "five", "5.50"),
    (6, LONG, "six"),
    (7, "seven", "n/a"),
    (8, "eight", "8.80"),
]
NOTE_ROWS = [(1, 1, "a"), (2, 3, "b"), (3, 6, "c"), (4, 7, "d"), (5, 2, "e")]


def _project(
    tmp_path: Path, db: Database, monkeypatch: pytest.MonkeyPatch, mode: str = "insert"
) -> Path:
    return ProjectBuilder(tmp_path, monkeypatch)(
        db,
        {"items": SPEC.format(mode=mode, extra=ITEMS_GATES), "notes": NOTES},
        legacy={
            "SRC": ("ID INTEGER, NAME TEXT, AMT TEXT", SRC),
            "NOTES": ("NID INTEGER, ITEM INTEGER, TXT TEXT", NOTE_ROWS),
        },
        name="replay",
        batch_size=3,
        # the first run passes these gates (items 37.5%, notes 60%); a replay is not held
        # to them: its file holds only rows that failed once
        settings="gates:\n  max_quarantined_share: 0.6\n",
    )


def _export(project: Path, run_id: str, out: Path, table: str | None = None) -> pd.DataFrame:
    session = open_session(project)
    try:
        export(session.ledger, run_id, out, out.suffix.lstrip("."), table)
    finally:
        session.close()
    if out.suffix == ".csv":
        return pd.read_csv(out, dtype=str, keep_default_na=False)
    return pd.read_parquet(out)


def _fix(frame: pd.DataFrame, position: str, column: str, value: str, rule: str = "") -> None:
    """Set source.<column> on the line(s) of the row at `position` (only the line of
    `rule` if given), as someone fixing the export in a spreadsheet would."""
    rows = frame["source_position"] == position
    if rule:
        rows &= frame["rule"] == rule
    assert rows.any(), (position, rule)
    frame.loc[rows, f"source.{column}"] = value


def _rows(db: Database, sql: str, **params: Any) -> list[tuple[Any, ...]]:
    with db.engine.connect() as conn:
        return [tuple(r) for r in conn.execute(sa.text(sql), params)]


def _balanced(summary: dict[str, Any]) -> None:
    for name, t in summary["tables"].items():
        assert t["read"] == t["loaded"] + t["quarantined"] + t["filtered"], name


def test_replay_loads_fixed_rows_requarantines_the_rest_and_rolls_back(
    any_db: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = _project(tmp_path, any_db, monkeypatch)
    first = migrate(str(project))
    run_id = first["run_id"]
    assert (first["tables"]["items"]["loaded"], first["tables"]["items"]["quarantined"]) == (5, 3)
    assert (first["tables"]["notes"]["loaded"], first["tables"]["notes"]["quarantined"]) == (2, 3)

    frame = _export(project, run_id, tmp_path / "fix.csv")
    assert len(frame) == 7  # item 6 is exported once per reason: two lines
    _fix(frame, "SRC rowid=3", "AMT", "3.30")
    # item 6: its name fixed on one of its lines, its amount on the other
    _fix(frame, "SRC rowid=6", "NAME", "six", rule="cast:string")
    _fix(frame, "SRC rowid=6", "AMT", "6.60", rule="cast:decimal")
    _fix(frame, "SRC rowid=7", "AMT", "still wrong")
    frame.to_csv(tmp_path / "fix.csv", index=False)  # the notes' lines are left as they were
    before = harness.target_state(any_db.engine, TABLES)

    summary = replay(run_id, str(tmp_path / "fix.csv"), str(project))
    new_id = summary["run_id"]
    assert new_id != run_id
    assert (summary["state"], summary["mode"], summary["replay_of"]) == (
        "succeeded",
        "replay",
        run_id,
    )
    items, notes = summary["tables"]["items"], summary["tables"]["notes"]
    assert (items["read"], items["loaded"], items["quarantined"]) == (3, 2, 1)
    # notes 2 and 3 find their parents now; note 4's parent (item 7) is still held back
    assert (notes["read"], notes["loaded"], notes["quarantined"]) == (3, 2, 1)
    _balanced(summary)
    assert summary["changed_cells"] == {"items": {"AMT": 3, "NAME": 1}}
    report = json.loads(Path(summary["report"]).with_suffix(".json").read_text())
    assert (report["run_id"], report["mode"]) == (new_id, "replay")
    rows = _rows(any_db, "SELECT item_id, name, amount FROM items WHERE item_id IN (3, 6)")
    assert sorted((i, n, f"{a:.2f}") for i, n, a in rows) == [
        (3, "three", "3.30"),
        (6, "six", "6.60"),
    ]
    assert sorted(_rows(any_db, "SELECT note_id FROM notes")) == [(1,), (2,), (3,), (5,)]

    # the rows still wrong are quarantined in the replay run, saying where they came from
    again = _rows(
        any_db,
        "SELECT table_name, source_position, rule, raw_value FROM ferryman_quarantine"
        " WHERE run_id = :r ORDER BY table_name",
        r=new_id,
    )
    assert [(t, r, v) for t, _, r, v in again] == [
        ("items", "cast:decimal", "still wrong"),
        ("notes", "foreign_key", "item_id=7"),
    ]
    assert re.fullmatch(rf"replay of {run_id}: SRC rowid=7 \(fix\.csv:\d+\)", again[0][1])
    assert again[1][1].startswith(f"replay of {run_id}: NOTES rowid=4 (fix.csv:")
    # every quarantine entry of the first run was replayed
    marks = _rows(
        any_db, "SELECT DISTINCT replayed_in FROM ferryman_quarantine WHERE run_id = :r", r=run_id
    )
    assert marks == [(new_id,)]
    session = open_session(project)
    try:
        listed = overview(session.ledger, run_id)
        assert listed["tables"]["items"]["replayed"] == {
            new_id: {"entries": 4, "state": "succeeded"}
        }
        assert overview(session.ledger, new_id)["replay_of"]["run_id"] == run_id
    finally:
        session.close()

    # accounting as the ledger holds it, batch by batch
    for table, read, loaded, quarantined in _rows(
        any_db,
        "SELECT table_name, SUM(rows_read), SUM(rows_loaded), SUM(rows_quarantined)"
        " FROM ferryman_batches WHERE run_id = :r GROUP BY table_name",
        r=new_id,
    ):
        assert (read, loaded + quarantined) == (3, 3), table

    # a replay cannot be resumed (its source is the file), and it stands on the first run
    with pytest.raises(UsageError, match="a replay cannot be resumed"):
        resume(new_id, str(project))
    with pytest.raises(UsageError, match=f"later runs changed the same tables.*{new_id}"):
        rollback(run_id, str(project))
    result = rollback(new_id, str(project))
    assert result["verified"] is True
    assert harness.target_state(any_db.engine, TABLES) == before
    assert rollback(run_id, str(project))["verified"] is True


@pytest.mark.parametrize("mode", ["replace", "upsert"])
def test_replay_appends_to_replace_tables_and_upserts_upsert_ones(
    sqlite_db: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, mode: str
) -> None:
    project = _project(tmp_path, sqlite_db, monkeypatch, mode=mode)
    run_id = migrate(str(project))["run_id"]
    frame = _export(project, run_id, tmp_path / "fix.parquet", table="items")
    _fix(frame, "SRC rowid=3", "AMT", "3.30")
    # item 6 becomes item 1, a key the first run loaded
    _fix(frame, "SRC rowid=6", "ID", "1")
    _fix(frame, "SRC rowid=6", "NAME", "uno")
    _fix(frame, "SRC rowid=6", "AMT", "6.60")
    frame = frame[frame["source_position"] != "SRC rowid=7"]  # leave item 7 out
    frame.to_parquet(tmp_path / "fix.parquet", index=False)
    before = harness.target_state(sqlite_db.engine, TABLES)

    summary = replay(run_id, str(tmp_path / "fix.parquet"), str(project))
    items = summary["tables"]["items"]
    assert list(summary["tables"]) == ["items"]
    _balanced(summary)
    names = dict(_rows(sqlite_db, "SELECT item_id, name FROM items"))
    # replace: appended with insert, nothing emptied, item 1 is a duplicate; 1 of 2 rows
    # quarantined is over the items gate (40%), which a replay is not held to
    if mode == "replace":
        assert (items["read"], items["inserted"], items["quarantined"]) == (2, 1, 1)
        assert summary["tables"]["items"]["quarantine_rules"] == {"duplicate_key": 1}
        assert names[1] == "one"
    else:  # upsert: item 1 is updated
        assert (items["read"], items["inserted"], items["updated"]) == (2, 1, 1)
        assert names[1] == "uno"
    assert sorted(names) == [1, 2, 3, 4, 5, 8]
    # item 7 was not in the file: it stays in the first run's quarantine, not replayed
    pending = _rows(
        sqlite_db,
        "SELECT source_position FROM ferryman_quarantine WHERE run_id = :r"
        " AND table_name = 'items' AND replayed_in IS NULL",
        r=run_id,
    )
    assert pending == [("SRC rowid=7",)]
    assert rollback(summary["run_id"], str(project))["verified"] is True
    assert harness.target_state(sqlite_db.engine, TABLES) == before


def test_bad_files_tables_and_runs_exit_2_and_touch_nothing(
    sqlite_db: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, prefect_harness: str
) -> None:
    project = _project(tmp_path, sqlite_db, monkeypatch)
    run_id = migrate(str(project))["run_id"]
    good = _export(project, run_id, tmp_path / "fix.csv")
    env = cli.child_env(prefect_harness)
    before = harness.target_state(sqlite_db.engine, TABLES)
    runs = _rows(sqlite_db, "SELECT COUNT(*) FROM ferryman_runs")

    def command(*args: str) -> tuple[int, str, str]:
        res = cli.ferryman(["quarantine", *args, "--project", str(project)], project, env)
        return res.returncode, res.stdout, res.stderr

    def bad(name: str, frame: pd.DataFrame) -> Path:
        path = tmp_path / name
        frame.to_csv(path, index=False)
        return path

    no_columns = bad("cols.csv", good.drop(columns=["source_position"]))
    code, _, err = command("replay", run_id, "--file", str(no_columns))
    assert code == 2, err
    assert "lacks the column(s) source_position" in err
    assert "Nothing was touched." in err

    other_table = good.copy()
    other_table.loc[0, "table_name"] = "itemz"
    code, _, err = command("replay", run_id, "--file", str(bad("table.csv", other_table)))
    assert code == 2, err
    assert "table 'itemz': no spec of this project produces it" in err
    assert "Did you mean 'items'?" in err

    code, _, err = command("replay", "20000101T000000-000000", "--file", str(tmp_path / "fix.csv"))
    assert code == 2, err
    assert "no run '20000101T000000-000000'" in err

    # the two lines of item 6 fix its amount differently
    conflict = good.copy()
    _fix(conflict, "SRC rowid=6", "AMT", "6.60", rule="cast:string")
    _fix(conflict, "SRC rowid=6", "AMT", "6.66", rule="cast:decimal")
    with pytest.raises(UsageError, match=r"source\.AMT is fixed differently.*'6\.60'.*'6\.66'"):
        plan_replay(project, run_id, bad("conflict.csv", conflict))
    moved = good.copy()
    moved.loc[0, "source_position"] = "SRC rowid=99"
    with pytest.raises(UsageError, match="quarantined no row of items at 'SRC rowid=99'"):
        plan_replay(project, run_id, bad("moved.csv", moved))
    (tmp_path / "fix.xlsx").write_bytes(b"PK")
    with pytest.raises(UsageError, match="unknown file type '.xlsx'"):
        plan_replay(project, run_id, tmp_path / "fix.xlsx")
    (tmp_path / "cp1252.csv").write_bytes(
        (tmp_path / "fix.csv").read_bytes() + "é\n".encode("cp1252")
    )
    with pytest.raises(UsageError, match="not UTF-8 text.*'CSV UTF-8'"):
        plan_replay(project, run_id, tmp_path / "cp1252.csv")
    with pytest.raises(UsageError, match="no rows of table 'notes'"):
        plan_replay(project, run_id, bad("items.csv", good[good["table_name"] == "items"]), "notes")
    spec = project / "mappings" / "specs" / "items.yaml"  # items now read from two streams
    spec.write_text(spec.read_text() + "more_sources:\n  - {connection: legacy, table: SRC}\n")
    with pytest.raises(UsageError, match="loaded from several streams"):
        plan_replay(project, run_id, tmp_path / "fix.csv")

    assert harness.target_state(sqlite_db.engine, TABLES) == before
    assert _rows(sqlite_db, "SELECT COUNT(*) FROM ferryman_runs") == runs
    assert not sa.inspect(sqlite_db.engine).has_table("ferryman_replays") or not _rows(
        sqlite_db, "SELECT * FROM ferryman_replays"
    )


def test_cli_replay_then_replay_of_the_replay(
    sqlite_db: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, prefect_harness: str
) -> None:
    project = _project(tmp_path, sqlite_db, monkeypatch)
    env = cli.child_env(prefect_harness)

    def command(*args: str) -> tuple[int, str, str]:
        res = cli.ferryman([*args, "--project", str(project)], project, env)
        return res.returncode, res.stdout, res.stderr

    run_id = migrate(str(project))["run_id"]
    code, out, err = command("quarantine", "export", run_id, "--out", "fix.csv", "--table", "items")
    assert code == 0, err
    frame = pd.read_csv(project / "fix.csv", dtype=str, keep_default_na=False)
    _fix(frame, "SRC rowid=3", "AMT", "3.30")
    frame.to_csv(project / "fix.csv", index=False)

    code, out, err = command("quarantine", "replay", run_id, "--file", "fix.csv")
    assert code == 0, out + err
    assert f"(replay of run {run_id}, fix.csv): succeeded" in out
    assert "items: read 3 = loaded 1 + quarantined 2 + filtered 0" in out
    assert "cells changed: AMT 1" in out
    second = harness.only_run_id(sqlite_db.engine)
    assert f"Undo:            ferryman rollback {second}" in out
    code, out, err = command("quarantine", "list", run_id)
    assert code == 0, err
    assert f"4 of them replayed in run {second} (succeeded)" in out

    # what is still wrong is exported from the replay run, fixed, and replayed again
    frame = _export(project, second, project / "fix2.parquet")
    assert len(frame) == 3  # item 6 (two reasons) and item 7
    position6 = next(p for p in frame["source_position"] if "SRC rowid=6" in p)
    _fix(frame, position6, "NAME", "six", rule="cast:string")
    _fix(frame, position6, "AMT", "6.60", rule="cast:decimal")
    frame.to_parquet(project / "fix2.parquet", index=False)
    code, out, err = command("quarantine", "replay", second, "--file", "fix2.parquet", "--json")
    assert code == 0, out + err
    doc = json.loads(out)
    assert (doc["replay_of"], doc["tables"]["items"]["loaded"]) == (second, 1)
    third = doc["run_id"]
    (position,) = _rows(
        sqlite_db, "SELECT source_position FROM ferryman_quarantine WHERE run_id = :r", r=third
    )
    assert re.fullmatch(rf"replay of {second}: SRC rowid=7 \(fix2\.parquet row \d\)", position[0])
    for rid in (third, second, run_id):
        assert rollback(rid, str(project))["verified"] is True
    assert harness.table_rows(sqlite_db.engine, "items") is None  # the first run created it


def test_an_older_ledger_gets_the_replayed_in_column(
    sqlite_db: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = _project(tmp_path, sqlite_db, monkeypatch)
    run_id = migrate(str(project))["run_id"]
    with sqlite_db.engine.begin() as conn:  # as an older ferryman made it
        conn.execute(sa.text("ALTER TABLE ferryman_quarantine DROP COLUMN replayed_in"))
    frame = _export(project, run_id, tmp_path / "old.csv")  # list and export still work
    assert "replayed_in" not in frame.columns
    assert len(frame) == 7
    session = open_session(project)
    try:
        assert overview(session.ledger, run_id)["tables"]["items"]["entries"] == 4
    finally:
        session.close()
    harness.install_ledger(sqlite_db.url)
    columns = {c["name"] for c in sa.inspect(sqlite_db.engine).get_columns("ferryman_quarantine")}
    assert "replayed_in" in columns
