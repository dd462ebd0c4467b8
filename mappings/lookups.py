"""What a mapping needs from outside the batch, behind small interfaces the flow provides.

* `LookupProvider`: the rows of a lookup table (a table in the target loaded earlier in
  the run, or a table in the source) for the codes of one batch. Called once per batch
  per lookup step, with the batch's distinct codes.
* `KeyMapStore`: the stable legacy-key -> new-key map behind `surrogate:` keys.
* CSV files in the project (value maps, file lookups) are read here, once per compile.

`CompileContext` carries them into `compile_spec`. The in-memory implementations are
for tests and for projects whose lookups are all files.
"""

from __future__ import annotations

import csv
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, Protocol

import pyarrow as pa
import pyarrow.compute as pc

from ferryman.mappings._arrow import as_text

LookupKind = Literal["target", "source", "file"]


@dataclass(frozen=True)
class LookupSpec:
    """One lookup table: where it is, and which columns hold the code and the value."""

    kind: LookupKind
    table: str
    """Table name (target or source), or the file path relative to the project."""
    key: str
    value: str
    connection: str | None = None
    """The source connection, for kind == "source"."""

    def describe(self) -> str:
        where = {"target": "target table", "source": "source table", "file": "file"}[self.kind]
        conn = f" of {self.connection}" if self.connection else ""
        return f"{where} {self.table}{conn} ({self.key} -> {self.value})"


class LookupProvider(Protocol):
    """Gives the lookup rows for some codes: the flow backs it with the target and the
    source connections (`SELECT key, value FROM table WHERE key IN (...)`)."""

    def fetch(self, lookup: LookupSpec, keys: pa.Array) -> pa.Table:
        """Rows of `lookup` whose key is one of `keys` (text): columns `key` and `value`.
        Codes without a row are simply absent; the mapping applies the unmatched policy."""
        ...


class KeyMapStore(Protocol):
    """The stable legacy-key -> new-key map behind `surrogate:` (a control table in the
    target, written in the batch's transaction)."""

    def get_or_assign(self, table: str, legacy_keys: pa.Array) -> pa.Array:
        """One int64 new key per legacy key (text, no nulls): the key given before for
        the same legacy key, else the next free one. Repeats in `legacy_keys` get the same
        new key."""
        ...


class InMemoryLookups:
    """A LookupProvider over Arrow tables held in memory, by (kind, table)."""

    def __init__(self, tables: Mapping[tuple[LookupKind, str], pa.Table] | None = None) -> None:
        self.tables: dict[tuple[LookupKind, str], pa.Table] = dict(tables or {})
        self.calls: list[tuple[LookupSpec, int]] = []

    def add(self, kind: LookupKind, table: str, data: pa.Table) -> None:
        self.tables[(kind, table)] = data

    def fetch(self, lookup: LookupSpec, keys: pa.Array) -> pa.Table:
        self.calls.append((lookup, len(keys)))
        data = self.tables.get((lookup.kind, lookup.table))
        if data is None:
            raise KeyError(f"no lookup table {lookup.describe()} in this provider")
        key_text = as_text(data.column(lookup.key).combine_chunks())
        hit = pc.is_in(key_text, value_set=as_text(keys))
        rows = pa.table({"key": key_text, "value": data.column(lookup.value).combine_chunks()})
        return rows.filter(hit)


@dataclass
class InMemoryKeyMap:
    """A KeyMapStore in a dict: new keys count from `start` per table."""

    start: int = 1
    maps: dict[str, dict[str, int]] = field(default_factory=dict)

    def get_or_assign(self, table: str, legacy_keys: pa.Array) -> pa.Array:
        known = self.maps.setdefault(table, {})
        following = max([self.start - 1, *known.values()]) + 1
        for key in pc.unique(legacy_keys).to_pylist():
            if key not in known:
                known[key] = following
                following += 1
        distinct = pa.array(list(known), pa.string())
        values = pa.array(list(known.values()), pa.int64())
        return pc.take(values, pc.index_in(legacy_keys, value_set=distinct))


@dataclass(frozen=True)
class CompileContext:
    """What compiling and running a spec may need besides the spec itself."""

    base_dir: Path | None = None
    """The project folder: files named in specs are relative to it."""
    lookups: LookupProvider | None = None
    keys: KeyMapStore | None = None
    environ: Mapping[str, str] = field(default_factory=lambda: dict(os.environ))

    def path(self, relative: str) -> Path:
        base = self.base_dir if self.base_dir is not None else Path.cwd()
        return (base / relative).resolve()


def read_csv_table(path: Path, shown: str) -> pa.Table:
    """A small lookup CSV (UTF-8, header row) as text columns; raises ValueError with
    a sentence when it cannot be used."""
    if not path.is_file():
        raise ValueError(
            f"file {shown!r} does not exist ({path}); paths are relative to the project folder"
        )
    try:
        with path.open(encoding="utf-8-sig", newline="") as fh:
            rows = list(csv.reader(fh))
    except (UnicodeDecodeError, csv.Error) as e:
        raise ValueError(f"file {shown!r} cannot be read as UTF-8 CSV: {e}") from None
    if not rows:
        raise ValueError(f"file {shown!r} is empty; it needs a header row")
    header, body = rows[0], rows[1:]
    for n, row in enumerate(body, start=2):
        if len(row) != len(header):
            raise ValueError(
                f"file {shown!r} line {n} has {len(row)} values, the header has {len(header)}"
            )
    return pa.table({h: pa.array([r[i] for r in body], pa.string()) for i, h in enumerate(header)})


def key_value_columns(
    table: pa.Table, key: str | None, value: str | None, shown: str
) -> tuple[str, str]:
    """The code and value columns of a lookup file (default: its first two)."""
    names = table.column_names
    if len(names) < 2 and (key is None or value is None):
        raise ValueError(f"file {shown!r} needs two columns (code, value), it has {names}")
    key = key if key is not None else names[0]
    value = value if value is not None else names[1]
    for role, name in (("key", key), ("value", value)):
        if name not in names:
            raise ValueError(f"file {shown!r} has no column {name!r} ({role}); it has {names}")
    return key, value
