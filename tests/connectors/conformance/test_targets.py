"""The conformance suite every registered target kind must pass, on every engine it writes to.

Parametrized over `ferryman.connectors.kinds.CONNECTORS`: a kind that can be written to gets these
tests by listing its engines in `factories.TARGET_FACTORIES`. Besides the `Target` ABC it
exercises the row-level operations the flows rely on (journal, upsert, rollback,
fingerprints): `fetch_by_keys`, `update_rows`, `delete_keys`, `scan`, `has_table`.

Tests: round trip of typed values, the caller's transaction (rolled back: nothing stays),
batch boundaries and bind-parameter limits, empty input, key operations, scans, table
checks, error mapping (unreachable server, constraint violation).
"""

from __future__ import annotations

import datetime as dt
import decimal
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from ferryman.connectors.base import ColumnSchema, TableSchema, TargetCapabilities
from ferryman.connectors.errors import ConnectionFailed, ConnectorError, TransientError
from ferryman.connectors.kinds import CONNECTORS
from tests.connectors.conformance.factories import SECRET, TARGET_FACTORIES, TargetFactory

TARGET_KINDS = sorted(n for n in CONNECTORS.names() if CONNECTORS.get(n).target is not None)
CASES = [(kind, f) for kind in TARGET_KINDS for f in TARGET_FACTORIES.get(kind, [])]


def test_every_target_kind_has_a_factory() -> None:
    missing = [k for k in TARGET_KINDS if not TARGET_FACTORIES.get(k)]
    assert not missing, (
        f"target kinds without a conformance factory: {missing}; add one to"
        " tests/connectors/conformance/factories.py:TARGET_FACTORIES"
    )


def test_target_factories_name_registered_target_kinds() -> None:
    assert sorted(TARGET_FACTORIES) == sorted(set(TARGET_FACTORIES) & set(TARGET_KINDS))


@dataclass
class Env:
    """One target under test, and a way to open a second one on the same database."""

    kind: str
    options: dict[str, Any]
    target: Any
    """A `ferryman.connectors.base.Target` plus the row-level operations the flows use."""

    def reopen(self) -> Any:
        """A new target on the same place: reads through reflection, not a cache."""
        return CONNECTORS.get(self.kind).build_target("conformance", self.options)


@pytest.fixture(params=CASES, ids=[f"{kind}-{f.id}" for kind, f in CASES])
def case(request: pytest.FixtureRequest) -> tuple[str, TargetFactory]:
    kind, factory = request.param
    gap = (factory.known_gaps or {}).get(request.node.originalname)
    if gap:
        request.node.add_marker(pytest.mark.xfail(reason=f"known gap: {gap}", strict=True))
    return kind, factory


@pytest.fixture
def env(
    case: tuple[str, TargetFactory], request: pytest.FixtureRequest, tmp_path: Path
) -> Iterator[Env]:
    kind, factory = case
    options = factory.options(request, tmp_path)
    target = CONNECTORS.get(kind).build_target("conformance", options)
    try:
        yield Env(kind, options, target)
    finally:
        target.close()


class Boom(Exception):
    """Raised inside a transaction to make the caller roll it back."""


# --- the data --------------------------------------------------------------------------

TEXTS = [
    "",
    "plain",
    "O'Brien",
    'say "hi"',
    "line1\nline2",
    "cr\r\nlf",
    "tab\there",
    "back\\slash",
    "\\\\double",
    "\\N",
    "\\.",
    "NULL",
    "null",
    ",;|",
    "  padded  ",
    "Zoë Ñandú 李雷 🙂",
    "-- not a comment; DROP TABLE x",
]
BIGS = [0, -1, 2**62, -(2**63), 2**63 - 1]
AMOUNTS = [
    decimal.Decimal("12345678901.2345"),
    decimal.Decimal("-0.0001"),
    decimal.Decimal("0.0000"),
    decimal.Decimal("99999999999.9999"),
]
RATIOS = [0.1, -2.5e10, 1e-300, 1.7976931348623157e308]
DATES = [dt.date(1900, 2, 28), dt.date(1999, 12, 31), dt.date(2024, 2, 29), dt.date(9999, 12, 31)]
STAMPS = [
    dt.datetime(1970, 1, 1),
    dt.datetime(2024, 2, 29, 23, 59, 59, 999999),
    dt.datetime(1901, 12, 14, 20, 45, 52, 1),
    dt.datetime(9999, 12, 31, 23, 59, 59, 999999),
]
BLOBS = [b"", b"\x00\x01\xff", "é".encode("latin-1"), bytes(range(256)), b"\\N", b"\\."]

TYPED = TableSchema(
    "typed",
    (
        ColumnSchema("id", pa.int32(), nullable=False),
        ColumnSchema("big", pa.int64()),
        ColumnSchema("amount", pa.decimal128(15, 4)),
        ColumnSchema("txt", pa.string()),
        ColumnSchema("short", pa.string(), max_length=40),
        ColumnSchema("born", pa.date32()),
        ColumnSchema("seen", pa.timestamp("us")),
        ColumnSchema("ok", pa.bool_()),
        ColumnSchema("blob", pa.binary()),
    ),
    primary_key=("id",),
)


def _typed_rows(ids: range | list[int]) -> pa.Table:
    """Rows of TYPED, cycling through the edge values; every 7th row is NULL but its id."""

    def pick(values: list[Any], i: int) -> Any:
        return None if i % 7 == 6 else values[i % len(values)]

    ids = list(ids)
    columns: dict[str, list[Any]] = {
        "id": ids,
        "big": [pick(BIGS, i) for i in ids],
        "amount": [pick(AMOUNTS, i) for i in ids],
        "txt": [pick(TEXTS, i) for i in ids],
        "short": [pick(TEXTS, i + 3) for i in ids],
        "born": [pick(DATES, i) for i in ids],
        "seen": [pick(STAMPS, i) for i in ids],
        "ok": [pick([True, False], i) for i in ids],
        "blob": [pick(BLOBS, i) for i in ids],
    }
    return pa.table(
        {c.name: pa.array(columns[c.name], c.type) for c in TYPED.columns},
        schema=pa.schema([pa.field(c.name, c.type, c.nullable) for c in TYPED.columns]),
    )


def _normal(value: Any, typ: pa.DataType) -> Any:
    """A value read back, in the Python type of its Arrow type. Only booleans are let
    through as integers (MariaDB has no boolean type: a reflected TINYINT(1) gives 0/1)."""
    if value is None:
        return None
    if pa.types.is_boolean(typ) and value in (0, 1):
        return bool(value)
    if pa.types.is_binary(typ) and isinstance(value, memoryview | bytearray):
        return bytes(value)
    return value


def _as_dicts(rows: list[tuple[Any, ...]], schema: TableSchema) -> list[dict[str, Any]]:
    return [
        {c.name: _normal(v, c.type) for c, v in zip(schema.columns, row, strict=True)}
        for row in rows
    ]


def _scan(target: Any, table: str, chunk: int = 10_000) -> list[tuple[Any, ...]]:
    with target.begin() as conn:
        return [row for part in target.scan(conn, table, chunk) for row in part]


def _create(target: Any, schema: TableSchema, rows: pa.Table | None = None) -> None:
    with target.begin() as conn:
        assert target.ensure_table(conn, schema) == []
        if rows is not None:
            assert target.insert(conn, schema.name, rows) == rows.num_rows


# --- round trip ------------------------------------------------------------------------


def test_typed_values_round_trip(env: Env) -> None:
    data = _typed_rows(range(2 * len(TEXTS)))  # every edge value at least once, not NULL
    _create(env.target, TYPED, data)
    expected = data.to_pylist()
    assert {r["txt"] for r in expected} >= set(TEXTS)
    # read back through a second target (reflected table, no cache of the first)
    other = env.reopen()
    try:
        assert _as_dicts(_scan(other, "typed"), TYPED) == expected
        with other.begin() as conn:
            assert other.count(conn, "typed") == data.num_rows
            fetched = other.fetch_by_keys(conn, "typed", ["id"], [(3,), (6,), (404,)])
    finally:
        other.close()
    got = sorted(fetched, key=lambda r: r["id"])
    assert [{c.name: _normal(r[c.name], c.type) for c in TYPED.columns} for r in got] == [
        expected[3],
        expected[6],
    ]
    assert expected[6]["txt"] is None, "row 6 is the NULL row"


def test_floats_round_trip_through_reflection(env: Env) -> None:
    """A float read back by a target that reflected the table (a resumed run, a rollback
    restoring before-images) is the float that was written, tiny and huge ones too."""
    schema = TableSchema(
        "floats",
        (ColumnSchema("id", pa.int32(), False), ColumnSchema("r", pa.float64())),
        ("id",),
    )
    values = [*RATIOS, -0.0, None]
    data = pa.table(
        {"id": pa.array(range(len(values)), pa.int32()), "r": pa.array(values, pa.float64())}
    )
    _create(env.target, schema, data)
    other = env.reopen()
    try:
        got = _scan(other, "floats")
    finally:
        other.close()
    assert [r[1] for r in got] == values
    assert all(v is None or type(v) is float for _, v in got)


def test_empty_text_and_null_stay_apart(env: Env) -> None:
    schema = TableSchema(
        "blanks",
        (ColumnSchema("id", pa.int32(), False), ColumnSchema("t", pa.string())),
        ("id",),
    )
    data = pa.table(
        {"id": pa.array([1, 2, 3], pa.int32()), "t": pa.array(["", None, " "], pa.string())}
    )
    _create(env.target, schema, data)
    assert _scan(env.target, "blanks") == [(1, ""), (2, None), (3, " ")]


# --- the caller's transaction ----------------------------------------------------------


def test_writes_are_undone_with_the_callers_transaction(env: Env) -> None:
    target = env.target
    _create(target, TYPED, _typed_rows(range(3)))
    before = _scan(target, "typed")

    def write_then_fail() -> None:
        with target.begin() as conn:
            assert target.insert(conn, "typed", _typed_rows(range(3, 2503))) == 2500
            assert target.update_rows(conn, "typed", ["id"], [{"id": 0, "txt": "changed"}]) == 1
            assert target.delete_keys(conn, "typed", ["id"], [(1,)]) == 1
            assert target.count(conn, "typed") == 2502  # the transaction sees its own writes
            raise Boom

    with pytest.raises(Boom):
        write_then_fail()
    assert _scan(target, "typed") == before


def _create_then_fail(target: Any) -> None:
    with target.begin() as conn:
        target.ensure_table(conn, TYPED)
        target.insert(conn, "typed", _typed_rows(range(5)))
        raise Boom


def test_no_rows_stay_from_a_rolled_back_create_and_insert(env: Env) -> None:
    target = env.target
    with pytest.raises(Boom):
        _create_then_fail(target)
    with target.begin() as conn:
        exists = target.has_table(conn, "typed")
    if exists:  # engines without transactional DDL keep the (empty) table
        assert _scan(target, "typed") == []


def test_create_table_is_undone_where_the_capabilities_say_so(env: Env) -> None:
    """`transactional_ddl` is what the flows plan by: a target that claims it must take a
    CREATE TABLE back with its transaction (the others keep the table, which is why dry
    runs there use shadow tables)."""
    target = env.target
    with pytest.raises(Boom):
        _create_then_fail(target)
    with target.begin() as conn:
        exists = target.has_table(conn, "typed")
    assert exists is not target.capabilities.transactional_ddl


def test_a_failed_statement_undoes_its_whole_transaction(env: Env) -> None:
    target = env.target
    _create(target, TYPED, _typed_rows(range(3)))

    def insert_a_duplicate() -> None:
        with target.begin() as conn:
            target.insert(conn, "typed", _typed_rows(range(3, 10)))
            target.insert(conn, "typed", _typed_rows([10, 2]))  # id 2 is there already

    with pytest.raises(Exception) as info:  # noqa: PT011 - whatever the error, all undone
        insert_a_duplicate()
    assert not isinstance(info.value, Boom)
    assert SECRET not in str(info.value)
    assert [r[0] for r in _scan(target, "typed")] == [0, 1, 2]


def test_constraint_violation_is_a_connector_error(env: Env) -> None:
    """connectors/errors.py: each connector maps its driver's exceptions onto the taxonomy.
    A key that is there already will not go away on a retry: terminal, not transient."""
    target = env.target
    _create(target, TYPED, _typed_rows(range(3)))
    with pytest.raises(ConnectorError) as info, target.begin() as conn:
        target.insert(conn, "typed", _typed_rows([5, 1]))
    assert not isinstance(info.value, TransientError)
    message = str(info.value)
    assert "typed" in message or "'conformance'" in message, "name the table or connection"
    assert SECRET not in message
    assert [r[0] for r in _scan(target, "typed")] == [0, 1, 2]


# --- batch boundaries and limits -------------------------------------------------------


@pytest.mark.parametrize("sizes", [[1, 2, 999, 1000, 1001, 4997]])
def test_many_batches_of_every_size(env: Env, sizes: list[int]) -> None:
    target = env.target
    _create(target, TYPED)
    start = 0
    for size in sizes:
        with target.begin() as conn:
            assert target.insert(conn, "typed", _typed_rows(range(start, start + size))) == size
        start += size
    rows = _scan(target, "typed", chunk=1000)
    assert [r[0] for r in rows] == list(range(start))
    assert _as_dicts(rows[995:1010], TYPED) == _typed_rows(range(995, 1010)).to_pylist()


def test_wide_batch_beyond_the_bind_parameter_limit(env: Env) -> None:
    """60 columns x 1,200 rows = 72,000 values: more than any engine binds in one statement."""
    width, rows = 60, 1200
    schema = TableSchema(
        "wide",
        (
            ColumnSchema("id", pa.int32(), False),
            *[ColumnSchema(f"c{i:02d}", pa.int64()) for i in range(width - 1)],
        ),
        ("id",),
    )
    assert width * rows > env.target.capabilities.max_bind_parameters
    data = pa.table(
        {
            "id": pa.array(range(rows), pa.int32()),
            **{f"c{i:02d}": pa.array([r * i for r in range(rows)], pa.int64()) for i in range(59)},
        }
    )
    _create(env.target, schema, data)
    scanned = _scan(env.target, "wide", chunk=500)
    assert len(scanned) == rows
    assert sum(r[-1] for r in scanned) == sum(r * 58 for r in range(rows))


# --- empty input -----------------------------------------------------------------------


def test_empty_input_writes_nothing_and_fails_nothing(env: Env) -> None:
    target = env.target
    _create(target, TYPED)
    empty = _typed_rows([])
    with target.begin() as conn:
        assert target.insert(conn, "typed", empty) == 0
        assert target.count(conn, "typed") == 0
        found = target.existing_keys(conn, "typed", ["id"], empty.select(["id"]))
        assert found.num_rows == 0
        assert found.column_names == ["id"]
        assert target.fetch_by_keys(conn, "typed", ["id"], []) == []
        assert target.update_rows(conn, "typed", ["id"], []) == 0
        assert target.delete_keys(conn, "typed", ["id"], []) == 0
        assert list(target.scan(conn, "typed")) == []


# --- key operations ---------------------------------------------------------------------

PAIRS = TableSchema(
    "pairs",
    (
        ColumnSchema("a", pa.int32(), False),
        ColumnSchema("b", pa.string(), False, max_length=20),
        ColumnSchema("v", pa.string()),
        ColumnSchema("n", pa.int64()),
    ),
    ("a", "b"),
)


def _pairs(n: int) -> pa.Table:
    return pa.table(
        {
            "a": pa.array([i // 3 for i in range(n)], pa.int32()),
            "b": pa.array([f"k'{i % 3}é" for i in range(n)], pa.string()),
            "v": pa.array([f"v{i}" for i in range(n)], pa.string()),
            "n": pa.array(list(range(n)), pa.int64()),
        }
    )


def test_existing_keys_single_and_composite_beyond_one_chunk(env: Env) -> None:
    target = env.target
    _create(target, TYPED, _typed_rows(range(0, 3000, 2)))
    _create(target, PAIRS, _pairs(30))
    probe = pa.table({"id": pa.array(range(2500), pa.int32())})
    pairs_probe = pa.table(
        {"a": pa.array([0, 0, 9, 10], pa.int32()), "b": pa.array(["k'1é", "k'9é", "k'2é", "x"])}
    )
    with target.begin() as conn:
        found = target.existing_keys(conn, "typed", ["id"], probe)
        pairs = target.existing_keys(conn, "pairs", ["a", "b"], pairs_probe)
    assert sorted(found.column("id").to_pylist()) == list(range(0, 2500, 2))
    assert found.schema.field("id").type == pa.int32()
    assert sorted(
        zip(pairs.column("a").to_pylist(), pairs.column("b").to_pylist(), strict=True)
    ) == [
        (0, "k'1é"),
        (9, "k'2é"),
    ]


def test_fetch_update_delete_by_composite_key(env: Env) -> None:
    target = env.target
    _create(target, PAIRS, _pairs(30))
    with target.begin() as conn:
        got = target.fetch_by_keys(conn, "pairs", ["a", "b"], [(1, "k'0é"), (99, "nope")])
        assert got == [{"a": 1, "b": "k'0é", "v": "v3", "n": 3}]
        changed = [
            {"a": 1, "b": "k'0é", "v": "new\nline", "n": None},
            {"a": 2, "b": "k'2é", "v": None, "n": -5},
        ]
        assert target.update_rows(conn, "pairs", ["a", "b"], changed) == 2
        assert (
            target.delete_keys(conn, "pairs", ["a", "b"], [(0, "k'0é"), (0, "k'1é"), (99, "x")])
            == 2
        )
    rows = _scan(target, "pairs")
    assert len(rows) == 28
    by_key = {(r[0], r[1]): r for r in rows}
    assert by_key[(1, "k'0é")] == (1, "k'0é", "new\nline", None)
    assert by_key[(2, "k'2é")] == (2, "k'2é", None, -5)
    assert by_key[(1, "k'1é")] == (1, "k'1é", "v4", 4), "rows not named are untouched"
    assert (0, "k'0é") not in by_key


def test_delete_and_fetch_many_single_keys(env: Env) -> None:
    target = env.target
    _create(target, TYPED, _typed_rows(range(3000)))
    doomed = [(i,) for i in range(0, 3000, 2)] + [(5000,)]
    with target.begin() as conn:
        fetched = target.fetch_by_keys(conn, "typed", ["id"], doomed)
        assert sorted(r["id"] for r in fetched) == list(range(0, 3000, 2))
        assert target.delete_keys(conn, "typed", ["id"], doomed) == 1500
    assert [r[0] for r in _scan(target, "typed")] == list(range(1, 3000, 2))


# --- scans ------------------------------------------------------------------------------


@pytest.mark.parametrize("chunk", [1, 7, 10_000])
def test_scan_gives_every_row_once_in_bounded_chunks(env: Env, chunk: int) -> None:
    target = env.target
    keyless = TableSchema(
        "keyless", (ColumnSchema("x", pa.int64()), ColumnSchema("t", pa.string()))
    )
    _create(target, PAIRS, _pairs(25))
    _create(
        target,
        keyless,
        pa.table(
            {
                "x": pa.array([i % 4 for i in range(25)], pa.int64()),
                "t": [f"t{i}" for i in range(25)],
            }
        ),
    )
    with target.begin() as conn:
        for table, columns in (("pairs", 4), ("keyless", 2)):
            parts = list(target.scan(conn, table, chunk))
            assert all(0 < len(p) <= chunk for p in parts)
            rows = [r for p in parts for r in p]
            assert len(rows) == 25
            assert all(len(r) == columns for r in rows)
            if table == "pairs":  # by primary key, so the caller may write between chunks
                assert [r[3] for r in rows] == list(range(25))
            else:
                assert sorted(r[1] for r in rows) == sorted(f"t{i}" for i in range(25))


# --- tables ---------------------------------------------------------------------------


def test_ensure_table_accepts_a_fitting_table_and_names_what_does_not_fit(env: Env) -> None:
    target = env.target
    _create(target, TYPED)
    wider = TableSchema("typed", (*TYPED.columns, ColumnSchema("extra", pa.string())), ("id",))
    with target.begin() as conn:
        assert target.ensure_table(conn, TYPED) == []
        problems = target.ensure_table(conn, wider)
    assert len(problems) == 1
    assert "extra" in problems[0]


def test_capabilities_are_data(env: Env) -> None:
    caps = env.target.capabilities
    assert isinstance(caps, TargetCapabilities)
    assert caps.max_bind_parameters > 0
    assert caps.max_identifier_length >= 30


# --- errors ---------------------------------------------------------------------------


def test_unreachable_target_is_connection_failed_without_the_password(
    case: tuple[str, TargetFactory],
) -> None:
    kind, factory = case
    target = CONNECTORS.get(kind).build_target("conformance", factory.unreachable)
    try:
        assert SECRET not in target.describe()
        with pytest.raises(ConnectionFailed) as info, target.begin():
            pass
    finally:
        target.close()
    message = str(info.value)
    assert "'conformance'" in message, "the message names the connection"
    assert SECRET not in message
    assert not isinstance(info.value, TransientError)
