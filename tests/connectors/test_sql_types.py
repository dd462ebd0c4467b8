"""Native target column types for time, uuid and json (and microsecond timestamps) on
SQLite, PostgreSQL and MariaDB: the DDL ferryman creates, values that read back exactly as
written (through the table ferryman created and through a reflected one), row hashes that
agree, and before-images that restore the exact stored value."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pyarrow as pa
import pytest
import sqlalchemy as sa
from pydantic import SecretStr
from sqlalchemy.dialects import mysql, postgresql, sqlite

from ferryman.codec import decode, encode
from ferryman.connectors.base import ROW_POSITION, ColumnSchema, TableSchema
from ferryman.connectors.sql.options import SqlOptions
from ferryman.connectors.sql.target import SqlTarget
from ferryman.connectors.sql.types import JsonText, UuidText, same_kind, sql_type
from ferryman.flows.ledger.fingerprint import arrow_row_hashes, row_hash, rows_to_arrow
from ferryman.mappings.compile import ROW_INDEX, compile_spec
from ferryman.mappings.model import MappingSpec
from tests.conftest import Database

SPEC = {
    "target": "things",
    "source": {"connection": "legacy", "table": "T"},
    "key": ["uid"],
    "fields": {
        "uid": {"from": "U", "type": "uuid"},
        "at": {"from": "A", "type": "time"},
        "doc": {"from": "J", "type": "json"},
        "ts": {"from": "S", "type": "timestamp"},
        "tz": {"from": "Z", "type": "timestamptz"},
        "note": {"from": "N", "type": "string(10)"},
    },
}
RAW = {
    "U": [
        "{A1B2C3D4-0000-4000-8000-00000000000A}",
        "a1b2c3d40000400080000000000000bb",
        "urn:uuid:C0FFEE00-0000-4000-8000-0000000000CC",
    ],
    "A": ["14:05", "09:05:09.250001", None],
    "J": ['{"b": [1, 2.50, "é"], "a": {"y": null, "x": true}}', " 1e2 ", None],
    "S": ["2024-02-29 23:59:59.999999", "1999-01-01 00:00:00.000001", None],
    "Z": ["2024-02-29T23:59:59.123456+01:00", "2000-01-01 00:00:00Z", None],
    "N": ["one", "two", "three"],
}
UIDS = [
    "a1b2c3d4-0000-4000-8000-00000000000a",
    "a1b2c3d4-0000-4000-8000-0000000000bb",
    "c0ffee00-0000-4000-8000-0000000000cc",
]


def _target(db: Database) -> SqlTarget:
    return SqlTarget("target", SqlOptions(url=SecretStr(db.url)))


def _mapped(raw: dict[str, list[Any]] = RAW) -> tuple[TableSchema, pa.Table]:
    """The target schema and the clean rows of RAW, mapped by the real compiled spec."""
    spec = MappingSpec.model_validate(SPEC)
    compiled = compile_spec(spec)
    data = pa.table({k: pa.array(v, pa.string()) for k, v in raw.items()})
    data = data.append_column(ROW_POSITION, pa.array([f"T:{i}" for i in range(len(data))]))
    mapped = compiled.apply(data)
    assert mapped.rejects == []
    return compiled.target_schema(), mapped.rows.drop_columns([ROW_POSITION, ROW_INDEX])


def _plain(row: dict[str, Any]) -> dict[str, Any]:
    """SQLite and MariaDB keep no time zone: compare instants as naive UTC."""
    return {
        c: v.astimezone(dt.UTC).replace(tzinfo=None)
        if isinstance(v, dt.datetime) and v.tzinfo
        else v
        for c, v in row.items()
    }


def _raw(db: Database, table: str = "things") -> list[tuple[Any, ...]]:
    """What the engine stores, through the driver only (no ferryman type in between)."""
    cast = "CAST({} AS TEXT)" if db.backend == "postgres" else "{}"
    cols = ", ".join(cast.format(c) for c in ("uid", "at", "doc", "ts", "tz", "note"))
    with db.engine.connect() as conn:
        return [
            tuple(r) for r in conn.execute(sa.text(f"SELECT {cols} FROM {table} ORDER BY note"))
        ]


def test_the_mapping_says_which_columns_are_uuid_and_json() -> None:
    schema, _ = _mapped()
    logical = {c.name: c.logical for c in schema.columns}
    assert logical == {"uid": "uuid", "at": None, "doc": "json", "ts": None, "tz": None,
                       "note": None}  # fmt: skip


def test_native_types_are_created(any_db: Database) -> None:
    schema, _ = _mapped()
    target = _target(any_db)
    with target.begin() as conn:
        assert target.ensure_table(conn, schema) == []
    target.close()
    with any_db.engine.connect() as conn:
        if any_db.backend == "postgres":
            query = (
                "SELECT column_name, data_type, datetime_precision FROM"
                " information_schema.columns WHERE table_name = 'things'"
                " AND table_schema = current_schema()"
            )
            types = {r[0]: (r[1], r[2]) for r in conn.execute(sa.text(query))}
            assert types["uid"][0] == "uuid"
            assert types["doc"][0] == "jsonb"
            assert types["at"] == ("time without time zone", 6)
            assert types["ts"] == ("timestamp without time zone", 6)
            assert types["tz"] == ("timestamp with time zone", 6)
        elif any_db.backend == "mariadb":
            query = (
                "SELECT column_name, column_type FROM information_schema.columns"
                " WHERE table_name = 'things' AND table_schema = DATABASE()"
            )
            types = {r[0]: r[1] for r in conn.execute(sa.text(query))}
            version = conn.execute(sa.text("SELECT VERSION()")).scalar_one()
            native_uuid = tuple(int(p) for p in version.split("-")[0].split(".")[:2]) >= (10, 7)
            assert types["uid"] == ("uuid" if native_uuid else "varchar(36)")
            assert types["doc"] == "longtext"  # MariaDB's JSON: LONGTEXT + JSON_VALID check
            assert (types["at"], types["ts"], types["tz"]) == ("time(6)",) + ("datetime(6)",) * 2
            with pytest.raises(sa.exc.DBAPIError):
                conn.execute(sa.text("INSERT INTO things (uid, doc) VALUES (:u, 'not json')"),
                             {"u": UIDS[0]})  # fmt: skip
        else:
            types = {r[1]: r[2] for r in conn.execute(sa.text("PRAGMA table_info(things)"))}
            assert (types["uid"], types["at"], types["doc"]) == ("VARCHAR(36)", "TIME", "TEXT")


def test_values_read_back_exactly_as_written(any_db: Database) -> None:
    """Written (COPY on PostgreSQL), then read through the created table and through a
    reflected one (a later process): the values written, the journal's row hashes of what
    was written, and the same fingerprint row hashes both ways."""
    schema, rows = _mapped()
    assert rows.column("doc").to_pylist() == [
        '{"a":{"x":true,"y":null},"b":[1,2.50,"é"]}',
        "100",
        None,
    ]
    written = rows.to_pylist()
    target = _target(any_db)
    with target.begin() as conn:
        target.ensure_table(conn, schema)
        assert target.insert(conn, "things", rows) == 3
        created = target.fetch_by_keys(conn, "things", ["uid"], [(u,) for u in UIDS])
    target.close()
    later = _target(any_db)  # a new process: the table is reflected
    with later.begin() as conn:
        reflected = later.fetch_by_keys(conn, "things", ["uid"], [(u,) for u in UIDS])
    later.close()
    for fetched in (created, reflected):
        by_key = {r["uid"]: r for r in fetched}
        assert [_plain(by_key[w["uid"]]) for w in written] == [_plain(w) for w in written]
        again = rows_to_arrow([by_key[w["uid"]] for w in written], rows.schema)
        assert arrow_row_hashes(again).tolist() == arrow_row_hashes(rows).tolist()
    assert [row_hash(r.values()) for r in reflected] == [row_hash(r.values()) for r in created]


def test_a_table_keyed_by_uuid_is_scanned_page_by_page(
    any_db: Database, request: pytest.FixtureRequest
) -> None:
    """Table fingerprints (run start, after a rollback) read every row by key pages."""
    schema, rows = _mapped()
    target = _target(any_db)
    with target.begin() as conn:
        target.ensure_table(conn, schema)
        target.insert(conn, "things", rows)
        scanned = [row for chunk in target.scan(conn, "things", chunk=2) for row in chunk]
    target.close()
    assert [r[0] for r in scanned] == sorted(UIDS)
    assert {r[0]: r[2] for r in scanned} == {w["uid"]: w["doc"] for w in rows.to_pylist()}


def test_a_before_image_restores_the_exact_stored_value(any_db: Database) -> None:
    """A row someone else wrote (JSON spelt their way) is updated by a
    batch, then restored from its before-image as the journal keeps it (JSON with tags):
    the engine holds exactly what it held before."""
    schema, rows = _mapped()
    target = _target(any_db)
    with target.begin() as conn:
        target.ensure_table(conn, schema)
    with any_db.engine.begin() as conn:
        conn.execute(
            sa.text(
                "INSERT INTO things (uid, at, doc, ts, tz, note) VALUES"
                " (:u, :a, :d, :s, :z, 'one')"
            ),
            {"u": UIDS[0], "a": "07:08:09.123456",
             "d": '{"z": 1.50, "a" : [ "x" ,{"k":-0.0}], "n": 1E+2}',
             "s": "2001-02-03 04:05:06.654321", "z": "2001-02-03 04:05:06.500000"},
        )  # fmt: skip
    before_raw = _raw(any_db)
    with target.begin() as conn:
        (before,) = target.fetch_by_keys(conn, "things", ["uid"], [(UIDS[0],)])
        target.update_rows(conn, "things", ["uid"], rows.slice(0, 1).to_pylist())
    assert _raw(any_db) != before_raw
    kept = json.loads(json.dumps({c: encode(v) for c, v in before.items()}))
    restored = {c: decode(v) for c, v in kept.items()}
    fresh = _target(any_db)  # rollback runs in a later process
    with fresh.begin() as conn:
        fresh.update_rows(conn, "things", ["uid"], [restored])
        (again,) = fresh.fetch_by_keys(conn, "things", ["uid"], [(UIDS[0],)])
    target.close()
    fresh.close()
    assert _raw(any_db) == before_raw
    assert again == before


def test_inserted_uuid_keys_are_deleted_and_a_snapshot_reinserted(any_db: Database) -> None:
    """The undo of an insert (delete by key; one array parameter on PostgreSQL) and of a
    `replace` (insert the snapshot rows back, as the journal keeps them)."""
    schema, rows = _mapped()
    target = _target(any_db)
    with target.begin() as conn:
        target.ensure_table(conn, schema)
        target.insert(conn, "things", rows)
    snapshot = _raw(any_db)
    with target.begin() as conn:
        saved = target.fetch_by_keys(conn, "things", ["uid"], [(u,) for u in UIDS])
        assert target.delete_keys(conn, "things", ["uid"], [(u,) for u in UIDS]) == 3
        assert target.count(conn, "things") == 0
        kept = json.loads(json.dumps([{c: encode(v) for c, v in r.items()} for r in saved]))
        target.insert_rows(conn, "things", [{c: decode(v) for c, v in r.items()} for r in kept])
    target.close()
    assert _raw(any_db) == snapshot


@pytest.mark.parametrize(
    ("column", "declared"),
    [("uid", "VARCHAR(36)"), ("doc", "TEXT")],
)
def test_text_columns_of_earlier_versions_still_take_uuid_and_json(
    any_db: Database, column: str, declared: str
) -> None:
    """Before native types, ferryman created uuid as VARCHAR(36) and json as TEXT: such a
    table still fits the spec and loads, and reads back what was written."""
    schema, rows = _mapped()
    uid = "VARCHAR(36)" if column == "doc" else declared
    doc = "TEXT" if column == "uid" else declared
    time = "TIME(6)" if any_db.backend == "mariadb" else "TIME"
    stamp = "DATETIME(6)" if any_db.backend == "mariadb" else "TIMESTAMP"
    with any_db.engine.begin() as conn:
        conn.execute(
            sa.text(
                f"CREATE TABLE things (uid {uid} PRIMARY KEY, at {time}, doc {doc},"
                f" ts {stamp}, tz {stamp}, note VARCHAR(10))"
            )
        )
    target = _target(any_db)
    with target.begin() as conn:
        assert target.ensure_table(conn, schema) == []
        target.insert(conn, "things", rows.drop_columns(["tz"]))
        fetched = target.fetch_by_keys(conn, "things", ["uid"], [(u,) for u in UIDS])
    target.close()
    written = rows.drop_columns(["tz"]).to_pylist()
    assert sorted((r["uid"], r["doc"], r["at"]) for r in fetched) == sorted(
        (w["uid"], w["doc"], w["at"]) for w in written
    )


def test_a_time_in_a_text_column_is_refused(sqlite_db: Database) -> None:
    """Earlier versions could not load a time at all (SQLite refused the value, the others
    failed reading it back), so no such table holds one: a text column is not a time."""
    schema, _ = _mapped()
    with sqlite_db.engine.begin() as conn:
        conn.execute(
            sa.text(
                "CREATE TABLE things (uid VARCHAR(36) PRIMARY KEY, at TEXT, doc TEXT,"
                " ts TIMESTAMP, tz TIMESTAMP, note VARCHAR(10))"
            )
        )
    target = _target(sqlite_db)
    with target.begin() as conn:
        problems = target.ensure_table(conn, schema)
    target.close()
    assert len(problems) == 1
    assert problems[0].startswith("column 'at' is TEXT, the spec needs TIME")


UUID_COL = ColumnSchema("u", pa.string(), max_length=36, logical="uuid")
JSON_COL = ColumnSchema("j", pa.string(), logical="json")
TIME_COL = ColumnSchema("t", pa.time64("us"))


@pytest.mark.parametrize(
    ("declared", "wanted", "fits"),
    [
        (postgresql.UUID(), UUID_COL, True),
        (sa.Uuid(), UUID_COL, True),
        (sa.String(36), UUID_COL, True),  # earlier versions; the length is schema_diff's
        (postgresql.JSONB(), JSON_COL, True),
        (postgresql.JSON(), JSON_COL, True),
        (mysql.LONGTEXT(), JSON_COL, True),  # MariaDB's JSON, as reflected
        (sa.Text(), JSON_COL, True),
        (mysql.TIME(fsp=6), TIME_COL, True),
        (sqlite.TIME(), TIME_COL, True),
        (sa.Text(), TIME_COL, False),
        (sa.Integer(), UUID_COL, False),
        (postgresql.JSONB(), UUID_COL, False),
        (postgresql.UUID(), ColumnSchema("s", pa.string(), max_length=36), False),
        (postgresql.JSONB(), ColumnSchema("s", pa.string()), False),
    ],
)
def test_same_kind_takes_native_and_text_columns_for_uuid_and_json(
    declared: sa.types.TypeEngine[Any], wanted: ColumnSchema, fits: bool
) -> None:
    assert same_kind(declared, sql_type(wanted)) is fits


def test_the_types_ferryman_creates_fit_themselves() -> None:
    for col in (UUID_COL, JSON_COL, TIME_COL):
        assert same_kind(sql_type(col), sql_type(col))
    assert isinstance(sql_type(UUID_COL), UuidText)
    assert isinstance(sql_type(JSON_COL), JsonText)
