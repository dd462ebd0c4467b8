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

from ferryman.connectors.base import Source, Target
from ferryman.connectors.registry import Registry


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
    from ferryman.connectors.sql.options import SqlOptions

    return SqlOptions


def _sql_source() -> type[Source]:
    from ferryman.connectors.sql.source import SqlSource

    return SqlSource


def _sql_target() -> type[Target]:
    from ferryman.connectors.sql.target import SqlTarget

    return SqlTarget


def _csv_options() -> type[BaseModel]:
    from ferryman.connectors.csv.options import CsvOptions

    return CsvOptions


def _csv_source() -> type[Source]:
    from ferryman.connectors.csv.source import CsvSource

    return CsvSource


def _fixed_width_options() -> type[BaseModel]:
    from ferryman.connectors.fixed_width.options import FixedWidthOptions

    return FixedWidthOptions


def _fixed_width_source() -> type[Source]:
    from ferryman.connectors.fixed_width.source import FixedWidthSource

    return FixedWidthSource


def _ebcdic_options() -> type[BaseModel]:
    from ferryman.connectors.mainframe.options import EbcdicOptions

    return EbcdicOptions


def _ebcdic_source() -> type[Source]:
    from ferryman.connectors.mainframe.source import EbcdicSource

    return EbcdicSource


def _dbf_options() -> type[BaseModel]:
    from ferryman.connectors.dbf.options import DbfOptions

    return DbfOptions


def _dbf_source() -> type[Source]:
    from ferryman.connectors.dbf.source import DbfSource

    return DbfSource


def _jsonl_options() -> type[BaseModel]:
    from ferryman.connectors.jsonl.options import JsonlOptions

    return JsonlOptions


def _jsonl_source() -> type[Source]:
    from ferryman.connectors.jsonl.source import JsonlSource

    return JsonlSource


def _parquet_options() -> type[BaseModel]:
    from ferryman.connectors.parquet.options import ParquetOptions

    return ParquetOptions


def _parquet_source() -> type[Source]:
    from ferryman.connectors.parquet.source import ParquetSource

    return ParquetSource


def _excel_options() -> type[BaseModel]:
    from ferryman.connectors.excel.options import ExcelOptions

    return ExcelOptions


def _excel_source() -> type[Source]:
    from ferryman.connectors.excel.source import ExcelSource

    return ExcelSource


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
        ConnectorKind(
            "fixed_width",
            _fixed_width_options,
            _fixed_width_source,
            None,
            "A folder of fixed-width text files sharing one layout",
        ),
        ConnectorKind(
            "ebcdic",
            _ebcdic_options,
            _ebcdic_source,
            None,
            "A folder of mainframe EBCDIC record files described by COBOL copybooks",
        ),
        ConnectorKind(
            "dbf", _dbf_options, _dbf_source, None, "A folder of dBase/FoxPro .dbf tables"
        ),
        ConnectorKind(
            "jsonl",
            _jsonl_options,
            _jsonl_source,
            None,
            "A folder of JSON Lines files, nested fields flattened",
        ),
        ConnectorKind(
            "parquet", _parquet_options, _parquet_source, None, "A folder of Parquet files"
        ),
        ConnectorKind(
            "excel", _excel_options, _excel_source, None, "A folder of .xlsx/.xls workbooks"
        ),
    ]


def make_registry() -> Registry[ConnectorKind]:
    registry: Registry[ConnectorKind] = Registry("connector kind", "ferryman.connectors")
    for kind in builtin_kinds():
        registry.register(kind.name, kind)
    return registry


CONNECTORS = make_registry()
