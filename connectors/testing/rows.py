"""The conformance suite, part 1: rows in and out, inside the caller's transaction."""

from __future__ import annotations

import pyarrow as pa
import pytest

from ferryman.connectors.errors import ConnectorError, TransientError
from ferryman.connectors.target import ColumnSchema, TableSchema, Target
from ferryman.connectors.testing.data import (
    PAIRS,
    RATIOS,
    TEXTS,
    TYPED,
    as_dicts,
    normal,
    pairs_rows,
    typed_rows,
)
from ferryman.connectors.testing.harness import (
    Boom,
    TargetFactory,
    TargetHarness,
    create,
    scan,
)


def _create_then_fail(target: Target) -> None:
    with target.begin() as conn:
        target.ensure_table(conn, TYPED)
        target.insert(conn, "typed", typed_rows(range(5)))
        raise Boom


class RowContract(TargetHarness):
    """Round trips, the caller's transaction, batch sizes, key operations, scans."""

    # --- round trip ------------------------------------------------------------------------
    def test_typed_values_round_trip(self, target: Target, make_target: TargetFactory) -> None:
        data = typed_rows(range(2 * len(TEXTS)))  # every edge value at least once, not NULL
        create(target, TYPED, data)
        expected = data.to_pylist()
        assert {r["txt"] for r in expected} >= set(TEXTS)
        # read back through a second target (reflected table, no cache of the first)
        other = make_target()
        try:
            assert as_dicts(scan(other, "typed"), TYPED) == expected
            with other.begin() as conn:
                assert other.count(conn, "typed") == data.num_rows
                fetched = other.fetch_by_keys(conn, "typed", ["id"], [(3,), (6,), (404,)])
        finally:
            other.close()
        got = sorted(fetched, key=lambda r: r["id"])
        assert [{c.name: normal(r[c.name], c.type) for c in TYPED.columns} for r in got] == [
            expected[3],
            expected[6],
        ]
        assert expected[6]["txt"] is None, "row 6 is the NULL row"

    def test_floats_round_trip_through_reflection(
        self, target: Target, make_target: TargetFactory
    ) -> None:
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
        create(target, schema, data)
        other = make_target()
        try:
            got = scan(other, "floats")
        finally:
            other.close()
        assert [r[1] for r in got] == values
        assert all(v is None or type(v) is float for _, v in got)

    def test_empty_text_and_null_stay_apart(self, target: Target) -> None:
        schema = TableSchema(
            "blanks",
            (ColumnSchema("id", pa.int32(), False), ColumnSchema("t", pa.string())),
            ("id",),
        )
        data = pa.table(
            {"id": pa.array([1, 2, 3], pa.int32()), "t": pa.array(["", None, " "], pa.string())}
        )
        create(target, schema, data)
        assert scan(target, "blanks") == [(1, ""), (2, None), (3, " ")]

    # --- the caller's transaction ----------------------------------------------------------
    def test_writes_are_undone_with_the_callers_transaction(self, target: Target) -> None:
        create(target, TYPED, typed_rows(range(3)))
        before = scan(target, "typed")

        def write_then_fail() -> None:
            with target.begin() as conn:
                assert target.insert(conn, "typed", typed_rows(range(3, 2503))) == 2500
                assert target.update_rows(conn, "typed", ["id"], [{"id": 0, "txt": "changed"}]) == 1
                assert target.delete_keys(conn, "typed", ["id"], [(1,)]) == 1
                assert target.count(conn, "typed") == 2502  # the transaction sees its own writes
                raise Boom

        with pytest.raises(Boom):
            write_then_fail()
        assert scan(target, "typed") == before

    def test_no_rows_stay_from_a_rolled_back_create_and_insert(self, target: Target) -> None:
        with pytest.raises(Boom):
            _create_then_fail(target)
        with target.begin() as conn:
            there = target.has_table(conn, "typed")
        if there:  # engines without transactional DDL keep the (empty) table
            assert scan(target, "typed") == []

    def test_a_failed_statement_undoes_its_whole_transaction(self, target: Target) -> None:
        create(target, TYPED, typed_rows(range(3)))

        def insert_a_duplicate() -> None:
            with target.begin() as conn:
                target.insert(conn, "typed", typed_rows(range(3, 10)))
                target.insert(conn, "typed", typed_rows([10, 2]))  # id 2 is there already

        with pytest.raises(Exception) as info:  # noqa: PT011 - whatever the error, all undone
            insert_a_duplicate()
        assert not isinstance(info.value, Boom)
        assert self.SECRET not in str(info.value)
        assert [r[0] for r in scan(target, "typed")] == [0, 1, 2]

    def test_constraint_violation_is_a_connector_error(self, target: Target) -> None:
        """connectors/errors.py: each connector maps its driver's exceptions onto the taxonomy.
        A key that is there already will not go away on a retry: terminal, not transient."""
        create(target, TYPED, typed_rows(range(3)))
        with pytest.raises(ConnectorError) as info, target.begin() as conn:
            target.insert(conn, "typed", typed_rows([5, 1]))
        assert not isinstance(info.value, TransientError)
        message = str(info.value)
        assert "typed" in message or f"'{self.NAME}'" in message, "name the table or connection"
        assert self.SECRET not in message
        assert [r[0] for r in scan(target, "typed")] == [0, 1, 2]

    # --- batch boundaries and limits -------------------------------------------------------
    @pytest.mark.parametrize("sizes", [[1, 2, 999, 1000, 1001, 4997]])
    def test_many_batches_of_every_size(self, target: Target, sizes: list[int]) -> None:
        create(target, TYPED)
        start = 0
        for size in sizes:
            with target.begin() as conn:
                assert target.insert(conn, "typed", typed_rows(range(start, start + size))) == size
            start += size
        rows = scan(target, "typed", chunk=1000)
        assert [r[0] for r in rows] == list(range(start))
        assert as_dicts(rows[995:1010], TYPED) == typed_rows(range(995, 1010)).to_pylist()

    def test_wide_batch_beyond_the_bind_parameter_limit(self, target: Target) -> None:
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
        assert width * rows > target.capabilities.max_bind_parameters
        data = pa.table(
            {
                "id": pa.array(range(rows), pa.int32()),
                **{
                    f"c{i:02d}": pa.array([r * i for r in range(rows)], pa.int64())
                    for i in range(59)
                },
            }
        )
        create(target, schema, data)
        scanned = scan(target, "wide", chunk=500)
        assert len(scanned) == rows
        assert sum(r[-1] for r in scanned) == sum(r * 58 for r in range(rows))

    # --- empty input -----------------------------------------------------------------------
    def test_empty_input_writes_nothing_and_fails_nothing(self, target: Target) -> None:
        create(target, TYPED)
        empty = typed_rows([])
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
    def test_existing_keys_single_and_composite_beyond_one_chunk(self, target: Target) -> None:
        create(target, TYPED, typed_rows(range(0, 3000, 2)))
        create(target, PAIRS, pairs_rows(30))
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

    def test_fetch_update_delete_by_composite_key(self, target: Target) -> None:
        create(target, PAIRS, pairs_rows(30))
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
        rows = scan(target, "pairs")
        assert len(rows) == 28
        by_key = {(r[0], r[1]): r for r in rows}
        assert by_key[(1, "k'0é")] == (1, "k'0é", "new\nline", None)
        assert by_key[(2, "k'2é")] == (2, "k'2é", None, -5)
        assert by_key[(1, "k'1é")] == (1, "k'1é", "v4", 4), "rows not named are untouched"
        assert (0, "k'0é") not in by_key

    def test_delete_and_fetch_many_single_keys(self, target: Target) -> None:
        create(target, TYPED, typed_rows(range(3000)))
        doomed = [(i,) for i in range(0, 3000, 2)] + [(5000,)]
        with target.begin() as conn:
            fetched = target.fetch_by_keys(conn, "typed", ["id"], doomed)
            assert sorted(r["id"] for r in fetched) == list(range(0, 3000, 2))
            assert target.delete_keys(conn, "typed", ["id"], doomed) == 1500
        assert [r[0] for r in scan(target, "typed")] == list(range(1, 3000, 2))

    # --- scans ------------------------------------------------------------------------------
    @pytest.mark.parametrize("chunk", [1, 7, 10_000])
    def test_scan_gives_every_row_once_in_bounded_chunks(self, target: Target, chunk: int) -> None:
        keyless = TableSchema(
            "keyless", (ColumnSchema("x", pa.int64()), ColumnSchema("t", pa.string()))
        )
        create(target, PAIRS, pairs_rows(25))
        create(
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
