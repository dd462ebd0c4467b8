"""Any other engine SQLAlchemy reaches: the portable behaviour, with capabilities low
enough to hold everywhere (Oracle's 30-character names, SQLite's oldest bind limit)."""

from __future__ import annotations

from ferryman.connectors.sql.dialects.base import SqlDialect
from ferryman.connectors.target import TargetCapabilities


class GenericDialect(SqlDialect):
    name = "generic"
    capabilities = TargetCapabilities(
        transactional_ddl=False,
        native_bulk_load=False,
        supports_upsert=False,
        has_schemas=False,
        max_identifier_length=30,
        max_bind_parameters=999,
    )
