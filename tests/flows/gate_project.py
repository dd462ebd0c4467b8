"""A small project for gate and reconciliation tests: 8 source rows in batches of 3, one
of which (id 8) does not cast and is quarantined: a quarantined share of 12.5%."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from tests.conftest import Database

SPEC = """
target: items
source: {{connection: legacy, table: SRC}}
key: [item_id]
mode: {mode}
fields:
  item_id: {{from: ID, type: integer}}
  name: {{from: NAME, transform: [trim], type: string(40)}}
  amount: {{from: AMT, type: "decimal(10,2)"}}
{extra}
"""

SOURCE = [
    (1, "one", "1.10"),
    (2, "two", "2.20"),
    (3, "three", "3.30"),
    (4, "four", "4.40"),
    (5, "five", "5.50"),
    (6, "six", "6.60"),
    (7, "seven", "7.70"),
    (8, "eight", "not a number"),
]


def make_project(
    tmp_path: Path,
    db: Database,
    monkeypatch: pytest.MonkeyPatch,
    project_gates: str = "",
    spec_extra: str = "",
    suite: str | None = None,
    mode: str = "insert",
    rows: list[tuple[int, str, str]] | None = None,
) -> Path:
    project = tmp_path / "project"
    (project / "mappings" / "specs").mkdir(parents=True)
    legacy = tmp_path / "legacy.db"
    with sqlite3.connect(legacy) as conn:
        conn.execute("DROP TABLE IF EXISTS SRC")
        conn.execute("CREATE TABLE SRC (ID INTEGER, NAME TEXT, AMT TEXT)")
        conn.executemany("INSERT INTO SRC VALUES (?, ?, ?)", SOURCE if rows is None else rows)
    (project / "ferryman.yaml").write_text(
        "name: gates\nconnections:\n  legacy:\n    kind: sql\n"
        f"    url: sqlite:///{legacy}\n  target:\n    kind: sql\n    url: ${{T_URL}}\n"
        f"defaults:\n  batch_size: 3\n{project_gates}"
    )
    if suite is not None:
        (project / "validations" / "suites").mkdir(parents=True)
        (project / "validations" / "suites" / "items.yaml").write_text(suite)
        spec_extra += "\nsuites: [items]"
    (project / "mappings" / "specs" / "items.yaml").write_text(
        SPEC.format(extra=spec_extra, mode=mode)
    )
    monkeypatch.setenv("T_URL", db.url)
    return project
