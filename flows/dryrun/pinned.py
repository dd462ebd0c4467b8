"""One connection, one transaction that is never committed: what a dry run loads through.

A `PinnedEngine` stands in for the target's SQLAlchemy engine. Everything that loads asks
an engine for `begin()` or `connect()`; the pinned engine hands out the same connection
every time, inside one outer transaction, and turns each `begin()` into a SAVEPOINT. The
load therefore behaves exactly as a real one (a failed batch rolls back to its savepoint,
later tables see the rows of earlier ones, lookups and foreign-key checks see this run's
parents), and `discard()` rolls the whole of it back at the end.

Engines differ in what a transaction can undo:
- PostgreSQL and SQLite roll back DDL: tables the run creates vanish with the rollback.
  (SQLite needs pysqlite's own transaction handling switched off to do so, see `_sqlite`.)
- MariaDB/MySQL commit implicitly before `CREATE TABLE`. There, tables the dry run must
  create are created as TEMPORARY tables: shadow tables only this connection sees, which
  the server drops when the connection closes, however the process ends. `CREATE INDEX`
  on them would commit too, so index DDL is recorded and not run; any other DDL is
  refused, because it would commit the dry run's writes for real.

Every DDL statement the load issues is recorded in `ddl` as the real run would send it.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.schema import CreateIndex, CreateTable, DDLElement

from ferryman.connectors.sql.engine import sqlite_transactions
from ferryman.flows.ledger.store import PREFIX

_DDL_TEXT = re.compile(r"^\s*(CREATE|ALTER|DROP|TRUNCATE|RENAME)\b", re.IGNORECASE)


class DryRunRefused(Exception):
    """The dry run would have to run a statement the engine cannot undo."""


class PinnedEngine:
    """Engine-shaped: `begin()`, `connect()`, `dialect`, `url`, `dispose()`."""

    def __init__(self, engine: Engine) -> None:
        self.real = engine
        self.dialect = engine.dialect
        self.url = engine.url
        self.ddl: list[str] = []
        """DDL of user tables, as the real run would send it (control tables left out)."""
        self.control_tables: list[str] = []
        """ferryman's control tables the run would create (missing in this target)."""
        engine.dispose()  # connections made before pinning would not have the hooks below
        if engine.dialect.name == "sqlite":
            sqlite_transactions(engine)
        self.conn = engine.connect()
        self._shadow = engine.dialect.name in ("mysql", "mariadb")
        event.listen(self.conn, "before_execute", self._before_execute, retval=True)
        self._outer = self.conn.begin()

    @contextmanager
    def begin(self) -> Iterator[Connection]:
        with self.conn.begin_nested():
            yield self.conn

    @contextmanager
    def connect(self) -> Iterator[Connection]:
        yield self.conn

    def discard(self) -> None:
        """Roll everything back and close; the target is as it was (sequences aside)."""
        try:
            if self._outer.is_active:
                self._outer.rollback()
        finally:
            self.conn.close()
            self.real.dispose()

    dispose = discard

    def _before_execute(
        self,
        conn: Connection,
        element: Any,
        multiparams: Any,
        params: Any,
        execution_options: Any,
    ) -> tuple[Any, Any, Any]:
        if isinstance(element, CreateTable | CreateIndex):
            return self._ddl(conn, element), multiparams, params
        if isinstance(element, DDLElement) or (
            isinstance(element, sa.TextClause) and _DDL_TEXT.match(element.text)
        ):
            text = element.text if isinstance(element, sa.TextClause) else str(element)
            if self._shadow and not re.match(r"\s*CREATE\s+TEMPORARY", text, re.IGNORECASE):
                raise DryRunRefused(
                    f"the dry run would have to run `{' '.join(text.split())[:200]}`, which"
                    f" {self.dialect.name} cannot roll back. Run the real command that needs"
                    " it once (an older ferryman's control tables are upgraded by any"
                    " `ferryman run`), or dry-run against PostgreSQL or SQLite"
                )
        return element, multiparams, params

    def _ddl(self, conn: Connection, element: CreateTable | CreateIndex) -> Any:
        table = element.element if isinstance(element, CreateTable) else element.element.table
        statement = " ".join(str(element.compile(dialect=conn.dialect)).split())
        if table is not None and table.name.startswith(PREFIX):
            if isinstance(element, CreateTable):
                self.control_tables.append(table.name)
        else:
            self.ddl.append(statement)
        if not self._shadow:
            return element
        if isinstance(element, CreateIndex):
            return sa.text("SELECT 1")  # would commit on MariaDB; recorded above
        shadow = CreateTable(element.element, include_foreign_key_constraints=[])
        create = str(shadow.compile(dialect=conn.dialect)).strip()
        return sa.text(re.sub(r"^CREATE\s+TABLE", "CREATE TEMPORARY TABLE", create))
