"""The fixtures the target conformance suite runs on, and what a connector author
overrides: `make_target` (required) and `make_unreachable_target` (recommended)."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any, ClassVar

import pyarrow as pa
import pytest

from ferryman.connectors.target import TableSchema, Target

TargetFactory = Callable[[], Target]


class Boom(Exception):
    """Raised inside a transaction to make the caller roll it back."""


class TargetHarness:
    """Fixtures of `TargetConformance`; see there."""

    NAME: ClassVar[str] = "conformance"
    """The connection name to build targets with: error messages must name it."""
    SECRET: ClassVar[str] = "hunter2-conformance"
    """The password to put in the unreachable target's URL: no message may show it."""

    @pytest.fixture
    def make_target(self) -> TargetFactory:
        """Override: a factory of targets on ONE empty scratch place (a database or schema
        of its own for this test). Each call opens a new target on the same place: the
        suite reads through a second one to check nothing was kept only in a cache."""
        raise NotImplementedError(
            "override the `make_target` fixture of your TargetConformance subclass"
        )

    @pytest.fixture
    def make_unreachable_target(self) -> TargetFactory | None:
        """Override: a factory of a target that cannot connect (a closed port), with
        `SECRET` as its password where there are passwords. None skips that test."""
        return None

    @pytest.fixture
    def known_gaps(self) -> Mapping[str, str]:
        """Override: test name -> why this target does not meet that part of the contract
        yet. The test then runs as a strict xfail: once the gap is closed it fails as
        XPASS, and the entry must go."""
        return {}

    @pytest.fixture(autouse=True)
    def _known_gap(self, request: pytest.FixtureRequest, known_gaps: Mapping[str, str]) -> None:
        gap = known_gaps.get(getattr(request.node, "originalname", request.node.name))
        if gap:
            request.node.add_marker(pytest.mark.xfail(reason=f"known gap: {gap}", strict=True))

    @pytest.fixture
    def target(self, make_target: TargetFactory) -> Iterator[Target]:
        target = make_target()
        try:
            yield target
        finally:
            target.close()


def scan(target: Target, table: str, chunk: int = 10_000) -> list[tuple[Any, ...]]:
    with target.begin() as conn:
        return [row for part in target.scan(conn, table, chunk) for row in part]


def create(target: Target, schema: TableSchema, rows: pa.Table | None = None) -> None:
    with target.begin() as conn:
        assert target.ensure_table(conn, schema) == []
        if rows is not None:
            assert target.insert(conn, schema.name, rows) == rows.num_rows


def exists(target: Target, table: str) -> bool:
    with target.begin() as conn:
        return target.has_table(conn, table)
