"""Real fixed-width files with their layout files: csvkit's `testfixed` (0-based
column,start,length) and the US Census 2000 language determination file (1-based
start/end/length layout file with CR-only line ends; 1555 CRLF records of 302 characters).
Expected rows are csvkit's conversions of the same files.
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import pytest

from ferryman.connectors.base import ROW_POSITION
from ferryman.connectors.fixed_width.options import FixedWidthOptions
from ferryman.connectors.fixed_width.source import FixedWidthSource

pytestmark = pytest.mark.datasets


def _rows(src: FixedWidthSource, stream: str, size: int) -> list[dict[str, Any]]:
    batches = list(src.read_batches(stream, batch_size=size))
    assert not [r for b in batches for r in b.rejects]
    rows = [r for b in batches for r in b.data.to_pylist()]
    assert sum(b.rows_read for b in batches) == len(rows) == batches[-1].end.rows
    return rows


def _csv_rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def test_csvkit_testfixed_with_its_schema_file(datasets: Path) -> None:
    root = datasets / "csvkit" / "examples"
    src = FixedWidthSource(
        "csvkit", FixedWidthOptions(path=str(root), layout_file="testfixed_schema.csv")
    )
    rows = _rows(src, "testfixed", 2)
    want = _csv_rows(root / "testfixed_converted.csv")
    assert [{k: v for k, v in r.items() if k != ROW_POSITION} for r in rows] == want
    assert rows[3][ROW_POSITION] == "testfixed:4"  # "Row with blanks": short, padded


def test_census_2000_determination_file(datasets: Path) -> None:
    root = datasets / "csvkit" / "examples" / "realdata" / "census_2000"
    opts = FixedWidthOptions(path=str(root), layout_file="determination_schema.csv", base=1)
    src = FixedWidthSource("census", opts)
    rows = _rows(src, "VROUTFSJ.TXt", 500)
    want = _csv_rows(root / "determination.csv")
    assert len(rows) == len(want) == 1555
    assert [{k: v for k, v in r.items() if k != ROW_POSITION} for r in rows] == want


def test_census_implied_decimals_from_the_data_dictionary(datasets: Path, tmp_path: Path) -> None:
    # The dictionary says LEPPCT and ILLRAT have "2 implied decimal points": say so in the
    # layout, and 418 reads 4.18 (csvkit keeps 418).
    root = datasets / "csvkit" / "examples" / "realdata" / "census_2000"
    layout = [
        {"name": "LEPPCT", "start": 80, "end": 84, "implied_decimals": 2},
        {"name": "ILLRAT", "start": 85, "end": 89, "implied_decimals": 2},
    ]
    opts = FixedWidthOptions(path=str(root), layout=layout, base=1, extra="ignore")
    rows = _rows(FixedWidthSource("census", opts), "VROUTFSJ.TXt", 1000)
    assert (rows[0]["LEPPCT"], rows[0]["ILLRAT"]) == ("4.18", "1.35")
    assert (rows[1]["LEPPCT"], rows[1]["ILLRAT"]) == ("27.02", "21.01")
