"""The connector registry: kind name -> how to build its source and/or target.

Built-ins are a table (`BUILTINS`) registered explicitly by `make_registry()`; third-party
kinds come from the entry-point group `ferryman.connectors` (each entry point loads a
`ConnectorKind`). A kind names its classes as `"module:Class"` (or gives a function that
returns the class): the module, and the driver it imports, are loaded only when a
connector of that kind is built.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from pydantic import BaseModel

from ferryman.connectors.base import Source, Target
from ferryman.connectors.registry import Registry

T = TypeVar("T")
Ref = str | Callable[[], type[T]]
"""A class, named `"package.module:Class"`, or a function returning it."""


def resolve(ref: Ref[T]) -> type[T]:
    """The class `ref` names, importing its module now."""
    if callable(ref):
        return ref()
    module, _, name = ref.partition(":")
    found: type[T] = getattr(importlib.import_module(module), name)
    return found


@dataclass(frozen=True)
class ConnectorKind:
    """A connector kind: its options model and what it can be used as (source, target)."""

    name: str
    options: Ref[BaseModel]
    source: Ref[Source] | None = None
    target: Ref[Target] | None = None
    description: str = ""

    def options_model(self) -> type[BaseModel]:
        return resolve(self.options)

    def parse_options(self, raw: Mapping[str, Any]) -> BaseModel:
        return self.options_model().model_validate(dict(raw))

    def build_source(self, name: str, raw: Mapping[str, Any]) -> Source:
        if self.source is None:
            raise ValueError(f"connection {name!r}: kind {self.name!r} cannot be read from")
        return resolve(self.source)(name, self.parse_options(raw))  # type: ignore[call-arg]

    def build_target(self, name: str, raw: Mapping[str, Any]) -> Target:
        if self.target is None:
            raise ValueError(f"connection {name!r}: kind {self.name!r} cannot be written to")
        return resolve(self.target)(name, self.parse_options(raw))  # type: ignore[call-arg]


BUILTINS: dict[str, tuple[str, str, str | None, str]] = {
    # kind: (options, source, target: "module:Class" in ferryman.connectors), description
    "sql": (
        "sql.options:SqlOptions",
        "sql.source:SqlSource",
        "sql.target:SqlTarget",
        "Any SQLAlchemy database (SQLite, PostgreSQL, MariaDB/MySQL, ...)",
    ),
    "csv": (
        "csv.options:CsvOptions",
        "csv.source:CsvSource",
        None,
        "A folder of delimited text files",
    ),
    "fixed_width": (
        "fixed_width.options:FixedWidthOptions",
        "fixed_width.source:FixedWidthSource",
        None,
        "A folder of fixed-width text files sharing one layout",
    ),
    "ebcdic": (
        "mainframe.options:EbcdicOptions",
        "mainframe.source:EbcdicSource",
        None,
        "A folder of mainframe EBCDIC record files described by COBOL copybooks",
    ),
    "dbf": (
        "dbf.options:DbfOptions",
        "dbf.source:DbfSource",
        None,
        "A folder of dBase/FoxPro .dbf tables",
    ),
    "jsonl": (
        "jsonl.options:JsonlOptions",
        "jsonl.source:JsonlSource",
        None,
        "A folder of JSON Lines files, nested fields flattened",
    ),
    "parquet": (
        "parquet.options:ParquetOptions",
        "parquet.source:ParquetSource",
        None,
        "A folder of Parquet files",
    ),
    "excel": (
        "excel.options:ExcelOptions",
        "excel.source:ExcelSource",
        None,
        "A folder of .xlsx/.xls workbooks",
    ),
}


def builtin_kinds() -> list[ConnectorKind]:
    def ref(name: str | None) -> str | None:
        return None if name is None else f"{__package__}.{name}"

    return [
        ConnectorKind(kind, f"{__package__}.{options}", ref(source), ref(target), description)
        for kind, (options, source, target, description) in BUILTINS.items()
    ]


def make_registry() -> Registry[ConnectorKind]:
    registry: Registry[ConnectorKind] = Registry("connector kind", "ferryman.connectors")
    for kind in builtin_kinds():
        registry.register(kind.name, kind)
    return registry


CONNECTORS = make_registry()
