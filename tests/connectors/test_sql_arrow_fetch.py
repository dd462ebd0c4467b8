"""Rows read back as Arrow (`SqlTarget.fetch_arrow_by_keys`, `fetch_arrow_range`) on SQLite,
PostgreSQL and MariaDB: every column type ferryman writes, with awkward values, written
through the real write path (COPY, LOAD DATA, INSERT), hashes back exactly as it was hashed
when written (the journal's after-image hashes), and exactly as the row-by-row path
(`fetch_by_keys` + `rows_to_arrow`) reads it. On PostgreSQL the COPY path must be the one
taken; a value it cannot parse exactly falls back to the row path, with the same result."""

from __future__ import annotations

import datetime as dt
import decimal
from collections.abc import Iterator
from typing import Any

import pyarrow as pa
import pytest
import sqlalchemy as sa
from pydantic import SecretStr

from ferryman.connectors.base import ColumnSchema, TableSchema
from ferryman.connectors.json_text import canonical_json
from ferryman.connectors.sql import arrow_fetch
from ferryman.connectors.sql.options import SqlOptions
from ferryman.connectors.sql.target import SqlTarget
from ferryman.flows.ledger.fingerprint import arrow_row_hashes, rows_to_arrow
from tests.conftest import Database

D = decimal.Decimal
UTC = dt.UTC
TEXTS = [
    "Müller, Hans",
    'Zoë "Z" O\'Brien',
    "a\\b\\\\N",
    "line\nbreak\r\nand\rreturn",
    "",
    None,
    "  padded  ",
    "tab\there",
    "\\N",
    "NULL",
    ",",
    '"',
    "\\.",
    "😀 emoji",
]
N = len(TEXTS)


def _column(name: str, t: pa.DataType, **kw: Any) -> ColumnSchema:
    return ColumnSchema(name, t, nullable=name != "id", **kw)


SCHEMA = TableSchema(
    "everything",
    (
        _column("id", pa.int64()),
        _column("small", pa.int32()),
        _column("ratio", pa.float64()),
        _column("flag", pa.bool_()),
        _column("name", pa.string(), max_length=60),
        _column("body", pa.string()),
        _column("amount", pa.decimal128(12, 2)),
        _column("exact", pa.decimal128(18, 4)),
        _column("day", pa.date32()),
        _column("at", pa.time64("us")),
        _column("ts", pa.timestamp("us")),
        _column("tz", pa.timestamp("us", tz="UTC")),
        _column("uid", pa.string(), max_length=36, logical="uuid"),
        _column("doc", pa.string(), logical="json"),
        _column("blob", pa.binary()),
    ),
    ("id",),
)


def _cycle(values: list[Any]) -> list[Any]:
    return [values[i % len(values)] for i in range(N)]


def _rows(backend: str) -> pa.Table:
    """N rows of every type, with the edge values each engine can store."""
    floats = [0.1, 1e-300, 1.7976931348623157e308, 1 / 3, None, 12345.678, -2.5]
    if backend == "postgres":  # MariaDB refuses the last three, SQLite stores NaN as NULL;
        # both store -0.0 as 0.0
        floats += [-0.0, float("inf"), float("-inf"), float("nan")]
    docs = ['{"b": [1, 2.50, "é"], "a": {"y": null, "x": true}}', " 1e2 ", '"text"', "[]"]
    values = {
        "id": list(range(1, N + 1)),
        "small": _cycle([0, -(2**31), 2**31 - 1, None, 7]),
        "ratio": _cycle(floats),
        "flag": _cycle([True, False, None]),
        "name": TEXTS,
        "body": _cycle(["x" * 5000, "é" * 300, None, "short"]),
        "amount": _cycle([D("12.50"), D("-1000000.00"), D("0.00"), None, D("9999999999.99")]),
        "exact": _cycle([D("12345678901.2345"), D("-0.0001"), None, D("42.0000")]),
        "day": _cycle([dt.date(2024, 2, 29), dt.date(1, 1, 1), dt.date(9999, 12, 31), None]),
        "at": _cycle([dt.time(0, 0), dt.time(23, 59, 59, 999999), dt.time(14, 5, 9, 250001), None]),
        "ts": _cycle(
            [
                dt.datetime(2024, 2, 29, 23, 59, 59, 999999),
                dt.datetime(1970, 1, 1),
                None,
                dt.datetime(1900, 1, 1, 0, 0, 0, 1),
            ]  # fmt: skip
        ),
        "tz": _cycle(
            [
                dt.datetime(2024, 2, 29, 22, 59, 59, 123456, tzinfo=UTC),
                None,
                dt.datetime(2000, 1, 1, tzinfo=UTC),
                dt.datetime(1969, 12, 31, 23, 59, tzinfo=UTC),
            ]
        ),  # fmt: skip
        "uid": _cycle(
            ["a1b2c3d4-0000-4000-8000-00000000000a", None, "c0ffee00-0000-4000-8000-0000000000cc"]
        ),
        "doc": _cycle([canonical_json(d) for d in docs] + [None]),
        "blob": _cycle([b"\x00\x01\xff", b"", None, b'\\x41,\n"']),
    }
    return pa.table({c.name: pa.array(values[c.name], c.type) for c in SCHEMA.columns})


@pytest.fixture
def loaded(any_db: Database) -> Iterator[tuple[SqlTarget, pa.Table]]:
    """A target with table `everything` created and loaded by ferryman's own write path."""
    target = SqlTarget("target", SqlOptions(url=SecretStr(any_db.url)))
    rows = _rows(any_db.backend)
    with target.begin() as conn:
        assert target.ensure_table(conn, SCHEMA) == []
        assert target.insert(conn, SCHEMA.name, rows) == N
    yield target, rows
    target.close()


def _by_id(table: pa.Table) -> pa.Table:
    return table.sort_by("id")


def _no_row_path(monkeypatch: pytest.MonkeyPatch) -> None:
    """On PostgreSQL the rows must come through COPY, not the row-by-row fallback."""

    def refuse(*_: Any) -> pa.Table:
        raise AssertionError("PostgreSQL fell back to reading row by row")

    monkeypatch.setattr(arrow_fetch, "rows_to_table", refuse)


def test_rows_hash_back_as_written(
    any_db: Database, loaded: tuple[SqlTarget, pa.Table], monkeypatch: pytest.MonkeyPatch
) -> None:
    target, rows = loaded
    written = arrow_row_hashes(rows).tolist()
    with target.engine.connect() as conn:
        # the row-by-row path, as reconciliation read rows before
        old = rows_to_arrow(
            target.fetch_by_keys(conn, SCHEMA.name, ["id"], [(i,) for i in range(1, N + 1)]),
            rows.schema,
        )
        if any_db.backend == "postgres":
            _no_row_path(monkeypatch)
        keys = pa.table({"id": pa.array([*range(1, N + 1), 404], pa.int64())})
        by_keys = target.fetch_arrow_by_keys(conn, SCHEMA.name, ["id"], keys, rows.schema)
        by_range = target.fetch_arrow_range(conn, SCHEMA.name, "id", 0, N + 5, rows.schema)
        none = target.fetch_arrow_by_keys(conn, SCHEMA.name, ["id"], keys.slice(N), rows.schema)
        empty = target.fetch_arrow_range(conn, SCHEMA.name, "id", 500, 600, rows.schema)
    assert arrow_row_hashes(_by_id(old)).tolist() == written  # the write path is exact
    for got in (by_keys, by_range):
        assert got.schema == rows.schema
        got = _by_id(got)
        assert arrow_row_hashes(got).tolist() == written
        # the hash sees a binary value's length only: compare the bytes themselves too
        assert got.column("blob").to_pylist() == rows.column("blob").to_pylist()
        assert got.drop_columns(["ratio"]).equals(_by_id(old).drop_columns(["ratio"]))
        assert [repr(v) for v in got.column("ratio").to_pylist()] == [
            repr(v) for v in rows.column("ratio").to_pylist()
        ]
    assert (none.num_rows, empty.num_rows) == (0, 0)
    assert none.schema == empty.schema == rows.schema


def test_a_subset_of_columns_and_keys(loaded: tuple[SqlTarget, pa.Table]) -> None:
    """Only the schema's columns are read (a table may have more), only the keys asked."""
    target, rows = loaded
    schema = pa.schema([rows.schema.field("id"), rows.schema.field("name")])
    keys = pa.table({"id": pa.array([3, 1, 9], pa.int64())})
    with target.engine.connect() as conn:
        got = target.fetch_arrow_by_keys(conn, SCHEMA.name, ["id"], keys, schema)
        ranged = target.fetch_arrow_range(conn, SCHEMA.name, "id", 2, 3, schema)
    assert _by_id(got).to_pylist() == [{"id": i, "name": TEXTS[i - 1]} for i in (1, 3, 9)]
    assert _by_id(ranged).to_pylist() == [{"id": i, "name": TEXTS[i - 1]} for i in (2, 3)]


PAIRS = TableSchema(
    "pairs",
    (
        ColumnSchema("region", pa.string(), nullable=False, max_length=20),
        ColumnSchema("n", pa.int32(), nullable=False),
        ColumnSchema("day", pa.date32()),
    ),
    ("region", "n"),
)


def test_composite_and_text_keys(any_db: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    """Keys of several columns, text among them (PostgreSQL: the temporary key table)."""
    target = SqlTarget("target", SqlOptions(url=SecretStr(any_db.url)))
    regions = ["north", "süd", "o'east", 'we"st', "a,b"]
    rows = pa.table(
        {
            "region": pa.array([r for r in regions for _ in range(3)]),
            "n": pa.array([n for _ in regions for n in range(3)], pa.int32()),
            "day": pa.array([dt.date(2020, 1, 1 + i) for i in range(15)]),
        }
    )
    try:
        with target.begin() as conn:
            target.ensure_table(conn, PAIRS)
            target.insert(conn, "pairs", rows)
        if any_db.backend == "postgres":
            _no_row_path(monkeypatch)
        wanted = pa.table(
            {
                "region": pa.array(["süd", "o'east", 'we"st', "nowhere", "north"]),
                "n": pa.array([2, 0, 1, 0, 7], pa.int32()),
            }
        )
        with target.engine.connect() as conn:
            got = target.fetch_arrow_by_keys(conn, "pairs", ["region", "n"], wanted, rows.schema)
            # twice on one connection: the key table of the first call is gone
            again = target.fetch_arrow_by_keys(conn, "pairs", ["region", "n"], wanted, rows.schema)
    finally:
        target.close()
    expect = {("süd", 2), ("o'east", 0), ('we"st', 1)}
    picked = [r for r in rows.to_pylist() if (r["region"], r["n"]) in expect]
    for table in (got, again):
        assert sorted(table.to_pylist(), key=lambda r: r["day"]) == picked


def test_postgres_falls_back_to_rows_for_values_copy_cannot_parse_exactly(
    postgres_db: Database,
) -> None:
    """A table ferryman did not create: numeric without a scale (more decimals than the
    schema's), a date PostgreSQL calls infinity. The COPY text of those does not fit the
    schema; the rows are then read one by one, exactly as the row path reads them."""
    with postgres_db.engine.begin() as conn:
        conn.execute(sa.text("CREATE TABLE loose (id bigint PRIMARY KEY, amount numeric)"))
        conn.execute(sa.text("INSERT INTO loose VALUES (1, 1.005), (2, 2.5), (3, NULL)"))
    target = SqlTarget("target", SqlOptions(url=SecretStr(postgres_db.url)))
    schema = pa.schema([pa.field("id", pa.int64()), pa.field("amount", pa.decimal128(12, 2))])
    keys = pa.table({"id": pa.array([1, 2, 3], pa.int64())})
    try:
        with target.engine.connect() as conn:
            old = rows_to_arrow(target.fetch_by_keys(conn, "loose", ["id"], [(1,), (2,), (3,)]),
                                schema)  # fmt: skip
            got = target.fetch_arrow_by_keys(conn, "loose", ["id"], keys, schema)
            ranged = target.fetch_arrow_range(conn, "loose", "id", 1, 3, schema)
    finally:
        target.close()
    assert _by_id(got).equals(_by_id(old))
    assert _by_id(ranged).equals(_by_id(old))
    assert _by_id(got).column("amount").to_pylist() == [D("1.00"), D("2.50"), None]


def test_postgres_settings_are_restored(postgres_db: Database) -> None:
    """The COPY path pins the session settings that spell its text for its statement only:
    the transaction goes on with the ones it had."""
    target = SqlTarget("target", SqlOptions(url=SecretStr(postgres_db.url)))
    keys = pa.table({"id": pa.array([1], pa.int64())})
    schema = pa.schema([pa.field("id", pa.int64()), pa.field("tz", pa.timestamp("us", tz="UTC"))])
    try:
        with target.begin() as conn:
            conn.execute(sa.text("CREATE TABLE zoned (id bigint PRIMARY KEY, tz timestamptz)"))
            conn.execute(sa.text("INSERT INTO zoned VALUES (1, '2024-06-01 12:00:00+02')"))
        with target.engine.connect() as conn:
            conn.execute(sa.text("SET TimeZone = 'Europe/Amsterdam'"))
            conn.execute(sa.text("SET DateStyle = 'SQL, DMY'"))
            got = target.fetch_arrow_by_keys(conn, "zoned", ["id"], keys, schema)
            settings = conn.execute(
                sa.text("SELECT current_setting('TimeZone'), current_setting('DateStyle')")
            ).one()
    finally:
        target.close()
    assert tuple(settings) == ("Europe/Amsterdam", "SQL, DMY")
    assert got.column("tz").to_pylist() == [dt.datetime(2024, 6, 1, 10, tzinfo=UTC)]
