"""The target conformance suite (`ferryman.connectors.testing.TargetConformance`) on every
registered target kind, on every engine it writes to.

Parametrized over `ferryman.connectors.kinds.CONNECTORS`: a kind that can be written to
gets the suite by listing its engines in `factories.TARGET_FACTORIES`.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import pytest

from ferryman.connectors.kinds import CONNECTORS
from ferryman.connectors.testing import TargetConformance, TargetFactory
from tests.connectors.conformance.factories import SECRET, TARGET_FACTORIES
from tests.connectors.conformance.factories import TargetFactory as EngineFactory

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


def test_the_suite_and_the_factories_share_the_secret() -> None:
    assert TargetConformance.SECRET == SECRET


@pytest.fixture(params=CASES, ids=[f"{kind}-{f.id}" for kind, f in CASES])
def case(request: pytest.FixtureRequest) -> tuple[str, EngineFactory]:
    return request.param  # type: ignore[no-any-return]


class TestRegisteredTargets(TargetConformance):
    @pytest.fixture
    def make_target(
        self, case: tuple[str, EngineFactory], request: pytest.FixtureRequest, tmp_path: Path
    ) -> TargetFactory:
        kind, factory = case
        options = factory.options(request, tmp_path)
        return lambda: CONNECTORS.get(kind).build_target(self.NAME, options)

    @pytest.fixture
    def make_unreachable_target(self, case: tuple[str, EngineFactory]) -> TargetFactory:
        kind, factory = case
        return lambda: CONNECTORS.get(kind).build_target(self.NAME, factory.unreachable)

    @pytest.fixture
    def known_gaps(self, case: tuple[str, EngineFactory]) -> Mapping[str, str]:
        return case[1].known_gaps or {}
