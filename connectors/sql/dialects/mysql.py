"""MariaDB and MySQL: LOAD DATA LOCAL when the server allows it (else PyMySQL's packed
executemany), AUTO_INCREMENT counters, prefix indexes on text, and a dry run that never
commits although every CREATE commits implicitly there.

A dry run's new tables are created as TEMPORARY tables: shadow tables only its connection
sees, which the server drops when the connection closes, however the process ends. CREATE
INDEX on them would commit too, so index DDL is recorded and not run; any other DDL is
refused, because it would commit the dry run's writes for real.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import pyarrow as pa
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.schema import CreateIndex, CreateTable
from sqlalchemy.sql.expression import Executable

from ferryman.connectors.sql import mysqlload
from ferryman.connectors.sql.dialects.base import DdlElement, SqlDialect
from ferryman.connectors.target import TargetCapabilities

_TEMPORARY = re.compile(r"\s*CREATE\s+TEMPORARY", re.IGNORECASE)
INDEX_PREFIX = 255
"""Characters of a TEXT column an index covers (MariaDB cannot index TEXT whole)."""


class MySqlDialect(SqlDialect):
    name = "mysql"
    capabilities = TargetCapabilities(
        transactional_ddl=False,
        native_bulk_load=False,
        supports_upsert=True,
        has_schemas=False,
        max_identifier_length=64,
        max_bind_parameters=65535,
    )

    def __init__(self, schema: str | None = None) -> None:
        super().__init__(schema)
        self.load_data: bool | None = None
        """May this target use LOAD DATA? Asked once (None: not yet)."""

    def prepare_engine(self, engine: Engine) -> None:
        mysqlload.local_files_on_demand(engine)

    def insert(self, conn: Connection, table: sa.Table, data: pa.Table) -> int:
        dbapi = conn.connection.driver_connection
        if self.may_load_data(conn):
            return mysqlload.load(dbapi, table.name, data)
        return mysqlload.executemany(dbapi, table.name, data)

    def may_load_data(self, conn: Connection) -> bool:
        """Whether the server takes LOAD DATA LOCAL (`local_infile`)."""
        if self.load_data is None:
            value = conn.exec_driver_sql("SELECT @@GLOBAL.local_infile").scalar()
            self.load_data = str(value).upper() in ("1", "ON")
        return self.load_data

    def index_options(self, columns: Sequence[sa.Column[Any]]) -> dict[str, Any]:
        prefixes = {
            c.name: INDEX_PREFIX
            for c in columns
            if isinstance(c.type, sa.Text)
            or (isinstance(c.type, sa.String) and c.type.length is None)
        }
        return {"mysql_length": prefixes} if prefixes else {}

    def read_counters(self, conn: Connection) -> dict[str, int | None]:
        rows = conn.execute(
            sa.text(
                "SELECT TABLE_NAME, AUTO_INCREMENT FROM information_schema.TABLES"
                " WHERE TABLE_SCHEMA = DATABASE() AND AUTO_INCREMENT IS NOT NULL"
                " ORDER BY TABLE_NAME"
            )
        ).all()
        return {r[0]: int(r[1]) for r in rows}

    def restore_counter(self, conn: Connection, name: str, value: int | None) -> None:
        quoted = conn.dialect.identifier_preparer.quote(name)
        conn.execute(sa.text(f"ALTER TABLE {quoted} AUTO_INCREMENT = {int(value or 1)}"))

    def dry_run_ddl(self, conn: Connection, element: DdlElement) -> Executable:
        if isinstance(element, CreateIndex):
            return sa.text("SELECT 1")  # would commit; the caller recorded it
        shadow = CreateTable(element.element, include_foreign_key_constraints=[])
        create = str(shadow.compile(dialect=conn.dialect)).strip()
        return sa.text(re.sub(r"^CREATE\s+TABLE", "CREATE TEMPORARY TABLE", create))

    def dry_run_allows(self, statement: str) -> bool:
        return bool(_TEMPORARY.match(statement))
