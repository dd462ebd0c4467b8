"""Quality gates: thresholds that decide whether a table's load may stand.

A table's gates are the project's (`gates:` in ferryman.yaml) with the spec's `gates:`
laid over them key by key. Three gates exist: the share of quarantined rows (checked when
a table's load is done), `batch` expectations (a failure stops the batch before it loads:
`ferryman.flows.batch.load.GateFailed`) and reconciliation drift (checked at the end of the run).
A gate
that fails stops the run with state `stopped_by_gate` (exit code 3); `on_gate_failure`
says whether what was loaded stays for inspection (`halt`) or is rolled back (`rollback`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ferryman.mappings.model import Gates

HALT, ROLLBACK = "halt", "rollback"


@dataclass(frozen=True)
class TableGates:
    """The gates in force for one table."""

    max_quarantined_share: float | None = None
    max_drift: int = 0
    on_gate_failure: str = HALT


def resolve(project: Gates, spec: Gates | None) -> TableGates:
    """The project's gates with the spec's keys laid over them."""
    merged = project.model_dump()
    if spec is not None:
        merged.update(spec.model_dump(exclude_none=True))
    return TableGates(
        max_quarantined_share=merged["max_quarantined_share"],
        max_drift=merged["max_drift"] if merged["max_drift"] is not None else 0,
        on_gate_failure=merged["on_gate_failure"] or HALT,
    )


@dataclass(frozen=True)
class GateResult:
    """One gate evaluated on one table: what was measured against what was allowed."""

    table: str
    gate: str
    passed: bool
    figure: str
    threshold: str
    message: str

    def to_json(self) -> dict[str, Any]:
        return {
            "table": self.table,
            "gate": self.gate,
            "passed": self.passed,
            "figure": self.figure,
            "threshold": self.threshold,
            "message": self.message,
        }


class GateStop(Exception):
    """A gate failed: the run stops (exit code 3) and `action` says what happens to what
    was loaded."""

    def __init__(self, results: Sequence[GateResult], action: str) -> None:
        self.results, self.action = list(results), action
        super().__init__("; ".join(r.message for r in self.results))


def percent(share: float) -> str:
    """0.005 -> '0.5%', 0.0189 -> '1.9%', 0.00004 -> '0.004%'."""
    value = share * 100
    if value == 0 or value >= 0.1:
        return f"{round(value, 1):g}%"
    return f"{value:.1g}%"


def quarantine_share(table: str, quarantined: int, read: int, limit: float) -> GateResult:
    share = quarantined / read if read else 0.0
    passed = share <= limit
    figure = f"quarantined {percent(share)} ({quarantined:,} of {read:,})"
    op = "<=" if passed else ">"
    return GateResult(
        table=table,
        gate="max_quarantined_share",
        passed=passed,
        figure=figure,
        threshold=percent(limit),
        message=f"{table}: {figure} {op} max_quarantined_share {percent(limit)}",
    )


def batch_expectation(table: str, batch_no: int, failures: Sequence[str]) -> GateResult:
    return GateResult(
        table=table,
        gate="batch_expectation",
        passed=False,
        figure=f"batch {batch_no}: " + "; ".join(failures),
        threshold="every batch expectation passes",
        message=f"{table} batch {batch_no}: batch expectation failed: " + "; ".join(failures),
    )


def drift(table: str, differences: Sequence[str], limit: int) -> GateResult:
    n = len(differences)
    passed = n <= limit
    shown = "; ".join(differences[:5]) + (f"; ... {n - 5} more" if n > 5 else "")
    figure = f"{n} difference(s)" + (f": {shown}" if n else "")
    op = "<=" if passed else ">"
    return GateResult(
        table=table,
        gate="max_drift",
        passed=passed,
        figure=figure,
        threshold=str(limit),
        message=f"{table}: reconciliation found {figure} {op} max_drift {limit}",
    )
