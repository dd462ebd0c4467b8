"""A small project for lookup and surrogate-key tests: `regions` (surrogate keys from the
legacy code) and `accounts`, which resolves its region through a lookup of the target table
`regions` and its segment through a lookup of the source table SEGMENTS."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import Database

REGIONS = """
target: regions
source: {connection: legacy, table: REG}
key: [region_id]
mode: upsert
indexes: [{columns: [code], unique: true}]
fields:
  region_id: {surrogate: {from: CODE}, type: bigint}
  code: {from: CODE, type: string(4), required: true}
  name: {from: NAME, type: string(40)}
"""

ACCOUNTS = """
target: accounts
source: {connection: legacy, table: ACC}
key: [account_id]
indexes: [{columns: [region_id]}]
fields:
  account_id: {from: ID, type: integer}
  region_id:
    from: REG
    transform: [{lookup: {table: regions, key: code, value: region_id}}]
    type: bigint
  segment:
    from: SEG
    transform:
      - lookup: {source: {connection: legacy, table: SEGMENTS}, key: SEGCODE, value: LABEL}
    type: string(20)
"""

REGION_ROWS = [("N", "North"), ("S", "South"), ("E", "East"), ("W", "West")]
ACCOUNT_ROWS = [(1, "N", "A"), (2, "S", "B"), (3, "X", "A"), (4, "E", "Z"), (5, "W", None)]


def write_legacy(path: Path, regions: list[tuple[Any, ...]]) -> None:
    with sqlite3.connect(path) as conn:
        conn.execute("DROP TABLE IF EXISTS REG")
        conn.execute("CREATE TABLE REG (CODE TEXT, NAME TEXT)")
        conn.executemany("INSERT INTO REG VALUES (?, ?)", regions)
        conn.execute("DROP TABLE IF EXISTS ACC")
        conn.execute("CREATE TABLE ACC (ID INTEGER PRIMARY KEY, REG TEXT, SEG TEXT)")
        conn.executemany("INSERT INTO ACC VALUES (?, ?, ?)", ACCOUNT_ROWS)
        conn.execute("DROP TABLE IF EXISTS SEGMENTS")
        conn.execute("CREATE TABLE SEGMENTS (SEGCODE TEXT, LABEL TEXT)")
        conn.executemany("INSERT INTO SEGMENTS VALUES (?, ?)", [("A", "Retail"), ("B", "Business")])


def make_project(
    tmp_path: Path,
    db: Database,
    monkeypatch: pytest.MonkeyPatch,
    specs: dict[str, str],
    batch_size: int = 2,
) -> Path:
    project = tmp_path / "project"
    (project / "mappings" / "specs").mkdir(parents=True, exist_ok=True)
    legacy = tmp_path / "legacy.db"
    write_legacy(legacy, REGION_ROWS)
    (project / "ferryman.yaml").write_text(
        "name: lookups\nconnections:\n  legacy:\n    kind: sql\n"
        f"    url: sqlite:///{legacy}\n  exports:\n    kind: csv\n    path: .\n"
        "  target:\n    kind: sql\n    url: ${T_URL}\n"
        f"target: target\ndefaults:\n  batch_size: {batch_size}\n"
    )
    for name, text in specs.items():
        (project / "mappings" / "specs" / f"{name}.yaml").write_text(text)
    monkeypatch.setenv("T_URL", db.url)
    return project
