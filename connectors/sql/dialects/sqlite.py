"""SQLite: DDL and SAVEPOINTs inside the transaction (with pysqlite's own transaction
handling switched off), AUTOINCREMENT counters in `sqlite_sequence`."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from ferryman.connectors.sql.dialects.base import SqlDialect
from ferryman.connectors.sql.engine import sqlite_transactions
from ferryman.connectors.target import TargetCapabilities


class SqliteDialect(SqlDialect):
    name = "sqlite"
    capabilities = TargetCapabilities(
        transactional_ddl=True,
        native_bulk_load=False,
        supports_upsert=True,
        has_schemas=False,
        max_identifier_length=1024,
        max_bind_parameters=32766,
    )

    def prepare_engine(self, engine: Engine) -> None:
        # pysqlite would run CREATE TABLE outside any transaction: let SQLite's own
        # transactions do the work, so DDL is undone with the batch (and with a dry run).
        sqlite_transactions(engine)

    def read_counters(self, conn: Connection) -> dict[str, int | None]:
        has = conn.execute(
            sa.text("SELECT 1 FROM sqlite_master WHERE name = 'sqlite_sequence'")
        ).first()
        if has is None:
            return {}
        rows = conn.execute(sa.text("SELECT name, seq FROM sqlite_sequence ORDER BY name")).all()
        return {r[0]: int(r[1]) for r in rows}
