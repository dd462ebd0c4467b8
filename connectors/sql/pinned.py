"""A SQL target seen through one connection whose transaction is never committed: what a
dry run loads through (`SqlTarget.pinned()`).

Every `begin()` is a SAVEPOINT on that one connection, every `connect()` is that
connection, so the load behaves exactly as a real one (a failed batch rolls back to its
savepoint, later tables see the rows of earlier ones, lookups and foreign-key checks see
this run's parents), and `close()` rolls the whole of it back.

Engines differ in what a transaction can undo, and the dialect says what a dry run may
send (`SqlDialect.dry_run_ddl`, `dry_run_allows`): PostgreSQL and SQLite undo DDL, so it
runs as it is; MariaDB/MySQL commit before `CREATE TABLE`, so there new tables are
TEMPORARY shadow tables and other DDL is refused. Every CREATE TABLE / CREATE INDEX is
recorded in `planned_ddl` as the real run would send it.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import Connection
from sqlalchemy.schema import CreateIndex, CreateTable, DDLElement

from ferryman.connectors.sql.dialects import DryRunRefused
from ferryman.connectors.sql.target import SqlTarget
from ferryman.connectors.target import PinnedTarget, PlannedDdl

_DDL_TEXT = re.compile(r"^\s*(CREATE|ALTER|DROP|TRUNCATE|RENAME)\b", re.IGNORECASE)

__all__ = ["DryRunRefused", "PinnedSqlTarget"]


class PinnedSqlTarget(SqlTarget, PinnedTarget):
    """`base`, pinned: takes over its engine (close this one, not both)."""

    def __init__(self, base: SqlTarget) -> None:
        super().__init__(base.name, base.options, engine=base.engine)
        self._planned: list[PlannedDdl] = []
        self.engine.dispose()  # connections made before pinning would lack the hook below
        try:
            self._conn = self.engine.connect()
        except sa_exc.OperationalError as err:
            raise self.error(err) from err
        event.listen(self._conn, "before_execute", self._before_execute, retval=True)
        self._outer = self._conn.begin()

    @property
    def planned_ddl(self) -> list[PlannedDdl]:
        return list(self._planned)

    @contextmanager
    def begin(self) -> Iterator[Connection]:
        with self._conn.begin_nested():
            yield self._conn

    @contextmanager
    def connect(self) -> Iterator[Connection]:
        yield self._conn

    def ping(self) -> None:
        try:
            self._conn.execute(sa.text("SELECT 1"))
        except sa_exc.SQLAlchemyError as err:
            raise self.error(err) from err

    def pinned(self) -> PinnedTarget:
        return self

    def close(self) -> None:
        """Roll everything back and close; the target is as it was (counters aside)."""
        try:
            if self._outer.is_active:
                self._outer.rollback()
        finally:
            self._conn.close()
            self.engine.dispose()

    def _before_execute(
        self,
        conn: Connection,
        element: Any,
        multiparams: Any,
        params: Any,
        execution_options: Any,
    ) -> tuple[Any, Any, Any]:
        if isinstance(element, CreateTable | CreateIndex):
            self._record(conn, element)
            return self.dialect.dry_run_ddl(conn, element), multiparams, params
        if isinstance(element, DDLElement) or (
            isinstance(element, sa.TextClause) and _DDL_TEXT.match(element.text)
        ):
            text = element.text if isinstance(element, sa.TextClause) else str(element)
            if not self.dialect.dry_run_allows(text):
                raise self.dialect.refusal(text)
        return element, multiparams, params

    def _record(self, conn: Connection, element: CreateTable | CreateIndex) -> None:
        if isinstance(element, CreateIndex):
            table, kind = element.element.table, "index"
        else:
            table, kind = element.element, "table"
        statement = " ".join(str(element.compile(dialect=conn.dialect)).split())
        name = table.name if table is not None else ""
        self._planned.append(PlannedDdl(name, kind, statement))
