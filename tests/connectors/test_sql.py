"""SQL source and target against SQLite, PostgreSQL and MariaDB for real."""

from __future__ import annotations

import datetime as dt
import decimal
import json
import uuid

import pyarrow as pa
import pytest
import sqlalchemy as sa
from pydantic import SecretStr

from ferryman.connectors.base import ROW_POSITION, Batch, ColumnSchema, Position, TableSchema
from ferryman.connectors.errors import ConnectionFailed, TerminalError
from ferryman.connectors.sql.options import SqlOptions
from ferryman.connectors.sql.ranges import decode_value, encode_value
from ferryman.connectors.sql.source import SqlSource
from ferryman.connectors.sql.target import SqlTarget
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
    assert batches[1].start == Position(rows=10, value={"key": ["id"], "last": [10]})
    assert batches[1].end == Position(rows=20, value={"key": ["id"], "last": [20]})
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


# --- partitioned reads: key ranges, each a resumable position -----------------------------


def _partitioned(url: str, **partition: object) -> SqlSource:
    return SqlSource("legacy", SqlOptions.model_validate({"url": url, "partition": partition}))


def _via_ledger(position: Position) -> Position:
    """A position as a resumed run gets it back: through JSON, like the ledger stores it."""
    return Position.from_json(json.loads(json.dumps(position.to_json())))


def _first_batch(src: SqlSource, stream: str, size: int) -> Batch:
    """The first batch only, closing the read (and its server-side cursor) right away."""
    batches = src.read_batches(stream, size)
    try:
        return next(iter(batches))
    finally:
        batches.close()  # type: ignore[attr-defined]


def _ids(batches: list[Batch], column: str = "id") -> list[object]:
    return [v for b in batches for v in b.data.column(column).to_pylist()]


def _check_every_resume(src: SqlSource, stream: str, size: int, expected: list[object]) -> None:
    """Read in batches of `size`, then resume after every batch: exactly the rest each time."""
    batches = list(src.read_batches(stream, size))
    assert _ids(batches) == expected
    assert [b.number for b in batches] == list(range(len(batches)))
    assert all(0 < b.num_rows <= size for b in batches)
    for before, after in zip(batches, batches[1:], strict=False):
        assert after.start == before.end
    done = 0
    for b in batches:
        done += b.num_rows
        rest = list(src.read_batches(stream, size, after=_via_ledger(b.end)))
        assert _ids(rest) == expected[done:], f"resume after batch {b.number} ({b.end})"
        assert sum(r.num_rows for r in rest) + done == len(expected)
        if rest:
            assert rest[0].start == b.end
            assert rest[-1].end.rows == len(expected)


def _seed_ids(db: Database, ids: list[int]) -> None:
    with db.engine.begin() as conn:
        conn.execute(sa.text("CREATE TABLE legacy (id INTEGER PRIMARY KEY, name VARCHAR(20))"))
        conn.execute(
            sa.text("INSERT INTO legacy (id, name) VALUES (:id, :name)"),
            [{"id": i, "name": f"n{i}"} for i in ids],
        )


@pytest.mark.parametrize("bounds", ["quantiles", "min_max"])
@pytest.mark.parametrize("size", [3, 100])
def test_partitioned_read_gives_the_rows_of_an_unpartitioned_read(
    any_db: Database, bounds: str, size: int
) -> None:
    # skewed ids: equal widths and equal counts give different ranges
    ids = [*range(1, 30), *range(1000, 1012), 5000, 99_999]
    _seed_ids(any_db, list(reversed(ids)))
    plain = SqlSource("legacy", _options(any_db.url))
    src = _partitioned(any_db.url, ranges=4, bounds=bounds)
    assert _ids(list(src.read_batches("legacy", size))) == _ids(
        list(plain.read_batches("legacy", size))
    )
    ranges = src.ranges["legacy"]
    assert len(ranges) >= 3, ranges
    assert not any(r.nulls for r in ranges), "a primary key holds no NULL: no NULL range"
    _check_every_resume(src, "legacy", size, sorted(ids))
    src.close()
    plain.close()


def test_positions_name_the_range_and_resume_at_every_range_boundary(any_db: Database) -> None:
    _seed_ids(any_db, list(range(1, 41)))
    src = _partitioned(any_db.url, ranges=4, bounds="min_max")
    batches = list(src.read_batches("legacy", 10))
    # min_max over 1..40 in 4 ranges: [..11) [11..21) [21..31) [31..]; batches of 10 end
    # exactly on the last row of each range
    assert [(r.lo, r.hi) for r in src.ranges["legacy"]] == [
        (None, 11),
        (11, 21),
        (21, 31),
        (31, None),
    ]
    ends = [b.end.value for b in batches]
    assert [(e["range"], e["last"]) for e in ends] == [(0, [10]), (1, [20]), (2, [30]), (3, [40])]
    assert all(e["bounds"] == [11, 21, 31] and e["key"] == ["id"] for e in ends)
    for n, b in enumerate(batches):
        rest = list(src.read_batches("legacy", 10, after=_via_ledger(b.end)))
        assert _ids(rest) == list(range(10 * n + 11, 41))
    # a position at the start of a range (nothing read in it yet) reads that whole range on
    for r in range(4):
        start = Position(rows=10 * r, value={**ends[0], "range": r, "last": None})
        rest = list(src.read_batches("legacy", 10, after=_via_ledger(start)))
        assert _ids(rest) == list(range(10 * r + 1, 41))
        assert rest[-1].end.rows == 40
    src.close()


def test_resume_inside_a_range_keeps_the_limits_of_the_run(any_db: Database) -> None:
    """Rows added after the run started may move the quantiles; the resumed read keeps the
    limits stored in the position, so the range it continues is the one it was in."""
    _seed_ids(any_db, list(range(1, 41)))
    src = _partitioned(any_db.url, ranges=4)
    first = _first_batch(src, "legacy", 15)  # ends inside the second range
    assert first.end.value["range"] == 1
    with any_db.engine.begin() as conn:  # new rows that shift every quantile
        conn.execute(
            sa.text("INSERT INTO legacy (id, name) VALUES (:id, 'late')"),
            [{"id": i} for i in range(100, 200)],
        )
    rest = list(src.read_batches("legacy", 15, after=_via_ledger(first.end)))
    assert _ids(rest) == [*range(16, 41), *range(100, 200)]
    assert all(b.end.value["bounds"] == first.end.value["bounds"] for b in rest)
    src.close()


def test_nullable_partition_column_with_ties_loses_and_doubles_nothing(any_db: Database) -> None:
    """A date column outside the key: many rows share a date, some have none. NULLs are a
    range of their own (read first, as an unpartitioned read orders them), ties are broken
    by the primary key, and dates travel through the position as dates."""
    with any_db.engine.begin() as conn:
        conn.execute(sa.text("CREATE TABLE legacy (id INTEGER PRIMARY KEY, born DATE)"))
        conn.execute(
            sa.text("INSERT INTO legacy (id, born) VALUES (:id, :born)"),
            [
                {"id": i, "born": None if i % 7 == 0 else dt.date(1990 + i % 4, 1, 1 + i % 3)}
                for i in range(1, 41)
            ],
        )
    src = _partitioned(any_db.url, ranges=5, column="born")
    rows = [(i, None if i % 7 == 0 else dt.date(1990 + i % 4, 1, 1 + i % 3)) for i in range(1, 41)]
    expected = [i for i, born in sorted(rows, key=lambda r: (r[1] is not None, r[1] or 0, r[0]))]
    for size in (1, 4, 1000):
        _check_every_resume(src, "legacy", size, expected)
    ranges = src.ranges["legacy"]
    assert ranges[0].nulls
    assert len(ranges) >= 4
    batches = list(src.read_batches("legacy", 4))
    assert {b.end.value["range"] for b in batches} == set(range(len(ranges)))
    assert batches[0].data.column(ROW_POSITION)[0].as_py() == "legacy id=7"
    src.close()


def test_composite_text_key_partitioned_on_its_first_column(any_db: Database) -> None:
    with any_db.engine.begin() as conn:
        conn.execute(
            sa.text(
                "CREATE TABLE legacy (region VARCHAR(10), id INTEGER, note VARCHAR(40),"
                " PRIMARY KEY (region, id))"
            )
        )
        conn.execute(
            sa.text("INSERT INTO legacy (region, id, note) VALUES (:r, :i, :n)"),
            [
                {"r": r, "i": i, "n": f"{r} {i} 'q' \\ é"}
                for r in ("east", "north", "south", "west", "zone")
                for i in range(1, 8)
            ],
        )
    src = _partitioned(any_db.url, ranges=3)
    plain = SqlSource("legacy", _options(any_db.url))
    expected = [
        v for b in plain.read_batches("legacy", 1000) for v in b.data.column("id").to_pylist()
    ]
    for size in (1, 5, 1000):
        _check_every_resume(src, "legacy", size, expected)
    # SQLite lets a TEXT key hold NULL: a (here empty) NULL range comes first there
    assert len([r for r in src.ranges["legacy"] if not r.nulls]) == 3
    first = _first_batch(src, "legacy", 5)
    assert first.end.value["key"] == ["region", "id"]
    assert first.data.column(ROW_POSITION)[0].as_py() == "legacy region=east,id=1"
    src.close()
    plain.close()


def test_partitioned_empty_table_reads_nothing(any_db: Database) -> None:
    _seed(any_db, rows=0)
    src = _partitioned(any_db.url, ranges=4)
    assert list(src.read_batches("legacy", 10)) == []
    src.close()


def test_partition_applies_only_to_the_tables_named(any_db: Database) -> None:
    _seed(any_db)
    src = _partitioned(any_db.url, ranges=4, tables=["other"])
    batches = list(src.read_batches("legacy", 10))
    assert _ids(batches) == list(range(1, 24))
    assert "range" not in batches[0].end.value
    assert src.ranges["legacy"][0].whole
    src.close()


def test_sqlite_table_without_key_is_partitioned_on_rowid(sqlite_db: Database) -> None:
    with sqlite_db.engine.begin() as conn:
        conn.execute(sa.text("CREATE TABLE T (A TEXT)"))
        conn.execute(sa.text("INSERT INTO T VALUES " + ",".join(f"('v{i}')" for i in range(30))))
    src = _partitioned(sqlite_db.url, ranges=3)
    batches = list(src.read_batches("T", 4))
    assert _ids(batches, "A") == [f"v{i}" for i in range(30)]
    assert batches[0].data.column(ROW_POSITION)[0].as_py() == "T rowid=1"
    assert batches[0].end.value["key"] == ["__ferryman_rowid"]
    for n, b in enumerate(batches):
        rest = list(src.read_batches("T", 4, after=_via_ledger(b.end)))
        assert _ids(rest, "A") == [f"v{i}" for i in range(4 * (n + 1), 30)]
    src.close()


def test_sqlite_text_key_holding_null_is_resumed_without_loss(sqlite_db: Database) -> None:
    """SQLite lets a TEXT primary key hold NULL (and sorts it first): resuming right after
    that row must not compare `id > NULL` (which matches nothing)."""
    with sqlite_db.engine.begin() as conn:
        conn.execute(sa.text("CREATE TABLE T (id TEXT PRIMARY KEY, v INTEGER)"))
        conn.execute(sa.text("INSERT INTO T VALUES (NULL, 0), ('a', 1), ('b', 2), ('c', 3)"))
    for src in (SqlSource("l", _options(sqlite_db.url)), _partitioned(sqlite_db.url, ranges=2)):
        batches = list(src.read_batches("T", 1))
        assert _ids(batches, "v") == [0, 1, 2, 3]
        assert batches[0].end.value["last"][-1] is None
        rest = list(src.read_batches("T", 1, after=_via_ledger(batches[0].end)))
        assert _ids(rest, "v") == [1, 2, 3]
        src.close()


def _in_legacy_spelling(position: Position) -> Position:
    """`position` as the SQL source spelt its key values before `ferryman.codec`."""
    names = {"$d": "decimal", "$ts": "datetime", "$date": "date", "$b": "bytes"}

    def old(value: object) -> object:
        if isinstance(value, dict):
            ((tag, text),) = value.items()
            return {names[tag]: text}
        return value

    value = dict(position.value)
    value["last"] = [old(v) for v in value["last"]]
    value["bounds"] = [old(v) for v in value["bounds"]]
    return _via_ledger(Position(position.rows, value))


def test_a_position_written_before_the_codec_still_resumes(sqlite_db: Database) -> None:
    """A run started by an earlier ferryman resumes: its positions spelt a Decimal
    `{"decimal": ...}` where they now write `{"$d": ...}`."""
    with sqlite_db.engine.begin() as conn:
        conn.execute(
            sa.text(
                "CREATE TABLE T (d DATE NOT NULL, n NUMERIC(6,2) NOT NULL, b BLOB NOT NULL,"
                " v INTEGER, PRIMARY KEY (d, n, b))"
            )
        )
        conn.execute(
            sa.text("INSERT INTO T VALUES (:d, :n, :b, :v)"),
            [
                {"d": dt.date(2024, 1, 1 + i % 3), "n": f"{i}.50", "b": bytes([i]), "v": i}
                for i in range(12)
            ],
        )
    src = _partitioned(sqlite_db.url, ranges=3)
    batches = list(src.read_batches("T", 4))
    assert batches[0].end.value["last"] == [{"$date": "2024-01-01"}, {"$d": "9.50"}, {"$b": "09"}]
    assert len(batches) == 3
    for n, b in enumerate(batches):
        rest = list(src.read_batches("T", 4, after=_in_legacy_spelling(b.end)))
        assert _ids(rest, "v") == _ids(batches[n + 1 :], "v")
    src.close()


def test_a_key_value_with_no_plain_spelling_cannot_be_a_position() -> None:
    for value in ({"a": 1}, [1], object()):
        with pytest.raises(TerminalError, match="cannot be kept in a resume position"):
            encode_value(value)
    legacy = {"uuid": "c0ffee00-0000-4000-8000-0000000000cc", "float": "-inf", "time": "01:02"}
    assert [decode_value({k: v}) for k, v in legacy.items()] == [
        uuid.UUID(legacy["uuid"]),
        float("-inf"),
        dt.time(1, 2),
    ]


def test_unique_not_null_column_partitions_a_table_without_primary_key(any_db: Database) -> None:
    with any_db.engine.begin() as conn:
        conn.execute(sa.text("CREATE TABLE legacy (code VARCHAR(8) NOT NULL UNIQUE, v INTEGER)"))
        conn.execute(
            sa.text("INSERT INTO legacy (code, v) VALUES (:c, :v)"),
            [{"c": f"K{i:04d}", "v": i} for i in range(25)],
        )
    src = _partitioned(any_db.url, ranges=4, column="code")
    batches = list(src.read_batches("legacy", 6))
    assert _ids(batches, "v") == list(range(25))
    named = "legacy rowid=1" if any_db.backend == "sqlite" else "legacy code=K0000"
    assert batches[0].data.column(ROW_POSITION)[0].as_py() == named
    for n, b in enumerate(batches):
        rest = list(src.read_batches("legacy", 6, after=_via_ledger(b.end)))
        assert _ids(rest, "v") == list(range(6 * (n + 1), 25))
    src.close()


def test_partition_settings_that_cannot_work_are_terminal_errors(any_db: Database) -> None:
    _seed(any_db)
    with any_db.engine.begin() as conn:
        conn.execute(sa.text("CREATE TABLE loose (code VARCHAR(8), v INTEGER)"))
    cases = [
        ({"ranges": 2, "column": "nope"}, "legacy", "'nope' does not exist"),
        ({"ranges": 2, "column": "name", "bounds": "min_max"}, "legacy", "bounds: quantiles"),
    ]
    if any_db.backend != "sqlite":  # SQLite orders such a table by rowid, which is unique
        cases.append(({"ranges": 2, "column": "code"}, "loose", "not unique and NOT NULL"))
        cases.append(({"ranges": 2}, "loose", "no primary key"))
    for partition, table, message in cases:
        src = _partitioned(any_db.url, **partition)
        with pytest.raises(TerminalError, match=message) as info:
            list(src.read_batches(table, 10))
        assert table in str(info.value)
        src.close()


def test_resume_with_another_key_order_is_refused(any_db: Database) -> None:
    _seed(any_db)
    src = _partitioned(any_db.url, ranges=3, column="name")
    first = _first_batch(src, "legacy", 5)
    src.close()
    plain = SqlSource("legacy", _options(any_db.url))
    with pytest.raises(TerminalError, match=r"order of \['name', 'id'\].*start a new run"):
        list(plain.read_batches("legacy", 5, after=first.end))
    plain.close()


def test_partition_options_are_checked() -> None:
    for bad in ({"ranges": 0}, {"ranges": 257}, {"ranges": 2, "bounds": "even"}, {"rnages": 2}):
        with pytest.raises(ValueError, match="partition"):
            SqlOptions.model_validate({"url": "sqlite://", "partition": bad})
