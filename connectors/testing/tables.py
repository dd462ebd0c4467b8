"""The conformance suite, part 2: tables (create, check, describe, index, drop),
connections, capabilities and error mapping."""

from __future__ import annotations

import pyarrow as pa
import pytest

from ferryman.connectors.errors import ConnectionFailed, TerminalError, TransientError
from ferryman.connectors.target import (
    ColumnSchema,
    IndexSchema,
    TableSchema,
    Target,
    TargetCapabilities,
)
from ferryman.connectors.testing.data import PAIRS, TYPED, pairs_rows, typed_rows
from ferryman.connectors.testing.harness import (
    Boom,
    TargetFactory,
    TargetHarness,
    create,
    exists,
    scan,
)


def _create_then_fail(target: Target) -> None:
    with target.begin() as conn:
        target.ensure_table(conn, TYPED)
        raise Boom


class TableContract(TargetHarness):
    """Tables, connections, capabilities and errors."""

    def test_ensure_table_accepts_a_fitting_table_and_names_what_does_not_fit(
        self, target: Target
    ) -> None:
        create(target, TYPED)
        wider = TableSchema("typed", (*TYPED.columns, ColumnSchema("extra", pa.string())), ("id",))
        with target.begin() as conn:
            assert target.ensure_table(conn, TYPED) == []
            problems = target.ensure_table(conn, wider)
        assert len(problems) == 1
        assert "extra" in problems[0]

    def test_a_created_table_is_described_as_its_spec(
        self, target: Target, make_target: TargetFactory
    ) -> None:
        """What `existing_columns`, `column_names` and `primary_key` say of a table the
        target created is its spec again, read by a target that did not create it."""
        create(target, TYPED)
        create(target, PAIRS)
        other = make_target()
        try:
            with other.begin() as conn:
                assert {"typed", "pairs"} <= set(other.table_names(conn))
                described = other.existing_columns(conn, TYPED)
                assert other.column_names(conn, "pairs") == PAIRS.column_names()
                assert other.primary_key(conn, "pairs") == list(PAIRS.primary_key)
        finally:
            other.close()
        assert [c.name for c in described] == TYPED.column_names()
        assert [c.type for c in described] == [c.type for c in TYPED.columns]
        assert [c.nullable for c in described] == [c.nullable for c in TYPED.columns]
        assert described[TYPED.column_names().index("short")].max_length == 40

    def test_indexes_are_created_once_and_a_broken_unique_one_is_terminal(
        self, target: Target
    ) -> None:
        create(target, PAIRS, pairs_rows(9))
        wanted = [IndexSchema("ix_pairs_v", ("v",)), IndexSchema("ux_pairs_n", ("n",), True)]
        with target.begin() as conn:
            assert sorted(target.create_indexes(conn, "pairs", wanted)) == sorted(
                ix.name for ix in wanted
            )
        with target.begin() as conn:
            assert target.create_indexes(conn, "pairs", wanted) == []
        broken = [IndexSchema("ux_pairs_a", ("a",), True)]  # a repeats: 0, 0, 0, 1, ...
        with pytest.raises(TerminalError, match="ux_pairs_a"), target.begin() as conn:
            target.create_indexes(conn, "pairs", broken)

    def test_drop_table_and_delete_all(self, target: Target) -> None:
        create(target, PAIRS, pairs_rows(5))
        create(target, TYPED, typed_rows(range(4)))
        with target.begin() as conn:
            assert target.delete_all(conn, "pairs") == 5
            target.drop_table(conn, "typed")
        assert not exists(target, "typed")
        assert scan(target, "pairs") == []
        create(target, TYPED)  # created again from scratch: nothing of it was cached
        assert scan(target, "typed") == []

    def test_connect_reads_committed_rows_and_commits_nothing(self, target: Target) -> None:
        create(target, PAIRS, pairs_rows(3))
        with target.connect() as conn:
            assert target.count(conn, "pairs") == 3
            target.delete_all(conn, "pairs")
        assert len(scan(target, "pairs")) == 3

    def test_capabilities_are_data(self, target: Target) -> None:
        caps = target.capabilities
        assert isinstance(caps, TargetCapabilities)
        assert caps.max_bind_parameters > 0
        assert caps.max_identifier_length >= 30

    def test_create_table_is_undone_where_the_capabilities_say_so(self, target: Target) -> None:
        """`transactional_ddl` is what the flows plan by: a target that claims it must take
        a CREATE TABLE back with its transaction (the others keep the table, which is why
        dry runs there use shadow tables)."""
        with pytest.raises(Boom):
            _create_then_fail(target)
        assert exists(target, "typed") is not target.capabilities.transactional_ddl

    def test_unreachable_target_is_connection_failed_without_the_password(
        self, make_unreachable_target: TargetFactory | None
    ) -> None:
        if make_unreachable_target is None:
            pytest.skip("no make_unreachable_target fixture")
        target = make_unreachable_target()
        try:
            assert self.SECRET not in target.describe()
            with pytest.raises(ConnectionFailed) as info, target.begin():
                pass
        finally:
            target.close()
        message = str(info.value)
        assert f"'{self.NAME}'" in message, "the message names the connection"
        assert self.SECRET not in message
        assert not isinstance(info.value, TransientError)
