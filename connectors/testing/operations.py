"""The conformance suite, part 3: what the journal, rollback, reconciliation, lookups and
the dry run ask of a target (upsert, before-images, Arrow reads, lookups, pinning)."""

from __future__ import annotations

import pyarrow as pa
import pytest

from ferryman.connectors.errors import ConnectorError, TerminalError
from ferryman.connectors.target import PinnedTarget, TableSchema, Target, Upserted
from ferryman.connectors.testing.data import PAIRS, TYPED, pairs_rows, typed_rows
from ferryman.connectors.testing.harness import (
    Boom,
    TargetFactory,
    TargetHarness,
    create,
    exists,
    scan,
)

UNKEYED = TableSchema("pairs", PAIRS.columns)
"""PAIRS without a primary key: an upsert there cannot lean on a unique index."""


def _changed_pairs() -> pa.Table:
    """Rows 0-7 of `pairs_rows`: row 1 changed, 6 and 7 new, the others as they are."""
    rows = pairs_rows(8)
    v = rows.column("v").to_pylist()
    v[1] = "changed"
    return rows.set_column(2, "v", pa.array(v, pa.string()))


def _delete_all_then_fail(target: Target) -> None:
    with target.begin() as conn:
        target.delete_all(conn, "pairs")
        raise Boom


class OperationContract(TargetHarness):
    """Upsert, before-images, Arrow reads, lookups, the dry run's pinning and counters."""

    @pytest.mark.parametrize("schema", [PAIRS, UNKEYED], ids=["unique-key", "no-unique-key"])
    def test_upsert_inserts_updates_and_leaves_identical_rows(
        self, target: Target, schema: TableSchema
    ) -> None:
        create(target, schema, pairs_rows(6))
        with target.begin() as conn:
            done = target.upsert(conn, "pairs", ["a", "b"], _changed_pairs())
        assert (done.inserted, done.updated) == ([6, 7], [1])
        assert done.before == [{"a": 0, "b": "k'1é", "v": "v1", "n": 1}]
        rows = {(r[0], r[1]): r for r in scan(target, "pairs")}
        assert len(rows) == 8
        assert rows[(0, "k'1é")][2] == "changed"
        with target.begin() as conn:
            again = target.upsert(conn, "pairs", ["a", "b"], _changed_pairs())
            empty = target.upsert(conn, "pairs", ["a", "b"], pairs_rows(0))
        assert again == Upserted([], [], []), "the same input again changes nothing"
        assert empty == Upserted([], [], [])

    def test_before_images_restore_the_rows_exactly(self, target: Target) -> None:
        create(target, TYPED, typed_rows(range(20)))
        original = scan(target, "typed")
        keys = [(i,) for i in range(0, 20, 3)]
        with target.begin() as conn:
            before = target.fetch_by_keys(conn, "typed", ["id"], keys)
            assert target.delete_keys(conn, "typed", ["id"], keys) == len(keys)
            assert target.insert_rows(conn, "typed", before) == len(keys)
            assert target.insert_rows(conn, "typed", []) == 0
        assert scan(target, "typed") == original

    def test_rows_read_back_as_arrow_by_keys_and_by_range(self, target: Target) -> None:
        data = typed_rows(range(30))
        create(target, TYPED, data)
        keys = pa.table({"id": pa.array([3, 5, 404], pa.int32())})
        with target.begin() as conn:
            by_keys = target.fetch_arrow_by_keys(conn, "typed", ["id"], keys, data.schema)
            by_range = target.fetch_arrow_range(conn, "typed", "id", 10, 14, data.schema)
            none = target.fetch_arrow_by_keys(conn, "typed", ["id"], keys.slice(0, 0), data.schema)
        assert by_keys.schema == data.schema
        assert by_keys.sort_by("id").to_pylist() == typed_rows([3, 5]).to_pylist()
        assert by_range.sort_by("id").to_pylist() == typed_rows(range(10, 15)).to_pylist()
        assert none.num_rows == 0

    def test_lookup_matches_codes_as_text(self, target: Target) -> None:
        if type(target).lookup is Target.lookup:
            pytest.skip("this target answers no table lookups")
        create(target, PAIRS, pairs_rows(6))
        with target.begin() as conn:
            found = target.lookup(conn, "pairs", "n", "v", ["1", "3", "x", "01"])
            with pytest.raises(TerminalError, match="nowhere"):
                target.lookup(conn, "nowhere", "n", "v", ["1"])
            with pytest.raises(TerminalError, match="nope"):
                target.lookup(conn, "pairs", "nope", "v", ["1"])
        assert found.column_names == ["key", "value"]
        assert sorted(zip(*found.to_pydict().values(), strict=True)) == [("1", "v1"), ("3", "v3")]

    def test_a_pinned_target_commits_nothing(
        self, target: Target, make_target: TargetFactory
    ) -> None:
        """The dry run loads through `pinned()`: savepoints inside one transaction that
        is rolled back; new tables it creates are gone after, and it says what DDL it
        would have sent."""
        if type(target).pinned is Target.pinned:
            pytest.skip("this target cannot be dry-run")
        create(target, PAIRS, pairs_rows(3))
        before = scan(target, "pairs")
        pinned = make_target().pinned()
        try:
            assert isinstance(pinned, PinnedTarget)
            with pinned.begin() as conn:
                assert pinned.ensure_table(conn, TYPED) == []
                pinned.insert(conn, "typed", typed_rows(range(5)))
                pinned.insert(conn, "pairs", pairs_rows(6).slice(3))
            with pytest.raises(Boom):
                _delete_all_then_fail(pinned)  # undone to its savepoint only
            with pinned.connect() as conn:
                assert (pinned.count(conn, "pairs"), pinned.count(conn, "typed")) == (6, 5)
            planned = pinned.planned_ddl
        finally:
            pinned.close()
        assert [(d.table, d.kind) for d in planned] == [("typed", "table")]
        assert "typed" in planned[0].statement
        assert scan(target, "pairs") == before
        assert not exists(target, "typed")

    def test_counters_are_read_as_data(self, target: Target) -> None:
        with target.connect() as conn:
            counters = target.counters(conn)
        assert all(isinstance(k, str) for k in counters)
        assert all(v is None or isinstance(v, int) for v in counters.values())
        for name, value in counters.items():
            try:
                target.restore_counter(name, value)
            except ConnectorError:
                continue  # an engine may be unable to; it says so with a connector error
