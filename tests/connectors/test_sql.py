"""SQL source and target against SQLite, PostgreSQL and MariaDB for real."""

from __future__ import annotations

import datetime as dt
import decimal

import pyarrow as pa
import pytest
import sqlalchemy as sa
from pydantic import SecretStr

from connectors.base import ROW_POSITION, ColumnSchema, Position, TableSchema
from connectors.errors import ConnectionFailed, TerminalError
from connectors.sql.options import SqlOptions
from connectors.sql.source import SqlSource
from connectors.sql.target import SqlTarget
from tests.conftest import Database


def _options(url: str) -> SqlOptions:
    return SqlOptions(url=SecretStr(url))


def _seed(db: Database, rows: int = 23) -> None:
    with db.engine.begin() as conn:
        conn.execute(
            sa.text(
                "CREATE TABLE legacy (id INTEGER PRIMARY KEY, name VARCHAR(20), amt NUMERIC(10,2))"
            )
        )
        if not rows:
            return
        conn.execute(
            sa.text("INSERT INTO legacy (id, name, amt) VALUES (:id, :name, :amt)"),
            [{"id": i, "name": f"n{i}", "amt": f"{i}.50"} for i in range(rows, 0, -1)],
        )


def test_source_streams_in_bounded_batches_in_key_order(any_db: Database) -> None:
    _seed(any_db)
    src = SqlSource("legacy", _options(any_db.url))
    batches = list(src.read_batches("legacy", batch_size=10))
    src.close()
    assert [b.num_rows for b in batches] == [10, 10, 3]
    ids = [i for b in batches for i in b.data.column("id").to_pylist()]
    assert ids == list(range(1, 24))
    assert batches[1].start == Position(rows=10)
    assert batches[1].end == Position(rows=20)
    assert batches[0].data.column(ROW_POSITION)[0].as_py() == "legacy id=1"
    # NUMERIC is read as text: every digit kept, the mapping decides the scale
    assert batches[0].data.column("amt")[0].as_py() in ("1.50", "1.5")


def test_source_resumes_after_a_position(any_db: Database) -> None:
    _seed(any_db)
    src = SqlSource("legacy", _options(any_db.url))
    rest = list(src.read_batches("legacy", batch_size=10, after=Position(rows=20)))
    src.close()
    assert [i for b in rest for i in b.data.column("id").to_pylist()] == [21, 22, 23]


def test_source_empty_table_yields_nothing(any_db: Database) -> None:
    _seed(any_db, rows=0)
    src = SqlSource("legacy", _options(any_db.url))
    assert list(src.read_batches("legacy", batch_size=10)) == []
    assert src.columns("legacy") == ["id", "name", "amt"]


def test_sqlite_without_key_reads_in_rowid_order_with_positions(sqlite_db: Database) -> None:
    with sqlite_db.engine.begin() as conn:
        conn.execute(sa.text("CREATE TABLE T (A TEXT)"))
        conn.execute(sa.text("INSERT INTO T VALUES ('x'), (12), ('z')"))  # mixed types, as legacy
    src = SqlSource("l", _options(sqlite_db.url))
    (batch,) = list(src.read_batches("T", batch_size=10))
    assert batch.data.column("A").to_pylist() == ["x", "12", "z"]
    assert batch.data.column(ROW_POSITION).to_pylist() == ["T rowid=1", "T rowid=2", "T rowid=3"]


def test_missing_table_is_a_terminal_error(sqlite_db: Database) -> None:
    src = SqlSource("legacy", _options(sqlite_db.url))
    with pytest.raises(TerminalError, match="NOPE"):
        src.columns("NOPE")


def test_unreachable_server_names_the_connection_not_the_password() -> None:
    target = SqlTarget("target", _options("postgresql://bob:hunter2@127.0.0.1:1/x"))
    with pytest.raises(ConnectionFailed) as info:
        target.ping()
    message = str(info.value)
    assert "'target'" in message
    assert "hunter2" not in message
    assert "***" in message


SCHEMA = TableSchema(
    name="clean",
    columns=(
        ColumnSchema("id", pa.int32(), nullable=False),
        ColumnSchema("name", pa.string(), max_length=20),
        ColumnSchema("amount", pa.decimal128(10, 2)),
        ColumnSchema("born", pa.date32()),
        ColumnSchema("ok", pa.bool_()),
    ),
    primary_key=("id",),
)


def _rows(ids: list[int]) -> pa.Table:
    return pa.table(
        {
            "id": pa.array(ids, pa.int32()),
            "name": pa.array([f"é{i}" for i in ids]),
            "amount": pa.array([decimal.Decimal("12500.25")] * len(ids), pa.decimal128(10, 2)),
            "born": pa.array([dt.date(1999, 12, 31)] * len(ids), pa.date32()),
            "ok": pa.array([True] * len(ids)),
        }
    )


def test_target_creates_inserts_and_finds_existing_keys(any_db: Database) -> None:
    target = SqlTarget("target", _options(any_db.url))
    with target.begin() as conn:
        assert target.ensure_table(conn, SCHEMA) == []
        assert target.insert(conn, "clean", _rows([1, 2, 3])) == 3
    with target.begin() as conn:
        found = target.existing_keys(
            conn, "clean", ["id"], pa.table({"id": pa.array([2, 3, 9], pa.int32())})
        )
        assert sorted(found.column("id").to_pylist()) == [2, 3]
        assert target.count(conn, "clean") == 3
    with any_db.engine.connect() as conn:
        row = conn.execute(sa.text("SELECT name, amount, born FROM clean WHERE id = 1")).one()
    # raw SQL: SQLite hands back its storage classes, the servers their native types
    assert (row[0], decimal.Decimal(str(row[1])), str(row[2])) == (
        "é1",
        decimal.Decimal("12500.25"),
        "1999-12-31",
    )
    target.close()


def test_target_insert_is_undone_with_its_transaction(any_db: Database) -> None:
    target = SqlTarget("target", _options(any_db.url))
    with target.begin() as conn:
        target.ensure_table(conn, SCHEMA)

    class Boom(Exception):
        pass

    def insert_then_fail() -> None:
        with target.begin() as conn:
            target.insert(conn, "clean", _rows(list(range(1, 2001))))
            raise Boom

    with pytest.raises(Boom):
        insert_then_fail()
    with target.begin() as conn:
        assert target.count(conn, "clean") == 0
    target.close()


def test_existing_table_that_does_not_fit_is_reported(any_db: Database) -> None:
    with any_db.engine.begin() as conn:
        conn.execute(sa.text("CREATE TABLE clean (id INTEGER PRIMARY KEY, name VARCHAR(20))"))
    target = SqlTarget("target", _options(any_db.url))
    with target.begin() as conn:
        problems = target.ensure_table(conn, SCHEMA)
    target.close()
    assert any("'amount' is missing" in p for p in problems)
    assert any("'born' is missing" in p for p in problems)


def test_composite_existing_keys(any_db: Database) -> None:
    schema = TableSchema(
        "pairs",
        (ColumnSchema("a", pa.int32(), False), ColumnSchema("b", pa.int32(), False)),
        ("a", "b"),
    )
    target = SqlTarget("target", _options(any_db.url))
    with target.begin() as conn:
        target.ensure_table(conn, schema)
        target.insert(
            conn,
            "pairs",
            pa.table({"a": pa.array([1, 1, 2], pa.int32()), "b": pa.array([1, 2, 1], pa.int32())}),
        )
        probe = pa.table(
            {"a": pa.array([1, 2, 2], pa.int32()), "b": pa.array([2, 1, 2], pa.int32())}
        )
        found = target.existing_keys(conn, "pairs", ["a", "b"], probe)
    target.close()
    assert sorted(
        zip(found.column("a").to_pylist(), found.column("b").to_pylist(), strict=True)
    ) == [(1, 2), (2, 1)]
