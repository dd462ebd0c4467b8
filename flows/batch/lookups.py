"""The flow's LookupProvider: `lookup:` steps of the specs answered from the target (tables
loaded earlier in the run) and from SQL source connections, one query per batch and lookup
for the batch's distinct codes (`ferryman.mappings.lookups` documents the interface).

Codes are text (the mapping compares them as text); the key column is compared in its own
type where that is exact (text columns, and integer columns for codes written as plain
integers, so an index on it is used), else through CAST(key AS text).
File lookups never reach this module: mappings reads those CSV files itself.

`check_lookups` is the check `ferryman check` (and every run) makes before anything is
written: each table lookup names a table that is there (target lookups: loaded by a spec
of the same run, or already in the target; source lookups: in the source) and key and
value columns it has, each problem positioned in its spec file with a did-you-mean.
"""

from __future__ import annotations

import re
from collections.abc import Hashable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import sqlalchemy as sa
from pydantic import ValidationError
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import Connection, Engine

from ferryman.connectors.sql.engine import create_engine, translate_error
from ferryman.connectors.sql.options import SqlOptions
from ferryman.connectors.sql.target import SqlTarget
from ferryman.connectors.sql.types import UuidText, adapt_reflected
from ferryman.mappings.lookups import LookupSpec
from ferryman.mappings.model import MappingSpec
from ferryman.suggest import did_you_mean
from ferryman.yaml_positions import SpecIssue

if TYPE_CHECKING:
    from ferryman.flows.project.plan import Plan

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
            adapt_reflected(table, conn.dialect.name)  # uuid and JSON values as text
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
    elif isinstance(column.type, UuidText):
        # Only canonical uuid text can equal a uuid's text form (and a native uuid column
        # refuses anything else); compare natively.
        wanted = [c for c in codes if _CANONICAL_UUID.fullmatch(c)]
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


_CANONICAL_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


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


# --- checking lookup tables before a run ----------------------------------------------------


@dataclass(frozen=True)
class _Lookup:
    """One table lookup of a spec: where it reads, and where it is written in the file."""

    spec: MappingSpec
    step: tuple[Hashable, ...]
    table: str
    key: str
    value: str
    connection: str | None  # None: the target

    @property
    def table_path(self) -> tuple[Hashable, ...]:
        return (*self.step, "table") if self.connection is None else (*self.step, "source", "table")


def _table_lookups(specs: Sequence[MappingSpec]) -> Iterator[_Lookup]:
    """The well-formed table lookups of `specs` (the step's own check reports the rest)."""
    for spec in specs:
        for path, args in lookup_steps(spec):
            key, value, source = args.get("key"), args.get("value"), args.get("source")
            if not (isinstance(key, str) and isinstance(value, str)):
                continue
            if isinstance(args.get("table"), str) and source is None:
                yield _Lookup(spec, path, args["table"], key, value, None)
            elif isinstance(source, dict):
                conn, table = source.get("connection"), source.get("table")
                if isinstance(conn, str) and isinstance(table, str):
                    yield _Lookup(spec, path, table, key, value, conn)


def check_lookups(plan: Plan) -> list[SpecIssue]:
    """Each table lookup of the plan's specs reads a table that is there, by columns it
    has (see the module doc). Connects to the target and the source connections lookups
    read, and only to those; a connection that fails is one issue, at its first lookup."""
    checker = _LookupChecker(plan)
    try:
        return [issue for lk in _table_lookups(plan.specs) for issue in checker.check(lk)]
    finally:
        checker.close()


class _LookupChecker:
    def __init__(self, plan: Plan) -> None:
        self.plan = plan
        self.project = plan.project
        self.produced = {s.target: s for s in plan.specs}
        self._engines: dict[str, Engine] = {}
        self._tables: dict[str, set[str] | None] = {}  # None: the connection failed
        self._columns: dict[tuple[str, str], list[str]] = {}

    def close(self) -> None:
        for engine in self._engines.values():
            engine.dispose()

    def check(self, lk: _Lookup) -> list[SpecIssue]:
        if lk.connection is None and lk.table in self.produced:
            producer = self.produced[lk.table]
            where = f"the fields of {self.project.display(self.plan.files[lk.table])}"
            return self._column_issues(lk, list(producer.fields), where)
        name = lk.connection if lk.connection is not None else self.project.spec.target
        options = self._sql_options(name)
        if options is None:
            return []  # not a SQL connection: the plan's own checks say so
        try:
            tables = self._table_names(name, options)
        except sa_exc.SQLAlchemyError as err:
            self._tables[name] = None  # said once, at this first lookup
            message = str(translate_error(err, name, options.url.get_secret_value()))
            return [self._issue(lk, lk.table_path, f"cannot check the lookup table: {message}")]
        if tables is None:
            return []
        where = (
            f"source connection {name!r}" if lk.connection else f"the target (connection {name!r})"
        )
        if lk.table not in tables:
            return [self._issue(lk, lk.table_path, self._missing_table(lk, tables, where))]
        columns = self._column_names(name, options, lk.table)
        return self._column_issues(lk, columns, f"table {lk.table!r} in {where}")

    def _missing_table(self, lk: _Lookup, tables: set[str], where: str) -> str:
        shown = {t for t in tables if not t.startswith("ferryman_")}
        if lk.connection is not None:
            return (
                f"lookup table {lk.table!r} does not exist in {where}."
                f"{did_you_mean(lk.table, shown)} Fix `source.table:` in the lookup"
            )
        return (
            f"lookup table {lk.table!r} does not exist in {where}, and no spec of this run"
            f" loads it.{did_you_mean(lk.table, shown | set(self.produced))} Load it first"
            " (a spec producing it, run with this one), or fix `table:` in the lookup"
        )

    def _column_issues(self, lk: _Lookup, columns: list[str], where: str) -> list[SpecIssue]:
        issues = []
        for role, column in (("key", lk.key), ("value", lk.value)):
            if column not in columns:
                message = (
                    f"lookup {role} column {column!r} is not a column of {where}."
                    f"{did_you_mean(column, columns)}"
                )
                issues.append(self._issue(lk, (*lk.step, role), message))
        return issues

    def _issue(self, lk: _Lookup, loc: tuple[Hashable, ...], message: str) -> SpecIssue:
        pos = self.plan.positions[lk.spec.target]
        line, col = pos.value(loc)
        file = self.project.display(self.plan.files[lk.spec.target])
        return SpecIssue(file, line, col, pos.format(loc), self.project.mask(message))

    def _sql_options(self, name: str) -> SqlOptions | None:
        raw = self.project.spec.connections.get(name)
        if raw is None or raw.get("kind") != "sql":
            return None
        try:
            return SqlOptions.model_validate(dict(self.project.connection_options(name)))
        except (ValidationError, KeyError, ValueError):
            return None  # the project's connection check reports it

    def _engine(self, name: str, options: SqlOptions) -> Engine:
        if name not in self._engines:
            url = options.url.get_secret_value()
            self._engines[name] = create_engine(url, options.schema_)
        return self._engines[name]

    def _table_names(self, name: str, options: SqlOptions) -> set[str] | None:
        if name not in self._tables:
            with self._engine(name, options).connect() as conn:
                inspector = sa.inspect(conn)
                names = inspector.get_table_names(schema=options.schema_)
                names += inspector.get_view_names(schema=options.schema_)
            self._tables[name] = set(names)
        return self._tables[name]

    def _column_names(self, name: str, options: SqlOptions, table: str) -> list[str]:
        if (name, table) not in self._columns:
            with self._engine(name, options).connect() as conn:
                found = sa.inspect(conn).get_columns(table, schema=options.schema_)
            self._columns[(name, table)] = [c["name"] for c in found]
        return self._columns[(name, table)]
