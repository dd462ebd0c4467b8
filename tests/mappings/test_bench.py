"""The mapping benchmark runs end to end on a small table (the real run is 1M rows)."""

from __future__ import annotations

from bench.mapping import generate, run


def test_benchmark_data_maps_cleanly_and_reports_a_ratio() -> None:
    result = run(rows=3_000, batch_size=1_000)
    assert result["rows"] == 3_000
    assert result["ratio"] > 0
    assert generate(10).num_columns == 12
