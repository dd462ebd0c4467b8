"""A small project for lookup and surrogate-key tests: `regions` (surrogate keys from the
legacy code) and `accounts`, which resolves its region through a lookup of the target table
`regions` and its segment through a lookup of the source table SEGMENTS."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.conftest import Database
from tests.helpers import project as helpers
from tests.helpers.project import ProjectBuilder

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
    helpers.write_legacy(
        path,
        {
            "REG": ("CODE TEXT, NAME TEXT", regions),
            "ACC": ("ID INTEGER PRIMARY KEY, REG TEXT, SEG TEXT", ACCOUNT_ROWS),
            "SEGMENTS": ("SEGCODE TEXT, LABEL TEXT", [("A", "Retail"), ("B", "Business")]),
        },
    )


def make_project(
    tmp_path: Path,
    db: Database,
    monkeypatch: pytest.MonkeyPatch,
    specs: dict[str, str],
    batch_size: int = 2,
) -> Path:
    build = ProjectBuilder(tmp_path, monkeypatch)
    project = build(
        db,
        specs,
        name="lookups",
        batch_size=batch_size,
        connections={"exports": "{kind: csv, path: .}"},
    )
    write_legacy(build.legacy, REGION_ROWS)
    return project
