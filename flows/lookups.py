"""The flow's LookupProvider: `lookup:` steps of the specs answered from the target (tables
loaded earlier in the run) and from SQL source connections, one query per batch and lookup
for the batch's distinct codes (`mappings.lookups` documents the interface).

Codes are text (the mapping compares them as text); the key column is compared in its own
type where that is exact (text columns, and integer columns for codes written as plain
integers, so an index on it is used), else through CAST(key AS text).
File lookups never reach this module: mappings reads those CSV files itself.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

import pyarrow as pa
import sqlalchemy as sa
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import Connection, Engine

from connectors.sql.engine import create_engine
from connectors.sql.options import SqlOptions
from connectors.sql.target import SqlTarget
from mappings.lookups import LookupSpec
from mappings.model import MappingSpec

_CHUNK = 900
"""Codes per IN list: below SQLite's oldest bind limit (999)."""


class LookupTableError(Exception):
    """A lookup table cannot be read (missing table or column, unknown connection)."""


def lookup_steps(spec: MappingSpec) -> Iterator[tuple[tuple[str | int, ...], dict[str, Any]]]:
    """Every `lookup` step of a spec (its fields and its more_sources' fields), with the
    path of the step in the spec file."""
    for name, f in spec.fields.items():
        for i, step in enumerate(f.transform):
            if step.function == "lookup":
                yield ("fields", name, "transform", i, "lookup"), step.args
    for m, more in enumerate(spec.more_sources):
        for name, f in more.fields.items():
            for i, step in enumerate(f.transform):
                if step.function == "lookup":
                    path = ("more_sources", m, "fields", name, "transform", i, "lookup")
                    yield path, step.args


def source_connections(specs: Sequence[MappingSpec]) -> set[str]:
    """Source connections that `lookup: {source: ...}` steps read."""
    found = set()
    for spec in specs:
        for _, args in lookup_steps(spec):
            source = args.get("source")
            if isinstance(source, dict) and isinstance(source.get("connection"), str):
                found.add(source["connection"])
    return found


class SqlLookups:
    """LookupProvider over the target and the SQL source connections of a project.

    `sources` maps a connection name to its SqlOptions; an engine is opened on first use
    (its own pool: the source connector keeps its engine private) and closed by close().
    """

    def __init__(self, target: SqlTarget, sources: Mapping[str, SqlOptions] | None = None):
        self.target = target
        self._options = dict(sources or {})
        self._engines: dict[str, Engine] = {}
        self._tables: dict[tuple[str, str], sa.Table] = {}
        self.queries = 0
        """How many lookup queries ran (one per batch and lookup, in chunks of codes)."""

    def close(self) -> None:
        for engine in self._engines.values():
            engine.dispose()
        self._engines.clear()

    def fetch(self, lookup: LookupSpec, keys: pa.Array) -> pa.Table:
        codes = [k for k in keys.to_pylist() if k is not None]
        if lookup.kind == "target":
            with self.target.engine.connect() as conn:
                table = self._reflect(conn, "target", lookup.table, self.target.schema)
                return self._read(conn, table, lookup, codes)
        if lookup.kind == "source":
            name = lookup.connection or ""
            with self._connect(name) as conn:
                schema = self._options[name].schema_
                table = self._reflect(conn, f"source {name}", lookup.table, schema)
                return self._read(conn, table, lookup, codes)
        raise LookupTableError(f"{lookup.describe()}: file lookups are read by the mapping itself")

    @contextmanager
    def _connect(self, name: str) -> Iterator[Connection]:
        if name not in self._options:
            raise LookupTableError(
                f"lookup connection {name!r} is not a SQL connection of this project;"
                " `ferryman check` names the connections a source lookup may use"
            )
        if name not in self._engines:
            opts = self._options[name]
            self._engines[name] = create_engine(opts.url.get_secret_value(), opts.schema_)
        with self._engines[name].connect() as conn:
            yield conn

    def _reflect(self, conn: Connection, where: str, name: str, schema: str | None) -> sa.Table:
        cached = self._tables.get((where, name))
        if cached is not None:
            return cached
        try:
            table = sa.Table(name, sa.MetaData(), autoload_with=conn, schema=schema)
        except sa_exc.NoSuchTableError:
            shown = self.target.describe() if where == "target" else where
            raise LookupTableError(
                f"lookup table {name!r} does not exist in {shown}; load it first (a spec"
                " producing it runs before) or fix `table:` in the lookup"
            ) from None
        self._tables[(where, name)] = table
        return table

    def _read(
        self, conn: Connection, table: sa.Table, lookup: LookupSpec, codes: list[str]
    ) -> pa.Table:
        for role, column in (("key", lookup.key), ("value", lookup.value)):
            if column not in table.c:
                raise LookupTableError(
                    f"{lookup.describe()}: the table has no column {column!r} ({role});"
                    f" it has {', '.join(c.name for c in table.c)}"
                )
        key_col, value_col = table.c[lookup.key], table.c[lookup.value]
        keys: list[str] = []
        values: list[Any] = []
        for condition in _conditions(key_col, codes):
            self.queries += 1
            for k, v in conn.execute(sa.select(key_col, value_col).where(condition)):
                keys.append(_text(k))
                values.append(v)
        value_array = pa.array(values) if values else pa.array([], pa.string())
        return pa.table({"key": pa.array(keys, pa.string()), "value": value_array})


def _conditions(column: sa.ColumnElement[Any], codes: list[str]) -> Iterator[Any]:
    """WHERE clauses matching `column` against text `codes`, chunked below bind limits."""
    python_type = _python_type(column)
    if python_type is int:
        # Only canonical integers can equal an integer's text form; compare natively.
        wanted: list[Any] = [int(c) for c in codes if _canonical_int(c)]
    elif python_type is str:
        wanted = list(codes)
    else:
        wanted = list(codes)
        column = sa.cast(column, sa.String)
    for i in range(0, len(wanted), _CHUNK):
        yield column.in_(wanted[i : i + _CHUNK])


def _python_type(column: sa.ColumnElement[Any]) -> type | None:
    try:
        t = column.type.python_type
    except NotImplementedError:
        return None
    return t if t in (int, str) else None


def _canonical_int(code: str) -> bool:
    try:
        return str(int(code)) == code
    except ValueError:
        return False


def _text(value: Any) -> str:
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="backslashreplace")
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def sql_source_options(
    names: Sequence[str], options_of: Mapping[str, Mapping[str, Any]]
) -> dict[str, SqlOptions]:
    """SqlOptions of the named connections (their options already expanded)."""
    return {n: SqlOptions.model_validate(dict(options_of[n])) for n in names}
