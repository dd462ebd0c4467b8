"""One `SqlDialect` per engine: what differs between them, as capabilities (data) and
methods (SQL). `dialect_for` picks the one for an engine, the generic SQLAlchemy fallback
for any other."""

from __future__ import annotations

from ferryman.connectors.sql.dialects.base import DryRunRefused, SqlDialect
from ferryman.connectors.sql.dialects.generic import GenericDialect
from ferryman.connectors.sql.dialects.mysql import MySqlDialect
from ferryman.connectors.sql.dialects.postgresql import PostgresDialect
from ferryman.connectors.sql.dialects.sqlite import SqliteDialect

DIALECTS: dict[str, type[SqlDialect]] = {
    "postgresql": PostgresDialect,
    "mysql": MySqlDialect,
    "mariadb": MySqlDialect,
    "sqlite": SqliteDialect,
}
"""SQLAlchemy backend name -> its dialect."""


def dialect_for(backend: str, schema: str | None = None) -> SqlDialect:
    """A new dialect object for a target on `backend` (SQLAlchemy's `dialect.name`)."""
    return DIALECTS.get(backend, GenericDialect)(schema)


__all__ = [
    "DIALECTS",
    "DryRunRefused",
    "GenericDialect",
    "MySqlDialect",
    "PostgresDialect",
    "SqlDialect",
    "SqliteDialect",
    "dialect_for",
]
