"""Excel source: csvkit's workbooks (xlsx and xls) and workbooks built here."""

from __future__ import annotations

import csv
import datetime as dt
from pathlib import Path
from typing import Any

import openpyxl
import pytest

from ferryman.connectors.base import ROW_POSITION, Batch, Position
from ferryman.connectors.errors import TerminalError
from ferryman.connectors.excel.options import ExcelOptions
from ferryman.connectors.excel.source import ExcelSource


def _rows(batches: list[Batch]) -> list[dict[str, Any]]:
    return [r for b in batches for r in b.data.to_pylist()]


def _as_csvkit(value: Any) -> str:
    """A value the way csvkit's in2csv writes it."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value)


@pytest.mark.datasets
@pytest.mark.parametrize("book", ["test.xlsx", "test.xls", "sheets.xlsx#data", "sheets.xls#data"])
def test_csvkit_workbooks_give_csvkits_rows_with_types_kept(datasets: Path, book: str) -> None:
    root = datasets / "csvkit" / "examples"
    with (root / "testxlsx_converted.csv").open(encoding="utf-8", newline="") as fh:
        want = list(csv.reader(fh))
    src = ExcelSource("sheets", ExcelOptions(path=str(root)))
    # csvkit names the header-less column H by its letter in lower case; ferryman as Excel does
    assert src.columns(book) == [*want[0][:-1], "H"]
    batches = list(src.read_batches(book, 2))
    schema = {f.name: str(f.type) for f in batches[0].data.schema}
    assert schema["date"] == "date32[day]"
    assert schema["integer"] == "int64"  # whole numbers, also in .xls (csvkit says 40.0 there)
    assert schema["boolean"] == "bool"
    assert schema["datetime"] == "timestamp[us]"
    got = [[_as_csvkit(v) for k, v in r.items() if k != ROW_POSITION] for r in _rows(batches)]
    assert got == want[1:]
    assert _rows(batches)[0][ROW_POSITION] == f"{book}:2"


@pytest.mark.datasets
@pytest.mark.parametrize("book", ["test_skip_lines.xlsx", "test_skip_lines.xls"])
def test_header_row_below_junk_lines(datasets: Path, book: str) -> None:
    src = ExcelSource("s", ExcelOptions(path=str(datasets / "csvkit" / "examples"), header_row=4))
    rows = _rows(list(src.read_batches(book, 10)))
    assert [r["text"] for r in rows][:2] == ["Chicago Reader", "Chicago Sun-Times"]
    assert rows[0][ROW_POSITION] == f"{book}:5"


@pytest.mark.datasets
def test_sheet_by_option_name_or_number_and_unknown_sheet(datasets: Path) -> None:
    root = str(datasets / "csvkit" / "examples")
    by_name = ExcelSource("s", ExcelOptions(path=root, sheet="ʤ"))
    by_number = ExcelSource("s", ExcelOptions(path=root, sheet=3))
    assert by_name.columns("sheets.xlsx") == by_number.columns("sheets.xls") == ["a", "b", "c"]
    with pytest.raises(TerminalError, match=r"no sheet 'nope'; the workbook has 'not this one'"):
        by_name.columns("sheets.xlsx#nope")


def _book(tmp_path: Path, rows: list[list[Any]], name: str = "b.xlsx") -> ExcelSource:
    wb = openpyxl.Workbook()
    ws = wb.active
    assert ws is not None
    ws.title = "Orders"
    for row in rows:
        ws.append(row)
    wb.save(tmp_path / name)
    return ExcelSource("office", ExcelOptions(path=str(tmp_path)))


def test_error_cells_quarantine_their_row_and_empty_rows_are_not_records(tmp_path: Path) -> None:
    src = _book(tmp_path, [["id", "qty"], [1, 5], [2, "#DIV/0!"], [None, None], [3, 7]])
    batches = list(src.read_batches("b.xlsx#Orders", 10))
    assert [r["id"] for r in _rows(batches)] == [1, 3]
    (reject,) = batches[0].rejects
    assert reject.position == "b.xlsx#Orders:3"
    assert reject.column == "qty"
    assert "B3 holds #DIV/0!" in reject.message
    assert sum(b.rows_read for b in batches) == 3


def test_a_column_of_mixed_types_is_text_for_every_row(tmp_path: Path) -> None:
    src = _book(tmp_path, [["v"], [1], ["N/A"], [2.5], [True], [dt.date(2024, 1, 31)]])
    (batch,) = src.read_batches("b.xlsx", 10)
    assert batch.data.column("v").to_pylist() == ["1", "N/A", "2.5", "TRUE", "2024-01-31"]


def test_numbers_whole_and_fractional_make_a_float_column(tmp_path: Path) -> None:
    (batch,) = _book(tmp_path, [["n"], [1], [2.25]]).read_batches("b.xlsx", 10)
    assert batch.data.column("n").to_pylist() == [1.0, 2.25]


def test_resume_after_each_batch_reads_exactly_the_rest(tmp_path: Path) -> None:
    rows = [["n"]] + [[i] if i != 6 else [None] for i in range(1, 12)]
    src = _book(tmp_path, rows)
    batches = list(src.read_batches("b.xlsx", 3))
    assert [b.num_rows for b in batches] == [3, 3, 3, 1]
    rest = list(src.read_batches("b.xlsx", 3, after=Position.from_json(batches[1].end.to_json())))
    assert [r["n"] for r in _rows(rest)] == [8, 9, 10, 11]
    assert rest[0].start == batches[1].end


def test_no_header_row_with_given_names_then_letters(tmp_path: Path) -> None:
    _book(tmp_path, [[1, "a", "x"], [2, "b", "y"]])
    src = ExcelSource("o", ExcelOptions(path=str(tmp_path), header_row=0, columns=["id"]))
    assert src.columns("b.xlsx") == ["id", "B", "C"]
    assert [r["id"] for r in _rows(list(src.read_batches("b.xlsx", 10)))] == [1, 2]


def test_missing_and_unreadable_workbooks_are_terminal_errors(tmp_path: Path) -> None:
    (tmp_path / "bad.xlsx").write_bytes(b"not a zip")
    src = ExcelSource("o", ExcelOptions(path=str(tmp_path)))
    with pytest.raises(TerminalError, match="not a readable .xlsx workbook"):
        src.columns("bad.xlsx")
    with pytest.raises(TerminalError, match="file 'gone.xlsx' not found"):
        src.columns("gone.xlsx")
