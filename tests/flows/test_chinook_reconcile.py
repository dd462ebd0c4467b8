"""Chinook end to end: real data nobody here wrote, loaded by ferryman into PostgreSQL and
reconciled against Chinook's own PostgreSQL script.

`ferryman run` (a child process on the session's Prefect API) loads examples/chinook from
Chinook_Sqlite.sqlite into one schema, with its suites and gates. Chinook_PostgreSql.sql
is loaded into another schema of the same database. Then, per table, both must have the
same columns and types, the same row count, the same aggregates per column (count, nulls,
min, max; sum for numbers, summed character and byte lengths for text, summed epochs for
timestamps) and the same hash over every row. The run must account for every SQLite row
(read = loaded + quarantined + filtered, read = the SQLite count) and `ferryman reconcile`
must exit 0.

The script is adapted in two ways. Its DROP DATABASE / CREATE DATABASE / `\\c chinook`
lines go: the test owns a schema instead. And its N'...' literals lose the N: in
PostgreSQL N'...' is of type character(n), whose trailing spaces do not count and are
dropped on the way into varchar, so the script as written stores customer 54's city
'Edinburgh ' (and the billing_city of that customer's 7 invoices) as 'Edinburgh', while the
SQLite file, and ferryman, keep the space. Plain '...' literals keep what the script says.
"""

from __future__ import annotations

import json
import re
import shutil
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from ferryman.mappings.loader import load_specs
from tests.conftest import Database, fresh_db
from tests.flows import harness
from tests.helpers import cli

pytestmark = pytest.mark.usefixtures("prefect_harness")

PROJECT = harness.ROOT / "examples" / "chinook"
_DATABASE_LINES = re.compile(
    r"^(?:DROP DATABASE IF EXISTS chinook|CREATE DATABASE chinook|\\c chinook);\n", re.M
)
_LITERAL = re.compile(r"N?'(?:[^']|'')*'")


def reference_script(path: Path) -> str:
    """Chinook_PostgreSql.sql, runnable in the current schema, with plain string literals."""
    text = path.read_text(encoding="utf-8-sig")
    text, dropped = _DATABASE_LINES.subn("", text)
    assert dropped == 3, (
        f"{path}: expected its DROP DATABASE, CREATE DATABASE and \\c lines, found {dropped} of"
        " them; the script changed, so adapt reference_script to it"
    )
    return _LITERAL.sub(lambda m: m.group().removeprefix("N"), text)


@pytest.fixture
def reference(request: pytest.FixtureRequest, tmp_path: Path, datasets: Path) -> Iterator[Database]:
    """A schema holding Chinook as its own PostgreSQL script creates it."""
    script = reference_script(datasets / "chinook" / "Chinook_PostgreSql.sql")
    with fresh_db("postgres", request, tmp_path) as db:
        with db.engine.begin() as conn:
            driver = conn.connection.driver_connection
            assert driver is not None
            driver.execute(script)  # no parameters: psycopg sends it as one simple query
        yield db


def _columns(engine: sa.Engine) -> dict[str, list[tuple[Any, ...]]]:
    """Every table of the schema: its columns in order, with type, length and nullability."""
    query = sa.text(
        "SELECT table_name, column_name, data_type, character_maximum_length,"
        " numeric_precision, numeric_scale, is_nullable, column_default"
        " FROM information_schema.columns"
        " WHERE table_schema = current_schema() AND table_name NOT LIKE 'ferryman%'"
        " ORDER BY table_name, ordinal_position"
    )
    tables: dict[str, list[tuple[Any, ...]]] = {}
    with engine.connect() as conn:
        for table, *column in conn.execute(query):
            tables.setdefault(table, []).append(tuple(column))
    return tables


def _indexes(engine: sa.Engine) -> set[tuple[str, str]]:
    """Every index of the schema's Chinook tables (primary keys included), by name and
    definition, the schema name left out."""
    query = sa.text(
        "SELECT indexname, replace(indexdef, current_schema() || '.', '') FROM pg_indexes"
        " WHERE schemaname = current_schema() AND tablename NOT LIKE 'ferryman%'"
    )
    with engine.connect() as conn:
        return {(name, definition) for name, definition in conn.execute(query)}


def _aggregates(engine: sa.Engine, table: str, columns: list[tuple[Any, ...]]) -> dict[str, Any]:
    """Row count, and per column: count, nulls, min, max, plus a sum fitting its type."""
    exprs = {"rows": "count(*)"}
    for name, data_type, *_ in columns:
        col = f'"{name}"'
        exprs |= {
            f"{name} count": f"count({col})",
            f"{name} nulls": f"count(*) - count({col})",
            f"{name} min": f"min({col})",
            f"{name} max": f"max({col})",
        }
        if data_type in ("integer", "numeric"):
            exprs[f"{name} sum"] = f"sum({col})"
        elif data_type == "character varying":
            exprs[f"{name} characters"] = f"sum(char_length({col}))"
            exprs[f"{name} bytes"] = f"sum(octet_length({col}))"
        elif data_type.startswith("timestamp"):
            exprs[f"{name} epoch sum"] = f"sum(extract(epoch FROM {col}))"
        else:
            raise AssertionError(f"{table}.{name}: no aggregate for type {data_type}")
    select = ", ".join(exprs.values())
    with engine.connect() as conn:
        values = conn.execute(sa.text(f'SELECT {select} FROM "{table}"')).one()
    return dict(zip(exprs, values, strict=True))


def _rows_query(table: str, columns: list[tuple[Any, ...]]) -> str:
    names = ", ".join(f'"{c[0]}"' for c in columns)
    return f'SELECT ({names})::text AS row FROM "{table}"'


def _row_hash(engine: sa.Engine, table: str, columns: list[tuple[Any, ...]]) -> str:
    """md5 over every row's text form, sorted: equal hashes mean equal rows, in any order."""
    query = (
        f"SELECT md5(string_agg(row, E'\\n' ORDER BY row)) FROM ({_rows_query(table, columns)}) r"
    )
    with engine.connect() as conn:
        return str(conn.execute(sa.text(query)).scalar_one())


def _row_difference(
    ours: sa.Engine, theirs: sa.Engine, table: str, columns: list[tuple[Any, ...]]
) -> str:
    """The first rows only one side holds, for the failure message."""
    with ours.connect() as a, theirs.connect() as b:
        mine = {r for (r,) in a.execute(sa.text(_rows_query(table, columns)))}
        script = {r for (r,) in b.execute(sa.text(_rows_query(table, columns)))}
    return (
        f"only ferryman: {sorted(mine - script)[:3]}; only the script: {sorted(script - mine)[:3]}"
    )


def _source_facts(sqlite_file: Path) -> tuple[dict[str, int], list[str]]:
    """Rows per target table, counted in the SQLite file, and its non-ASCII emails."""
    specs = {s.target: s.source.stream for s in load_specs(PROJECT / "mappings" / "specs")}
    with sqlite3.connect(sqlite_file) as conn:
        counts = {
            t: conn.execute(f'SELECT count(*) FROM "{s}"').fetchone()[0] for t, s in specs.items()
        }
        emails = [e for (e,) in conn.execute("SELECT Email FROM Customer") if not e.isascii()]
    return counts, emails


def _run(project: Path, sqlite_file: Path, target: Database, api_url: str) -> dict[str, Any]:
    """`ferryman run --json` on `project` in a child process; its summary."""
    env = _env(sqlite_file, target, api_url)
    res = cli.ferryman(["run", "--project", str(project), "--json"], project, env)
    summary: dict[str, Any] = json.loads(res.stdout) if res.stdout.startswith("{") else {}
    assert res.returncode == 0, (
        f"exit {res.returncode}: {summary.get('error')} {summary.get('failed_gates')}\n"
        f"{res.stderr[-4000:]}"
    )
    assert summary["state"] == "succeeded"
    return summary


def _env(sqlite_file: Path, target: Database, api_url: str) -> dict[str, str]:
    return cli.child_env(
        api_url, CHINOOK_URL=f"sqlite:///{sqlite_file}", CHINOOK_TARGET_URL=target.url
    )


def _assert_every_row_loaded(
    summary: dict[str, Any], source_rows: dict[str, int], target: Database
) -> None:
    """read = loaded + quarantined + filtered per table, and read = the SQLite count;
    Chinook is clean, so every row loaded and the quarantine is empty."""
    tables = summary["tables"]
    assert sorted(tables) == sorted(source_rows)
    for table, t in tables.items():
        assert t["read"] == t["loaded"] + t["quarantined"] + t["filtered"], t
        counts = (t["read"], t["loaded"], t["quarantined"], t["filtered"])
        assert counts == (source_rows[table], source_rows[table], 0, 0), t["quarantine_rules"]
    with target.engine.connect() as conn:
        held = conn.execute(sa.text("SELECT count(*) FROM ferryman_quarantine")).scalar_one()
    assert held == 0


def _assert_only_the_non_ascii_email_warned(
    summary: dict[str, Any], source_rows: dict[str, int], non_ascii: list[str]
) -> None:
    """The suites ran on the real rows: the one warning is about the addresses that are
    not ASCII (found in the SQLite file, not written down here)."""
    assert non_ascii, "Chinook has a non-ASCII email; the warn rule needs one"
    warned = {table: t["warnings"] for table, t in summary["tables"].items() if t["warnings"]}
    assert list(warned) == ["customer"], warned
    (warning,) = warned["customer"]
    assert "SMTPUTF8" in warning
    assert f"{len(non_ascii)} of {source_rows['customer']} rows" in warning
    assert all(repr(e) in warning for e in non_ascii[:3]), warning


def _assert_same_schema(ours: sa.Engine, theirs: sa.Engine, script: Path) -> None:
    """Same tables, columns, types, defaults and indexes. Foreign keys: ferryman checks
    them row by row instead of creating constraints; equal rows show they hold."""
    tables = _columns(theirs)
    assert _columns(ours) == tables
    indexes = _indexes(theirs)
    created = script.read_text(encoding="utf-8-sig").count("CREATE INDEX")
    assert len(indexes) == len(tables) + created  # and a primary key per table
    assert _indexes(ours) == indexes


def _assert_same_rows(ours: sa.Engine, theirs: sa.Engine, table: str) -> int:
    """Same aggregates per column and the same hash over every row; the row count."""
    columns = _columns(theirs)[table]
    mine, script = _aggregates(ours, table, columns), _aggregates(theirs, table, columns)
    differ = {k: (mine[k], script[k]) for k in script if mine[k] != script[k]}
    assert not differ, f"{table}: (ferryman, script) differ: {differ}"
    same = _row_hash(ours, table, columns) == _row_hash(theirs, table, columns)
    assert same, f"{table}: {_row_difference(ours, theirs, table, columns)}"
    return int(mine["rows"])


def test_chinook_loads_as_its_own_postgres_script_does(
    postgres_db: Database, reference: Database, tmp_path: Path, datasets: Path, prefect_harness: str
) -> None:
    sqlite_file = datasets / "chinook" / "Chinook_Sqlite.sqlite"
    # A verbatim copy of the project, so its reports land in tmp_path, not in the repository.
    project = tmp_path / "chinook"
    shutil.copytree(PROJECT, project, ignore=shutil.ignore_patterns(".chinook"))
    summary = _run(project, sqlite_file, postgres_db, prefect_harness)

    source_rows, non_ascii_emails = _source_facts(sqlite_file)
    _assert_every_row_loaded(summary, source_rows, postgres_db)
    _assert_only_the_non_ascii_email_warned(summary, source_rows, non_ascii_emails)
    _assert_same_schema(
        postgres_db.engine, reference.engine, datasets / "chinook" / "Chinook_PostgreSql.sql"
    )
    for table, count in source_rows.items():
        assert _assert_same_rows(postgres_db.engine, reference.engine, table) == count

    # ferryman's own reconciliation (ledger and journal against the target) agrees.
    env = _env(sqlite_file, postgres_db, prefect_harness)
    res = cli.ferryman(["reconcile", summary["run_id"], "--project", str(project)], project, env)
    assert res.returncode == 0, res.stdout + res.stderr
    ok = [
        line.split(":")[0].split()[-1] for line in res.stdout.splitlines() if line.startswith("ok")
    ]
    assert sorted(ok) == sorted(source_rows), res.stdout
