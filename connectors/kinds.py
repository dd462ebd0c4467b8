"""The connector registry: kind name -> how to build its source and/or target.

Built-ins are registered explicitly by `builtin_kinds()`; third-party kinds come from the
entry-point group `ferryman.connectors` (each entry point loads a `ConnectorKind`). Driver
modules are imported only when a connector of that kind is built.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel

from connectors.base import Source, Target
from connectors.registry import Registry


@dataclass(frozen=True)
class ConnectorKind:
    """A connector kind: its options model and factories for what it can be used as."""

    name: str
    options: Callable[[], type[BaseModel]]
    source: Callable[[], type[Source]] | None = None
    target: Callable[[], type[Target]] | None = None
    description: str = ""

    def parse_options(self, raw: Mapping[str, Any]) -> BaseModel:
        return self.options().model_validate(dict(raw))

    def build_source(self, name: str, raw: Mapping[str, Any]) -> Source:
        if self.source is None:
            raise ValueError(f"connection {name!r}: kind {self.name!r} cannot be read from")
        return self.source()(name, self.parse_options(raw))  # type: ignore[call-arg]

    def build_target(self, name: str, raw: Mapping[str, Any]) -> Target:
        if self.target is None:
            raise ValueError(f"connection {name!r}: kind {self.name!r} cannot be written to")
        return self.target()(name, self.parse_options(raw))  # type: ignore[call-arg]


def _sql_options() -> type[BaseModel]:
    from connectors.sql.options import SqlOptions

    return SqlOptions


def _sql_source() -> type[Source]:
    from connectors.sql.source import SqlSource

    return SqlSource


def _sql_target() -> type[Target]:
    from connectors.sql.target import SqlTarget

    return SqlTarget


def _csv_options() -> type[BaseModel]:
    from connectors.csv.options import CsvOptions

    return CsvOptions


def _csv_source() -> type[Source]:
    from connectors.csv.source import CsvSource

    return CsvSource


def builtin_kinds() -> list[ConnectorKind]:
    return [
        ConnectorKind(
            "sql",
            _sql_options,
            _sql_source,
            _sql_target,
            "Any SQLAlchemy database (SQLite, PostgreSQL, MariaDB/MySQL, ...)",
        ),
        ConnectorKind("csv", _csv_options, _csv_source, None, "A folder of delimited text files"),
    ]


def make_registry() -> Registry[ConnectorKind]:
    registry: Registry[ConnectorKind] = Registry("connector kind", "ferryman.connectors")
    for kind in builtin_kinds():
        registry.register(kind.name, kind)
    return registry


CONNECTORS = make_registry()
