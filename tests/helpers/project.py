"""Small projects for tests, in a few lines: a legacy SQLite database, `ferryman.yaml`
(connections `legacy` and `target`), specs and suites.

The target's URL comes from the environment (`${T_URL}`), as a real project's would, so
child processes started with `cli.child_env()` reach the same database.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping, Sequence
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from tests.conftest import Database

Table = tuple[str, Sequence[Sequence[Any]]]
"""A legacy table: its column definitions (SQL) and its rows."""


def write_legacy(path: Path, tables: Mapping[str, Table]) -> str:
    """(Re)create `tables` in the SQLite file `path`; returns its URL."""
    with closing(sqlite3.connect(path)) as conn, conn:
        for name, (columns, rows) in tables.items():
            conn.execute(f"DROP TABLE IF EXISTS {name}")
            conn.execute(f"CREATE TABLE {name} ({columns})")
            if rows:
                marks = ", ".join("?" * len(rows[0]))
                conn.executemany(f"INSERT INTO {name} VALUES ({marks})", rows)
    return f"sqlite:///{path}"


@dataclass(frozen=True)
class ProjectBuilder:
    """Builds `root/project`, its legacy database at `root/legacy.db` (the `project_builder`
    fixture gives one on the test's tmp_path)."""

    root: Path
    monkeypatch: pytest.MonkeyPatch

    @property
    def legacy(self) -> Path:
        return self.root / "legacy.db"

    def __call__(
        self,
        db: Database,
        specs: Mapping[str, str],
        *,
        legacy: Mapping[str, Table] | None = None,
        suites: Mapping[str, str] | None = None,
        name: str = "test",
        batch_size: int | None = None,
        connections: Mapping[str, str] | None = None,
        settings: str = "",
    ) -> Path:
        """The project loading `specs` (target table -> spec text) into `db`.

        `legacy`: tables of the legacy database (`legacy` connection); `suites`: suite name
        -> text; `connections`: more connections, name -> YAML flow mapping; `settings`:
        more top-level `ferryman.yaml` text (gates, dry_run, ...).
        """
        project = self.root / "project"
        (project / "mappings" / "specs").mkdir(parents=True, exist_ok=True)
        write_legacy(self.legacy, legacy or {})
        more = "".join(f"  {k}: {v}\n" for k, v in (connections or {}).items())
        defaults = f"defaults:\n  batch_size: {batch_size}\n" if batch_size else ""
        (project / "ferryman.yaml").write_text(
            f"name: {name}\nconnections:\n"
            f"  legacy: {{kind: sql, url: 'sqlite:///{self.legacy}'}}\n"
            f"  target: {{kind: sql, url: '${{T_URL}}'}}\n{more}{defaults}{settings}",
            encoding="utf-8",
        )
        for table, text in specs.items():
            (project / "mappings" / "specs" / f"{table}.yaml").write_text(text, encoding="utf-8")
        if suites:
            (project / "validations" / "suites").mkdir(parents=True, exist_ok=True)
            for suite, text in suites.items():
                path = project / "validations" / "suites" / f"{suite}.yaml"
                path.write_text(text, encoding="utf-8")
        self.monkeypatch.setenv("T_URL", db.url)
        return project
