"""Open one sheet of a workbook and walk its rows as typed cells.

.xlsx is read with openpyxl in read-only mode: the sheet's XML is streamed, so memory
does not grow with the rows (the shared-strings table is loaded whole). Formulas give the
value Excel last computed and saved. .xls is read with xlrd, which has no streaming mode:
it loads the whole workbook into memory (the format forces it; .xls sheets are at most
65,536 rows).
"""

from __future__ import annotations

import datetime as dt
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Protocol

from ferryman.connectors.errors import TerminalError
from ferryman.connectors.excel.cells import Cell, as_date


class Sheet(Protocol):
    name: str

    def rows(self, first: int) -> Iterator[tuple[int, list[Cell]]]:
        """(row number, cells) from row `first` on, gaps included as empty rows."""

    def close(self) -> None: ...


def open_sheet(path: Path, sheet: str | int | None, where: str) -> Sheet:
    if path.suffix.lower() == ".xls":
        return _XlsSheet(path, sheet, where)
    return _XlsxSheet(path, sheet, where)


def _pick(names: list[str], sheet: str | int | None, where: str) -> int:
    if sheet is None:
        return 0
    if isinstance(sheet, int):
        if 1 <= sheet <= len(names):
            return sheet - 1
    elif sheet in names:
        return names.index(sheet)
    raise TerminalError(
        f"{where}: no sheet {sheet!r}; the workbook has {', '.join(map(repr, names))}"
        " (a number counts from 1)"
    )


class _XlsxSheet:
    def __init__(self, path: Path, sheet: str | int | None, where: str) -> None:
        import openpyxl

        try:
            with _quiet():
                self._book = openpyxl.load_workbook(path, read_only=True, data_only=True)
        except Exception as err:  # noqa: BLE001 - openpyxl raises many kinds; all mean "unreadable"
            raise TerminalError(f"{where}: not a readable .xlsx workbook: {err}") from err
        index = _pick(self._book.sheetnames, sheet, where)
        self.name = self._book.sheetnames[index]
        self._sheet = self._book.worksheets[index]

    def rows(self, first: int) -> Iterator[tuple[int, list[Cell]]]:
        self._sheet.reset_dimensions()  # do not trust the file's declared size
        rows = self._sheet.iter_rows(min_row=first)
        number = first
        while True:
            with _quiet():
                row = next(rows, None)
            if row is None:
                return
            yield number, [_xlsx_cell(c) for c in row]
            number += 1

    def close(self) -> None:
        self._book.close()


@contextmanager
def _quiet() -> Iterator[None]:
    """openpyxl warns about workbook features it drops (data validation, extensions):
    they carry no cell values, so for reading the warnings are noise."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=UserWarning, module="openpyxl")
        yield


def _xlsx_cell(c: Any) -> Cell:
    value = getattr(c, "value", None)
    kind = getattr(c, "data_type", "n")
    if kind == "e":
        return Cell(None, error=str(value))
    if value is None and kind in ("s", "inlineStr"):
        return Cell("")  # a text cell holding empty text is not an absent cell
    if isinstance(value, dt.datetime):
        return Cell(as_date(value, getattr(c, "number_format", None)))
    return Cell(_plain(value))


def _plain(value: Any) -> Any:
    """Values of types a column cannot hold (a duration) as their text."""
    if value is None or isinstance(value, bool | int | float | str | dt.date | dt.time):
        return value
    return str(value)


class _XlsSheet:
    def __init__(self, path: Path, sheet: str | int | None, where: str) -> None:
        import xlrd

        try:
            self._book = xlrd.open_workbook(str(path), formatting_info=True, on_demand=True)
        except Exception as err:  # noqa: BLE001 - xlrd raises many kinds; all mean "unreadable"
            raise TerminalError(f"{where}: not a readable .xls workbook: {err}") from err
        index = _pick(self._book.sheet_names(), sheet, where)
        self.name = self._book.sheet_names()[index]
        self._sheet = self._book.sheet_by_index(index)

    def rows(self, first: int) -> Iterator[tuple[int, list[Cell]]]:
        for index in range(first - 1, self._sheet.nrows):
            yield index + 1, [self._cell(c) for c in self._sheet.row(index)]

    def _cell(self, c: Any) -> Cell:
        import xlrd

        if c.ctype in (xlrd.XL_CELL_EMPTY, xlrd.XL_CELL_BLANK):
            return Cell(None)
        if c.ctype == xlrd.XL_CELL_ERROR:
            return Cell(None, error=xlrd.error_text_from_code.get(c.value, f"error {c.value}"))
        if c.ctype == xlrd.XL_CELL_BOOLEAN:
            return Cell(bool(c.value))
        if c.ctype == xlrd.XL_CELL_NUMBER:
            whole = c.value.is_integer() and abs(c.value) < 2**53
            return Cell(int(c.value) if whole else c.value)
        if c.ctype == xlrd.XL_CELL_DATE:
            return Cell(self._date(c))
        return Cell(c.value)

    def _date(self, c: Any) -> Any:
        import xlrd

        value = xlrd.xldate.xldate_as_datetime(c.value, self._book.datemode)
        if c.value < 1:  # a time of day without a date
            return value.time()
        fmt = self._book.format_map.get(self._book.xf_list[c.xf_index].format_key)
        return as_date(value, fmt.format_str if fmt is not None else None)

    def close(self) -> None:
        self._book.release_resources()
