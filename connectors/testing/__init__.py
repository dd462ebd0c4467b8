"""The target conformance suite, for any `ferryman.connectors.target.Target`.

A connector author subclasses `TargetConformance` in a test module and overrides the
`make_target` fixture (a factory of targets on one empty scratch database); pytest then
runs every test of the contract against that target:

    from ferryman.connectors.testing import TargetConformance

    class TestMyTarget(TargetConformance):
        @pytest.fixture
        def make_target(self, tmp_path):
            return lambda: MyTarget(self.NAME, MyOptions(url=...))

Optional fixtures: `make_unreachable_target` (a target that cannot connect, with `SECRET`
as its password) and `known_gaps` (test name -> why it is not met yet: a strict xfail).
docs/connectors.md walks through it. Importing this package imports pytest;
`import ferryman.connectors` does not.
"""

from __future__ import annotations

from ferryman.connectors.testing.harness import TargetFactory, TargetHarness
from ferryman.connectors.testing.operations import OperationContract
from ferryman.connectors.testing.rows import RowContract
from ferryman.connectors.testing.tables import TableContract


class TargetConformance(RowContract, TableContract, OperationContract):
    """Every test of the Target contract; subclass it and override `make_target`."""


__all__ = ["TargetConformance", "TargetFactory", "TargetHarness"]
