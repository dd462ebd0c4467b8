"""Fixed-width source: layouts, implied decimals, signs, short and long records."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from ferryman.connectors.base import Position
from ferryman.connectors.errors import TerminalError
from ferryman.connectors.fixed_width.options import FixedWidthOptions
from ferryman.connectors.fixed_width.source import FixedWidthSource

LAYOUT = [
    {"name": "id", "start": 1, "length": 3},
    {"name": "name", "start": 4, "end": 11},
    {"name": "amount", "start": 12, "length": 8, "implied_decimals": 2, "sign": "trailing"},
]


def _src(tmp_path: Path, data: bytes, **options: Any) -> FixedWidthSource:
    (tmp_path / "f.dat").write_bytes(data)
    options.setdefault("layout", LAYOUT)
    options.setdefault("base", 1)
    return FixedWidthSource("fw", FixedWidthOptions(path=str(tmp_path), **options))


def _all(src: FixedWidthSource, size: int = 2) -> tuple[list[dict[str, Any]], list[Any]]:
    batches = list(src.read_batches("f.dat", size))
    return [r for b in batches for r in b.data.to_pylist()], [r for b in batches for r in b.rejects]


def test_values_trimmed_implied_decimals_and_trailing_sign(tmp_path: Path) -> None:
    data = b"001Ada     0001250-\r002Bob     0000005 \r003                \r"
    rows, rejects = _all(_src(tmp_path, data))
    assert not rejects
    assert [(r["id"], r["name"], r["amount"]) for r in rows] == [
        ("001", "Ada", "-12.50"),
        ("002", "Bob", "0.05"),
        ("003", "", ""),
    ]
    assert rows[1]["__ferryman_position"] == "f.dat:2"  # CR-only line ends


def test_leading_sign_and_zero_based_layout(tmp_path: Path) -> None:
    layout = [{"name": "n", "start": 0, "length": 6, "sign": "leading", "implied_decimals": 1}]
    rows, _ = _all(_src(tmp_path, b"+00123\n-00045\n 00007\n", layout=layout, base=0))
    assert [r["n"] for r in rows] == ["12.3", "-4.5", "0.7"]


def test_a_numeric_field_that_is_not_a_number_quarantines_its_record(tmp_path: Path) -> None:
    rows, rejects = _all(_src(tmp_path, b"001Ada     00012X0-\n002Bob     0000100+\n"))
    assert [r["id"] for r in rows] == ["002"]
    (rej,) = rejects
    assert (rej.position, rej.column, rej.raw_value) == ("f.dat:1", "amount", "00012X0-")
    assert "not a number (sign last)" in rej.message


def test_short_lines_are_padded_unless_beyond_tolerance(tmp_path: Path) -> None:
    data = b"001Ada     0000100+\n002Bo\n003\n"
    rows, rejects = _all(_src(tmp_path, data))
    assert [(r["id"], r["name"], r["amount"]) for r in rows][1:] == [
        ("002", "Bo", ""),
        ("003", "", ""),
    ]
    assert not rejects
    rows, rejects = _all(_src(tmp_path, data, tolerance=14))
    assert [r["id"] for r in rows] == ["001", "002"]
    assert [r.position for r in rejects] == ["f.dat:3"]
    assert "tolerance 14" in rejects[0].message


def test_data_past_the_layout_is_quarantined_trailing_blanks_are_not(tmp_path: Path) -> None:
    data = b"001Ada     0000100+     \n002Bob     0000100+OOPS\n"
    rows, rejects = _all(_src(tmp_path, data))
    assert [r["id"] for r in rows] == ["001"]
    assert rejects[0].raw_value == "002Bob     0000100+OOPS"
    assert "would be lost" in rejects[0].message
    rows, rejects = _all(_src(tmp_path, data, extra="ignore"))
    assert len(rows) == 2
    assert not rejects


def test_undecodable_bytes_quarantine_the_record_with_raw_bytes(tmp_path: Path) -> None:
    data = "001Zoë     0000100+\n".encode("cp1252") + b"002B\x81b     0000100+\n"
    rows, rejects = _all(_src(tmp_path, data, encoding="cp1252"))
    assert rows[0]["name"] == "Zoë"
    assert rejects[0].raw_value == repr(b"002B\x81b     0000100+")
    assert "0x81 at char 5" in rejects[0].message


def test_resume_and_blank_and_header_lines(tmp_path: Path) -> None:
    lines = [b"HEADER LINE"] + [b"%03dName%d" % (i, i) for i in range(1, 8)]
    data = b"\n".join(lines[:4]) + b"\n\n" + b"\n".join(lines[4:]) + b"\n"
    src = _src(tmp_path, data, skip_lines=1, layout=LAYOUT[:2])
    first = list(src.read_batches("f.dat", 3))
    assert [b.end.rows for b in first] == [3, 6, 7]
    rest = list(src.read_batches("f.dat", 3, after=Position(rows=3)))
    assert [r["id"] for b in rest for r in b.data.to_pylist()] == ["004", "005", "006", "007"]
    assert rest[0].data.to_pylist()[1]["__ferryman_position"] == "f.dat:7"  # blank line 5


@pytest.mark.parametrize(
    ("layout", "message"),
    [
        ([{"name": "a", "start": 1}], "exactly one of `length` or `end`"),
        ([{"name": "a", "start": 1, "length": 2, "end": 2}], "exactly one of"),
        ([{"name": "a", "start": 5, "end": 2}], "end 2 is before start 5"),
        ([{"name": "a", "start": 0, "length": 2}], "starts at 0, before 1"),
        (
            [{"name": "a", "start": 1, "length": 4}, {"name": "b", "start": 3, "length": 2}],
            "'a' and 'b' overlap",
        ),
        (
            [{"name": "a", "start": 1, "length": 1}, {"name": "a", "start": 2, "length": 1}],
            "'a' is listed twice",
        ),
    ],
)
def test_bad_layouts_are_refused_with_the_field_named(
    layout: list[dict[str, Any]], message: str
) -> None:
    with pytest.raises(ValidationError, match=message):
        FixedWidthOptions(path=".", layout=layout, base=1)


def test_layout_or_layout_file_exactly_one() -> None:
    with pytest.raises(ValidationError, match="exactly one of `layout` or `layout_file`"):
        FixedWidthOptions(path=".")


def test_layout_file_problems_name_the_file_and_row(tmp_path: Path) -> None:
    (tmp_path / "f.dat").write_bytes(b"abc\n")
    (tmp_path / "layout.csv").write_text("column,start,length\na,0,2\nb,x,1\n")
    src = FixedWidthSource("fw", FixedWidthOptions(path=str(tmp_path), layout_file="layout.csv"))
    with pytest.raises(TerminalError, match=r"layout.csv:3: .*invalid literal"):
        src.columns("f.dat")
    missing = FixedWidthSource("fw", FixedWidthOptions(path=str(tmp_path), layout_file="no.csv"))
    with pytest.raises(TerminalError, match=r"layout file .*no.csv not found"):
        missing.columns("f.dat")
