"""The `gates:` block of a spec (and of ferryman.yaml): strict, bounded, positioned."""

from __future__ import annotations

from pathlib import Path

import pytest

from ferryman.flows.ops.gates import HALT, ROLLBACK, percent, resolve
from ferryman.mappings.loader import SpecError, load_spec
from ferryman.mappings.model import Gates

SPEC = """\
target: items
source: {connection: legacy, table: SRC}
key: [item_id]
fields:
  item_id: {from: ID, type: integer}
gates:
"""


def _write(tmp_path: Path, gates: str) -> Path:
    path = tmp_path / "items.yaml"
    path.write_text(SPEC + gates)
    return path


def test_a_spec_may_set_its_gates(tmp_path: Path) -> None:
    spec = load_spec(
        _write(tmp_path, "  max_quarantined_share: 0.005\n  on_gate_failure: rollback\n")
    )
    assert spec.gates == Gates(max_quarantined_share=0.005, on_gate_failure="rollback")


@pytest.mark.parametrize(
    ("gates", "where", "message"),
    [
        ("  max_quarantined_share: 1.5\n", "7:26", "must be at most 1.0, got 1.5"),
        ("  max_quarantined_share: lots\n", "7:26", "expected a number, got 'lots'"),
        ("  max_drift: -1\n", "7:14", "must be at least 0, got -1"),
        ("  on_gate_failure: stop\n", "7:20", "expected one of halt, rollback, got 'stop'"),
        ("  max_quarantine_share: 0.1\n", "7:3", "Did you mean 'max_quarantined_share'?"),
    ],
)
def test_bad_gates_are_positioned_errors(
    tmp_path: Path, gates: str, where: str, message: str
) -> None:
    with pytest.raises(SpecError) as info:
        load_spec(_write(tmp_path, gates))
    text = str(info.value)
    assert f"items.yaml:{where}:" in text, text
    assert message in text, text


def test_spec_gates_override_the_project_key_by_key() -> None:
    project = Gates(max_quarantined_share=0.01, on_gate_failure="rollback", max_drift=2)
    assert resolve(project, None).on_gate_failure == ROLLBACK
    mixed = resolve(project, Gates(max_quarantined_share=0.5))
    assert (mixed.max_quarantined_share, mixed.on_gate_failure, mixed.max_drift) == (
        0.5,
        ROLLBACK,
        2,
    )
    default = resolve(Gates(), None)
    assert (default.max_quarantined_share, default.on_gate_failure, default.max_drift) == (
        None,
        HALT,
        0,
    )


def test_percent_reads_like_a_person_wrote_it() -> None:
    assert [percent(x) for x in (0.005, 380 / 20100, 0.0, 0.00004, 1.0)] == [
        "0.5%",
        "1.9%",
        "0%",
        "0.004%",
        "100%",
    ]
