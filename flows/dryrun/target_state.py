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

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from ferryman.connectors.sql.target import SqlTarget
from ferryman.flows.ledger.fingerprint import Fingerprint, fingerprint
from ferryman.flows.ledger.store import PREFIX

ABSENT = -1
"""Row count recorded for a table that did not exist (when a run started, say)."""

HISTORY_TABLE = f"{PREFIX}dry_runs"
"""The dry-run history: written outside the dry run on purpose, so never compared."""


def table_fingerprint(target: SqlTarget, table: str) -> Fingerprint:
    with target.engine.connect() as conn:
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


def watched_tables(target: SqlTarget, tables: Iterable[str]) -> list[str]:
    """The run's tables plus every control table present (the history excepted)."""
    with target.engine.connect() as conn:
        present = sa.inspect(conn).get_table_names(schema=target.schema)
    control = [t for t in present if t.startswith(PREFIX) and t != HISTORY_TABLE]
    return sorted({*tables, *control})


def capture(target: SqlTarget, tables: Iterable[str]) -> TargetState:
    state = TargetState()
    for table in tables:
        fp = table_fingerprint(target, table)
        state.tables[table] = (fp.rows, fp.digest)
    with target.engine.connect() as conn:
        state.schema_tables = sorted(
            t for t in sa.inspect(conn).get_table_names(schema=target.schema) if t != HISTORY_TABLE
        )
        state.counters = read_counters(conn, target.dialect)
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


def read_counters(conn: Connection, dialect: str) -> dict[str, int | None]:
    if dialect == "postgresql":
        rows = conn.execute(
            sa.text(
                "SELECT sequencename, last_value FROM pg_sequences"
                " WHERE schemaname = current_schema() ORDER BY sequencename"
            )
        ).all()
        return {r[0]: None if r[1] is None else int(r[1]) for r in rows}
    if dialect in ("mysql", "mariadb"):
        rows = conn.execute(
            sa.text(
                "SELECT TABLE_NAME, AUTO_INCREMENT FROM information_schema.TABLES"
                " WHERE TABLE_SCHEMA = DATABASE() AND AUTO_INCREMENT IS NOT NULL"
                " ORDER BY TABLE_NAME"
            )
        ).all()
        return {r[0]: int(r[1]) for r in rows}
    if dialect == "sqlite":
        has = conn.execute(
            sa.text("SELECT 1 FROM sqlite_master WHERE name = 'sqlite_sequence'")
        ).first()
        if has is None:
            return {}
        rows = conn.execute(sa.text("SELECT name, seq FROM sqlite_sequence ORDER BY name")).all()
        return {r[0]: int(r[1]) for r in rows}
    return {}


def restore_counters(target: SqlTarget, moved: dict[str, tuple[Any, Any]]) -> list[str]:
    """Put moved counters back to their before-values; returns what could not be."""
    failed = []
    for name, (value, _now) in moved.items():
        try:
            with target.engine.begin() as conn:  # one each: MariaDB's ALTER commits anyway
                _restore(conn, target.dialect, name, value)
        except sa.exc.SQLAlchemyError as err:
            failed.append(f"{name}: {str(err).splitlines()[0]}")
    return failed


def _restore(conn: Connection, dialect: str, name: str, value: int | None) -> None:
    if dialect == "postgresql":
        if value is None:  # never used before: back to "next call returns the start value"
            conn.execute(
                sa.text(
                    "SELECT setval(CAST(quote_ident(:n) AS regclass), s.start_value, false)"
                    " FROM pg_sequences s WHERE s.schemaname = current_schema()"
                    " AND s.sequencename = :n"
                ),
                {"n": name},
            )
        else:
            conn.execute(
                sa.text("SELECT setval(CAST(quote_ident(:n) AS regclass), :v, true)"),
                {"n": name, "v": value},
            )
        return
    if dialect in ("mysql", "mariadb"):
        quoted = conn.dialect.identifier_preparer.quote(name)
        conn.execute(sa.text(f"ALTER TABLE {quoted} AUTO_INCREMENT = {int(value or 1)}"))
        return
    raise sa.exc.InvalidRequestError(f"cannot restore counters on {dialect}")
