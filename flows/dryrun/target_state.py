"""What a target holds, as a comparable record: the tables of its schema, a fingerprint of
each table a run touches, and its sequences / auto-increment counters.

A dry run takes one before and one after, through its own connection (never the one the
dry run loads through), and proves with them that it left the target as it found it.
Counters are the one thing a rolled-back transaction does not restore (PostgreSQL's
`nextval` and InnoDB's AUTO_INCREMENT are not transactional), so they can be put back.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from ferryman.connectors.base import Target
from ferryman.connectors.errors import ConnectorError
from ferryman.flows.ledger.fingerprint import Fingerprint, fingerprint
from ferryman.flows.ledger.store import PREFIX

ABSENT = -1
"""Row count recorded for a table that did not exist (when a run started, say)."""

HISTORY_TABLE = f"{PREFIX}dry_runs"
"""The dry-run history: written outside the dry run on purpose, so never compared."""


def table_fingerprint(target: Target, table: str) -> Fingerprint:
    with target.connect() as conn:
        if not target.has_table(conn, table):
            return Fingerprint(ABSENT, 0)
        return fingerprint(target.scan(conn, table))


@dataclass
class TargetState:
    tables: dict[str, tuple[int, int]] = field(default_factory=dict)
    """Fingerprint (rows, digest) of each watched table; rows == ABSENT if missing."""
    schema_tables: list[str] = field(default_factory=list)
    counters: dict[str, int | None] = field(default_factory=dict)
    """Sequence / auto-increment name -> its next value (None: never used)."""

    def to_json(self) -> dict[str, Any]:
        return {
            "tables": {t: [r, format(d, "016x")] for t, (r, d) in self.tables.items()},
            "schema_tables": self.schema_tables,
            "counters": self.counters,
        }

    @classmethod
    def from_json(cls, doc: dict[str, Any]) -> TargetState:
        return cls(
            tables={t: (int(r), int(d, 16)) for t, (r, d) in doc["tables"].items()},
            schema_tables=list(doc["schema_tables"]),
            counters=dict(doc["counters"]),
        )


def watched_tables(target: Target, tables: Iterable[str]) -> list[str]:
    """The run's tables plus every control table present (the history excepted)."""
    with target.connect() as conn:
        present = target.table_names(conn)
    control = [t for t in present if t.startswith(PREFIX) and t != HISTORY_TABLE]
    return sorted({*tables, *control})


def capture(target: Target, tables: Iterable[str]) -> TargetState:
    state = TargetState()
    for table in tables:
        fp = table_fingerprint(target, table)
        state.tables[table] = (fp.rows, fp.digest)
    with target.connect() as conn:
        state.schema_tables = sorted(t for t in target.table_names(conn) if t != HISTORY_TABLE)
        state.counters = target.counters(conn)
    return state


def differences(before: TargetState, after: TargetState) -> list[str]:
    """What changed, for a person: empty when the target is as it was (counters aside)."""
    found = []
    for table, (rows, digest) in before.tables.items():
        now = after.tables.get(table)
        if now is None or now == (rows, digest):
            continue
        if rows == ABSENT:
            found.append(f"table {table} exists now (it did not before)")
        elif now[0] == ABSENT:
            found.append(f"table {table} is gone (it held {rows} rows)")
        else:
            found.append(f"table {table}: {rows} rows before, {now[0]} after, contents differ")
    for name in sorted(set(after.schema_tables) - set(before.schema_tables)):
        found.append(f"table {name} was created")
    for name in sorted(set(before.schema_tables) - set(after.schema_tables)):
        found.append(f"table {name} was dropped")
    return found


def moved_counters(before: TargetState, after: TargetState) -> dict[str, tuple[Any, Any]]:
    return {
        name: (value, after.counters.get(name))
        for name, value in before.counters.items()
        if name in after.counters and after.counters[name] != value
    }


def restore_counters(target: Target, moved: dict[str, tuple[Any, Any]]) -> list[str]:
    """Put moved counters back to their before-values; returns what could not be."""
    failed = []
    for name, (value, _now) in moved.items():
        try:
            target.restore_counter(name, value)
        except ConnectorError as err:
            failed.append(f"{name}: {str(err).splitlines()[0]}")
    return failed
