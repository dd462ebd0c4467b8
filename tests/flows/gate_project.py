"""A small project for gate and reconciliation tests: 8 source rows in batches of 3, one
of which (id 8) does not cast and is quarantined: a quarantined share of 12.5%."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import Database
from tests.helpers.project import ProjectBuilder

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
    if suite is not None:
        spec_extra += "\nsuites: [items]"
    return ProjectBuilder(tmp_path, monkeypatch)(
        db,
        {"items": SPEC.format(extra=spec_extra, mode=mode)},
        legacy={"SRC": ("ID INTEGER, NAME TEXT, AMT TEXT", SOURCE if rows is None else rows)},
        suites=None if suite is None else {"items": suite},
        name="gates",
        batch_size=3,
        settings=project_gates,
    )
