"""The flow's LookupProvider: `lookup:` steps of the specs answered from the target (tables
loaded earlier in the run: `Target.lookup`) and from SQL source connections
(`Source.lookup`), one query per batch and lookup for the batch's distinct codes
(`ferryman.mappings.lookups` documents the interface). How codes are matched is the
connector's business. File lookups never reach this module: mappings reads those CSV
files itself.

`check_lookups` is the check `ferryman check` (and every run) makes before anything is
written: each table lookup names a table that is there (target lookups: loaded by a spec
of the same run, or already in the target; source lookups: in the source) and key and
value columns it has, each problem positioned in its spec file with a did-you-mean.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pyarrow as pa
from pydantic import ValidationError

from ferryman.connectors.base import Connector, Source, Target
from ferryman.connectors.errors import ConnectorError, TerminalError
from ferryman.mappings.lookups import LookupSpec
from ferryman.mappings.model import MappingSpec
from ferryman.suggest import did_you_mean
from ferryman.yaml_positions import SpecIssue

if TYPE_CHECKING:
    from ferryman.flows.project.plan import Plan


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


SourceOpener = Callable[[], Source]
"""Opens one source connection (built by its connection kind)."""


class Lookups:
    """LookupProvider over the target and the source connections of a project.

    `sources` maps a connection name to how to open it; it is opened on first use (its
    own connections: the run's source of that name keeps its own) and closed by close().
    """

    def __init__(self, target: Target, sources: Mapping[str, SourceOpener] | None = None):
        self.target = target
        self._openers = dict(sources or {})
        self._sources: dict[str, Source] = {}

    def close(self) -> None:
        for source in self._sources.values():
            source.close()
        self._sources.clear()

    def fetch(self, lookup: LookupSpec, keys: pa.Array) -> pa.Table:
        codes = [k for k in keys.to_pylist() if k is not None]
        try:
            if lookup.kind == "target":
                with self.target.connect() as conn:
                    return self.target.lookup(conn, lookup.table, lookup.key, lookup.value, codes)
            if lookup.kind == "source":
                source = self._source(lookup.connection or "")
                return source.lookup(lookup.table, lookup.key, lookup.value, codes)
        except TerminalError as err:
            raise LookupTableError(f"{lookup.describe()}: {err}") from err
        raise LookupTableError(f"{lookup.describe()}: file lookups are read by the mapping itself")

    def _source(self, name: str) -> Source:
        if name not in self._openers:
            raise LookupTableError(
                f"lookup connection {name!r} is not a SQL connection of this project;"
                " `ferryman check` names the connections a source lookup may use"
            )
        if name not in self._sources:
            self._sources[name] = self._openers[name]()
        return self._sources[name]


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
    """Reads table and column names once per connection (a failed connection is said
    once, at its first lookup)."""

    def __init__(self, plan: Plan) -> None:
        self.plan = plan
        self.project = plan.project
        self.produced = {s.target: s for s in plan.specs}
        self._open: dict[str, Connector] = {}
        self._tables: dict[str, set[str] | None] = {}  # None: the connection failed
        self._columns: dict[tuple[str, str], list[str]] = {}

    def close(self) -> None:
        for connector in self._open.values():
            connector.close()

    def check(self, lk: _Lookup) -> list[SpecIssue]:
        if lk.connection is None and lk.table in self.produced:
            producer = self.produced[lk.table]
            where = f"the fields of {self.project.display(self.plan.files[lk.table])}"
            return self._column_issues(lk, list(producer.fields), where)
        name = lk.connection if lk.connection is not None else self.project.spec.target
        connector = self._connector(name, target=lk.connection is None)
        if connector is None:
            return []  # a connection the plan's own checks refuse
        try:
            tables = self._table_names(name, connector)
        except ConnectorError as err:
            self._tables[name] = None  # said once, at this first lookup
            message = f"cannot check the lookup table: {err}"
            return [self._issue(lk, lk.table_path, message)]
        if tables is None:
            return []
        where = (
            f"source connection {name!r}" if lk.connection else f"the target (connection {name!r})"
        )
        if lk.table not in tables:
            return [self._issue(lk, lk.table_path, self._missing_table(lk, tables, where))]
        columns = self._column_names(name, connector, lk.table)
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

    def _connector(self, name: str, target: bool) -> Connector | None:
        """The target, or a source lookups may read (a SQL one: the plan refuses others),
        built by its connection kind; None when it cannot be built."""
        raw = self.project.spec.connections.get(name)
        if raw is None or (not target and raw.get("kind") != "sql"):
            return None
        if name not in self._open:
            try:
                kind = self.project.connection_kind(name)
                options = self.project.connection_options(name)
                built = (
                    kind.build_target(name, options) if target else kind.build_source(name, options)
                )
            except (ValidationError, KeyError, ValueError, LookupError):
                return None  # the project's connection check reports it
            self._open[name] = built
        return self._open[name]

    def _table_names(self, name: str, connector: Connector) -> set[str] | None:
        if name not in self._tables:
            if isinstance(connector, Target):
                with connector.connect() as conn:
                    names = connector.table_names(conn, views=True)
            else:
                assert isinstance(connector, Source)
                names = connector.lookup_tables()
            self._tables[name] = set(names)
        return self._tables[name]

    def _column_names(self, name: str, connector: Connector, table: str) -> list[str]:
        if (name, table) not in self._columns:
            if isinstance(connector, Target):
                with connector.connect() as conn:
                    found = connector.column_names(conn, table)
            else:
                assert isinstance(connector, Source)
                found = connector.columns(table)
            self._columns[(name, table)] = found
        return self._columns[(name, table)]
