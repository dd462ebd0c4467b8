"""The bulk write paths of the SQL target, for real: PostgreSQL's binary COPY and staged
upsert, MariaDB's LOAD DATA LOCAL. Every value must come back exactly as written, every
refusal must be loud, and a journaled upsert must roll back to the exact before-images."""

from __future__ import annotations

import datetime as dt
import decimal
import random
from typing import Any

import pyarrow as pa
import pytest
import sqlalchemy as sa
from pydantic import SecretStr

from ferryman.connectors.base import ColumnSchema, TableSchema
from ferryman.connectors.errors import TerminalError, TransientError
from ferryman.connectors.sql import pgcopy
from ferryman.connectors.sql.dialects import MySqlDialect, PostgresDialect
from ferryman.connectors.sql.options import SqlOptions
from ferryman.connectors.sql.target import SqlTarget
from ferryman.flows.batch.write import WriteCounts, write_rows
from ferryman.flows.ledger.journal import Journal
from ferryman.flows.ledger.store import Ledger
from tests.conftest import Database

D = decimal.Decimal
UTC = dt.UTC

COLUMNS = (
    ColumnSchema("id", pa.int64(), nullable=False),
    ColumnSchema("small", pa.int32()),
    ColumnSchema("score", pa.float64()),
    ColumnSchema("ok", pa.bool_()),
    ColumnSchema("name", pa.string(), max_length=40),
    ColumnSchema("note", pa.string()),
    ColumnSchema("amount", pa.decimal128(12, 2)),
    ColumnSchema("wide", pa.decimal128(38, 10)),
    ColumnSchema("ratio", pa.decimal128(5, 5)),
    ColumnSchema("born", pa.date32()),
    ColumnSchema("at", pa.time64("us")),
    ColumnSchema("seen", pa.timestamp("us")),
    ColumnSchema("stamped", pa.timestamp("us", tz="UTC")),
    ColumnSchema("blob", pa.binary()),
)
SCHEMA = TableSchema("things", COLUMNS, ("id",))
ODD_TEXT = 'a,"b"\n\\.\nc\t\\N\r;é🎉'


def _things(ids: list[int], variant: int = 0) -> pa.Table:
    """Rows with edge values in every column; `variant` changes every non-key value."""
    n = len(ids)

    def pick(values: list[Any]) -> list[Any]:
        return [values[(i + variant) % len(values)] for i in range(n)]

    arrays = {
        "id": pa.array(ids, pa.int64()),
        "small": pa.array(pick([-(2**31), 2**31 - 1, None, 0, 7]), pa.int32()),
        "score": pa.array(pick([0.1, -0.0, 1e308, None, 1 / 3, -5e-324]), pa.float64()),
        "ok": pa.array(pick([True, False, None])),
        "name": pa.array(pick(["", ODD_TEXT, None, "\\N", " padded "])),
        "note": pa.array(pick(["x" * 5000, "", None, "line\nbreak"])),
        "amount": pa.array(
            pick([D("0.01"), D("-9999999999.99"), None, D("0.00"), D("1234.50")]),
            pa.decimal128(12, 2),
        ),
        "wide": pa.array(
            pick(
                [
                    D("1234567890123456789012345678.0123456789"),
                    D("-9999999999999999999999999999.9999999999"),
                    None,
                    D("-0.0000000001"),
                ]
            ),
            pa.decimal128(38, 10),
        ),
        "ratio": pa.array(
            pick([D("0.12345"), D("-0.00001"), None, D("0.00000")]), pa.decimal128(5, 5)
        ),
        "born": pa.array(
            pick([dt.date(2000, 1, 1), dt.date(1, 1, 1), dt.date(9999, 12, 31), None]), pa.date32()
        ),
        "at": pa.array(
            pick([dt.time(0), dt.time(23, 59, 59, 999999), None, dt.time(12, 0, 0, 1)]),
            pa.time64("us"),
        ),
        "seen": pa.array(
            pick(
                [
                    dt.datetime(2000, 1, 1),
                    dt.datetime(1, 1, 1),
                    None,
                    dt.datetime(1999, 12, 31, 23, 59, 59, 999999),
                ]
            ),
            pa.timestamp("us"),
        ),
        "stamped": pa.array(
            pick(
                [
                    dt.datetime(2000, 1, 1, tzinfo=UTC),
                    dt.datetime(1969, 12, 31, 23, 59, 59, 999999, tzinfo=UTC),
                    None,
                    dt.datetime(2024, 2, 29, 12, tzinfo=UTC),
                ]
            ),
            pa.timestamp("us", tz="UTC"),
        ),
        "blob": pa.array(pick([b"", b"\x00\xff\\\n\t", None, bytes(range(256))]), pa.binary()),
    }
    return pa.table(arrays)


def _target(db: Database) -> SqlTarget:
    return SqlTarget("target", SqlOptions(url=SecretStr(db.url)))


def _rows(target: SqlTarget, table: str) -> dict[int, dict[str, Any]]:
    """Every row of `table` by id, as the target reads it back."""
    with target.begin() as conn:
        columns = target.column_names(conn, table)
        rows = [r for chunk in target.scan(conn, table) for r in chunk]
    return {r[0]: dict(zip(columns, r, strict=True)) for r in rows}


def _as_written(data: pa.Table) -> dict[int, dict[str, Any]]:
    return {r["id"]: r for r in data.to_pylist()}


def _pg(target: SqlTarget) -> PostgresDialect:
    assert isinstance(target.dialect, PostgresDialect)
    return target.dialect


def _mysql(target: SqlTarget) -> MySqlDialect:
    assert isinstance(target.dialect, MySqlDialect)
    return target.dialect


def _oids(target: SqlTarget, table: str, names: list[str]) -> list[int]:
    with target.begin() as conn:
        columns = _pg(target).column_types(conn, table)
    return [columns[c][0] for c in names]


# --- PostgreSQL: binary COPY ---------------------------------------------------------------


def test_binary_copy_round_trips_every_type_exactly(postgres_db: Database) -> None:
    target = _target(postgres_db)
    data = _things(list(range(0, 40)))
    with target.begin() as conn:
        target.ensure_table(conn, SCHEMA)
    # every column of this table has an exact binary encoding: the binary path is taken
    assert pgcopy.stream(data, _oids(target, "things", data.column_names)) is not None
    with target.begin() as conn:
        assert target.insert(conn, "things", data) == 40
    assert _rows(target, "things") == _as_written(data)
    target.close()


def test_binary_and_csv_copy_store_the_same_rows(postgres_db: Database) -> None:
    target = _target(postgres_db)
    data = _things(list(range(1, 30))).drop_columns(["blob"])  # CSV cannot carry bytes
    with target.begin() as conn:
        target.ensure_table(conn, TableSchema("a", SCHEMA.columns[:-1], ("id",)))
        target.ensure_table(conn, TableSchema("b", SCHEMA.columns[:-1], ("id",)))
    oids = _oids(target, "a", data.column_names)
    with target.begin() as conn:
        pgcopy.copy_to(conn, _pg(target).qualified("a"), data, oids, binary=True)
        pgcopy.copy_to(conn, _pg(target).qualified("b"), data, oids, binary=False)
    assert _rows(target, "a") == _rows(target, "b") == _as_written(data)
    target.close()


@pytest.mark.parametrize(
    ("precision", "scale"),
    [
        (1, 0),
        (4, 4),
        (5, 5),
        (7, 1),
        (12, 2),
        (18, 4),
        (19, 0),
        (20, 3),
        (38, 0),
        (38, 10),
        (38, 38),
    ],
)
def test_decimals_of_every_shape_round_trip_through_binary_numeric(
    postgres_db: Database, precision: int, scale: int
) -> None:
    rnd = random.Random(precision * 100 + scale)
    limit = 10**precision - 1
    unscaled = [0, 1, -1, limit, -limit, 10 ** (precision - 1)]
    unscaled += [rnd.randint(-limit, limit) for _ in range(300)]
    unscaled += [rnd.randint(-(10**k), 10**k) for k in range(precision) for _ in range(3)]
    values = [D(u).scaleb(-scale, decimal.Context(prec=80)) for u in unscaled]
    t = pa.decimal128(precision, scale)
    data = pa.table({"id": pa.array(range(len(values)), pa.int64()), "v": pa.array(values, t)})
    target = _target(postgres_db)
    with target.begin() as conn:
        target.ensure_table(conn, TableSchema("d", (COLUMNS[0], ColumnSchema("v", t)), ("id",)))
        target.insert(conn, "d", data)
    back = _rows(target, "d")
    assert [back[i]["v"] for i in range(len(values))] == values
    target.close()


def test_a_naive_timestamp_into_timestamptz_is_read_as_text_would(postgres_db: Database) -> None:
    """Binary would store the naive value as UTC; text reads it in the session's zone. An
    existing table with such a column takes the text path, as before."""
    with postgres_db.engine.begin() as conn:
        conn.execute(sa.text("CREATE TABLE z (id bigint PRIMARY KEY, at timestamptz)"))
    naive = pa.array([dt.datetime(2000, 6, 1, 12, 30)], pa.timestamp("us"))
    assert pgcopy.encode_column(naive, pgcopy.TIMESTAMPTZ) is None
    target = _target(postgres_db)
    with target.begin() as conn:
        target.insert(conn, "z", pa.table({"id": pa.array([1], pa.int64()), "at": naive}))
    with postgres_db.engine.connect() as conn:
        same = conn.execute(
            sa.text("SELECT at = TIMESTAMP '2000-06-01 12:30:00'::timestamptz FROM z")
        ).scalar()
    assert same is True
    target.close()


def test_values_postgres_cannot_hold_fail_the_batch_instead_of_changing(
    postgres_db: Database,
) -> None:
    """A date or timestamp beyond PostgreSQL's range would be one of its infinities in
    binary, a decimal wider than its precision would be cut: none is encoded in binary,
    the text path hands them to PostgreSQL, which refuses them, and nothing is written."""
    target = _target(postgres_db)
    cols = (
        COLUMNS[0],
        ColumnSchema("born", pa.date32()),
        ColumnSchema("seen", pa.timestamp("us")),
        ColumnSchema("amount", pa.decimal128(5, 2)),
    )
    with target.begin() as conn:
        target.ensure_table(conn, TableSchema("r", cols, ("id",)))
    minus_infinity_date = -(2**31) + pgcopy._PG_EPOCH_DAYS  # INT32_MIN once shifted
    minus_infinity_ts = -(2**63) + pgcopy._PG_EPOCH_US  # INT64_MIN once shifted
    wide = pa.array([D("123456.78")], pa.decimal128(8, 2)).cast(pa.decimal128(5, 2), safe=False)
    ok = {
        "id": pa.array([1], pa.int64()),
        "born": pa.array([dt.date(2000, 1, 1)], pa.date32()),
        "seen": pa.array([dt.datetime(2000, 1, 1)], pa.timestamp("us")),
        "amount": pa.array([D("1.00")], pa.decimal128(5, 2)),
    }
    bad = {
        "born": pa.array([minus_infinity_date], pa.int32()).cast(pa.date32()),
        "seen": pa.array([minus_infinity_ts], pa.int64()).cast(pa.timestamp("us")),
        "amount": wide,
    }
    for column, value in bad.items():
        oid = {"born": pgcopy.DATE, "seen": pgcopy.TIMESTAMP, "amount": pgcopy.NUMERIC}[column]
        assert pgcopy.encode_column(value, oid) is None, column
        data = pa.table({**ok, column: value})
        with (
            pytest.raises(TerminalError, match=r"writing r: .*(out of range|overflow)"),
            target.begin() as conn,
        ):
            target.insert(conn, "r", data)
    assert _rows(target, "r") == {}
    target.close()


def test_an_integer_wider_than_its_column_is_refused_not_wrapped(postgres_db: Database) -> None:
    with postgres_db.engine.begin() as conn:
        conn.execute(sa.text("CREATE TABLE n (id bigint PRIMARY KEY, small integer)"))
    big = pa.array([2**40], pa.int64())
    assert pgcopy.encode_column(big, pgcopy.INT4) is None
    target = _target(postgres_db)
    data = pa.table({"id": pa.array([1], pa.int64()), "small": big})
    with pytest.raises(TerminalError, match="writing n: .*out of range"), target.begin() as conn:
        target.insert(conn, "n", data)
    target.close()


# --- PostgreSQL: staged upsert -------------------------------------------------------------


def _ledger(target: SqlTarget) -> Ledger:
    ledger = Ledger(target)
    ledger.install()
    return ledger


def _upsert(target: SqlTarget, journal: Journal, rows: pa.Table, batch_no: int = 0) -> WriteCounts:
    with target.begin() as conn:
        return write_rows(
            conn,
            target,
            journal,
            run_id="r1",
            table="things",
            mode="upsert",
            key=["id"],
            batch_no=batch_no,
            rows=rows,
        )


def _preloaded(db: Database) -> tuple[SqlTarget, Journal, dict[int, dict[str, Any]]]:
    target = _target(db)
    with target.begin() as conn:
        target.ensure_table(conn, SCHEMA)
        target.insert(conn, "things", _things([1, 2, 3, 4, 5, 6]))
    return target, Journal(_ledger(target), target), _rows(target, "things")


def _incoming() -> pa.Table:
    """Keys 1-3 as they are, 4-6 with every non-key value changed, 7-9 new."""
    same = _things([1, 2, 3, 4, 5, 6]).slice(0, 3)
    changed = _things([4, 5, 6], variant=1)
    new = _things([7, 8, 9], variant=2)
    return pa.concat_tables([new.slice(0, 1), changed, same, new.slice(1)])


def test_staged_upsert_counts_and_hands_back_exact_before_images(postgres_db: Database) -> None:
    target, _, before = _preloaded(postgres_db)
    incoming = _incoming()
    with target.begin() as conn:
        assert _pg(target).stages_upsert(conn, "things", ["id"])
        done = target.upsert(conn, "things", ["id"], incoming)
    ids = incoming.column("id").to_pylist()
    assert sorted(ids[i] for i in done.inserted) == [7, 8, 9]
    assert [ids[i] for i in done.updated] == [4, 5, 6]  # in row order
    assert done.before == [before[4], before[5], before[6]]  # every column, exact types
    after = _rows(target, "things")
    assert after == {**before, **_as_written(incoming)}
    target.close()


def test_staged_upsert_matches_the_comparing_path(postgres_db: Database) -> None:
    """The same batch through PostgreSQL's staged upsert and through the generic one
    (fetch, compare, insert, update): same counts, journal and table."""
    results = []
    for staged in (True, False):
        with postgres_db.engine.begin() as conn:
            conn.execute(sa.text("DROP TABLE IF EXISTS things"))
            conn.execute(sa.text("DROP TABLE IF EXISTS ferryman_journal"))
        target, journal, _ = _preloaded(postgres_db)
        if not staged:
            _pg(target).stages_upsert = lambda *_: False  # type: ignore[method-assign]
        counts = _upsert(target, journal, _incoming())
        with target.begin() as conn:
            entries = [(e.op, e.payload) for e in journal.entries(conn, "r1", "things")]
        results.append((counts, counts.written, entries, _rows(target, "things")))
        target.close()
    (c1, w1, e1, t1), (c2, w2, e2, t2) = results
    assert (c1.inserted, c1.updated, c1.unchanged) == (3, 3, 3)
    assert c1 == c2
    assert w1 is not None
    assert w2 is not None
    assert w1.equals(w2)
    assert e1 == e2
    assert t1 == t2


def test_staged_upsert_rolls_back_to_the_exact_before_images(postgres_db: Database) -> None:
    target, journal, before = _preloaded(postgres_db)
    _upsert(target, journal, _incoming(), batch_no=0)
    _upsert(target, journal, _things([1, 7, 10], variant=3), batch_no=1)  # updates again
    with target.begin() as conn:
        journal.undo(conn, "things", journal.entries(conn, "r1", "things"))
    assert _rows(target, "things") == before
    target.close()


def test_rerunning_an_upsert_changes_nothing(postgres_db: Database) -> None:
    target, journal, _ = _preloaded(postgres_db)
    first = _upsert(target, journal, _incoming())
    table = _rows(target, "things")
    again = _upsert(target, journal, _incoming(), batch_no=1)
    assert (again.inserted, again.updated, again.unchanged) == (0, 0, 9)
    assert again.written is not None
    assert again.written.num_rows == 0
    assert first.loaded == again.loaded == 9
    assert _rows(target, "things") == table
    target.close()


def test_upsert_without_a_unique_key_takes_the_comparing_path(postgres_db: Database) -> None:
    with postgres_db.engine.begin() as conn:
        conn.execute(sa.text("CREATE TABLE loose (id bigint NOT NULL, name text)"))
        conn.execute(sa.text("INSERT INTO loose VALUES (1, 'old'), (2, 'same')"))
    target = _target(postgres_db)
    journal = Journal(_ledger(target), target)
    rows = pa.table({"id": pa.array([1, 2, 3], pa.int64()), "name": ["new", "same", "added"]})
    with target.begin() as conn:
        assert not _pg(target).stages_upsert(conn, "loose", ["id"])
        counts = write_rows(
            conn,
            target,
            journal,
            run_id="r",
            table="loose",
            mode="upsert",
            key=["id"],
            batch_no=0,
            rows=rows,
        )
    assert (counts.inserted, counts.updated, counts.unchanged) == (1, 1, 1)
    with postgres_db.engine.connect() as conn:
        got = conn.execute(sa.text("SELECT id, name FROM loose ORDER BY id")).all()
    assert [tuple(r) for r in got] == [(1, "new"), (2, "same"), (3, "added")]
    target.close()


def test_staged_upsert_with_a_composite_key_and_with_a_key_only_table(
    postgres_db: Database,
) -> None:
    target = _target(postgres_db)
    pair = (ColumnSchema("a", pa.int32(), False), ColumnSchema("b", pa.string(), False))
    with target.begin() as conn:
        target.ensure_table(
            conn, TableSchema("pairs", (*pair, ColumnSchema("v", pa.int64())), ("a", "b"))
        )
        target.ensure_table(conn, TableSchema("keys", pair, ("a", "b")))
        for name, extra in (("pairs", {"v": pa.array([10, 20], pa.int64())}), ("keys", {})):
            target.insert(
                conn, name, pa.table({"a": pa.array([1, 1], pa.int32()), "b": ["x", "y"], **extra})
            )
    incoming = {"a": pa.array([1, 1, 2], pa.int32()), "b": ["x", "y", "x"]}
    with target.begin() as conn:
        assert _pg(target).stages_upsert(conn, "pairs", ["a", "b"])
        done = target.upsert(
            conn,
            "pairs",
            ["a", "b"],
            pa.table({**incoming, "v": pa.array([10, 21, 30], pa.int64())}),
        )
        assert (done.inserted, done.updated) == ([2], [1])
        assert done.before == [{"a": 1, "b": "y", "v": 20}]
        only_keys = target.upsert(conn, "keys", ["a", "b"], pa.table(incoming))
        assert (only_keys.inserted, only_keys.updated) == ([2], [])
    target.close()


def test_upserts_share_a_transaction_and_vanish_with_its_rollback(postgres_db: Database) -> None:
    target, journal, before = _preloaded(postgres_db)

    class Boom(Exception):
        pass

    def two_upserts_then_fail() -> None:
        with target.begin() as conn:
            target.upsert(conn, "things", ["id"], _things([1, 7], variant=1))
            target.upsert(conn, "things", ["id"], _things([7, 8], variant=2))  # staged again
            assert target.count(conn, "things") == 8
            raise Boom

    with pytest.raises(Boom):
        two_upserts_then_fail()
    assert _rows(target, "things") == before
    with target.begin() as conn:  # a later batch on the same pooled connection still works
        done = target.upsert(conn, "things", ["id"], _things([7], variant=2))
    assert done.inserted == [0]
    target.close()


# --- MariaDB: LOAD DATA LOCAL ----------------------------------------------------------------


MARIADB_COLUMNS = tuple(c for c in COLUMNS if c.name not in ("ratio",))


def _mariadb_things(ids: list[int]) -> pa.Table:
    """The same edge values, less those MariaDB cannot hold in these types (years before
    1000 in DATE are allowed but dates like 0001-01-01 come back as written; DOUBLE has no
    -0.0 distinct from 0.0 after a round trip, no subnormal 5e-324 in some builds)."""
    data = _things(ids).drop_columns(["ratio"])
    score = pa.array([0.1, 1e308, None, 1 / 3][i % 4] for i in range(len(ids)))
    return data.set_column(data.schema.get_field_index("score"), "score", score)


def test_load_data_round_trips_every_type_like_the_insert_path(mariadb_db: Database) -> None:
    data = _mariadb_things(list(range(0, 24)))  # key 0 included: no AUTO_INCREMENT
    tables = {}
    for how in ("load_data", "insert"):
        target = _target(mariadb_db)
        if how == "insert":
            _mysql(target).load_data = False
        name = f"t_{how}"
        with target.begin() as conn:
            target.ensure_table(conn, TableSchema(name, MARIADB_COLUMNS, ("id",)))
            assert _mysql(target).may_load_data(conn) is (how == "load_data")
            target.insert(conn, name, data)
        tables[how] = _rows(target, name)
        target.close()
    assert tables["load_data"] == tables["insert"]
    expected = _as_written(data)
    for rows in tables.values():
        for key, row in rows.items():
            want = expected[key]
            for column in ("id", "small", "name", "note", "amount", "wide", "born", "blob"):
                assert row[column] == want[column], (key, column)
            assert row["ok"] == (None if want["ok"] is None else int(want["ok"]))
            stamped = want["stamped"]
            assert row["stamped"] == (None if stamped is None else stamped.replace(tzinfo=None))


@pytest.mark.parametrize(
    ("rows", "why"),
    [
        ({"id": [1, 2], "name": ["fine", "x" * 41]}, r"Data truncated for column 'name'"),
        ({"id": [3, 3], "name": ["first", "second"]}, r"Duplicate entry '3'"),
    ],
    ids=["too-long", "duplicate-key"],
)
def test_load_data_warnings_fail_the_batch(
    mariadb_db: Database, rows: dict[str, list[Any]], why: str
) -> None:
    """LOAD DATA LOCAL would cut the string or skip the duplicate with a mere warning:
    the batch fails instead, naming the table and the warning, and nothing is written."""
    target = _target(mariadb_db)
    cols = (COLUMNS[0], ColumnSchema("name", pa.string(), max_length=40))
    with target.begin() as conn:
        target.ensure_table(conn, TableSchema("w", cols, ("id",)))
    data = pa.table({"id": pa.array(rows["id"], pa.int64()), "name": rows["name"]})
    with (
        pytest.raises(TerminalError, match=rf"LOAD DATA into w: .*{why}.*rolled back"),
        target.begin() as conn,
    ):
        target.insert(conn, "w", data)
    with target.begin() as conn:
        assert target.count(conn, "w") == 0
    target.close()


def test_the_server_cannot_pull_a_file_outside_a_load(mariadb_db: Database) -> None:
    """PyMySQL would send any file the server names while `local_infile` is on: the
    target's connections have it off except during their own LOAD DATA statement."""
    target = _target(mariadb_db)
    with target.begin() as conn:
        target.ensure_table(conn, TableSchema("f", (COLUMNS[0],), ("id",)))
    with target.engine.connect() as conn:
        dbapi = conn.connection.driver_connection
        assert dbapi is not None
        assert dbapi._local_infile is False
        with pytest.raises(RuntimeError, match="local_infile option is false"):
            dbapi.cursor().execute("LOAD DATA LOCAL INFILE '/etc/hostname' INTO TABLE f")
        conn.invalidate()  # the protocol is out of step after the refusal
    target.close()


# --- every engine ----------------------------------------------------------------------------


def test_a_key_of_zero_is_stored_as_zero(any_db: Database) -> None:
    """A one-column integer key is not AUTO_INCREMENT/serial: MariaDB would turn 0 into
    the next number."""
    target = _target(any_db)
    with target.begin() as conn:
        target.ensure_table(conn, TableSchema("k", (COLUMNS[0], COLUMNS[4]), ("id",)))
        target.insert(conn, "k", pa.table({"id": pa.array([0, 1], pa.int64()), "name": ["a", "b"]}))
    assert sorted(_rows(target, "k")) == [0, 1]
    target.close()


def test_a_key_already_there_is_a_terminal_error_naming_the_table(any_db: Database) -> None:
    """Each bulk path's driver error (psycopg's from COPY, PyMySQL's, SQLite's) comes out
    as a connector error: terminal (a retry would not help), naming the table, and the
    whole batch is undone."""
    target = _target(any_db)
    with target.begin() as conn:
        target.ensure_table(conn, TableSchema("k", (COLUMNS[0], COLUMNS[4]), ("id",)))
        target.insert(conn, "k", pa.table({"id": pa.array([1], pa.int64()), "name": ["a"]}))
    data = pa.table({"id": pa.array([2, 1], pa.int64()), "name": ["b", "again"]})
    with (
        pytest.raises(TerminalError, match=r"(writing|LOAD DATA into) k\b") as info,
        target.begin() as conn,
    ):
        target.insert(conn, "k", data)
    assert not isinstance(info.value, TransientError)
    assert sorted(_rows(target, "k")) == [1]
    target.close()
