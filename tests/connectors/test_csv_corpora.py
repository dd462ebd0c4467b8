"""csvkit's example files: encodings, BOMs, bad rows, NUL bytes, old Mac line ends.

Read in place from ../shared/datasets/csvkit/examples. Every test checks the accounting:
records in the file = rows + rejects.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from ferryman.connectors.base import ROW_POSITION, Reject
from ferryman.connectors.csv.options import CsvOptions
from ferryman.connectors.csv.source import CsvSource
from ferryman.connectors.errors import TerminalError

pytestmark = pytest.mark.datasets


@pytest.fixture
def examples(datasets: Path) -> Path:
    return datasets / "csvkit" / "examples"


def _read(
    root: Path, stream: str, records: int, **options: Any
) -> tuple[list[dict[str, Any]], list[Reject]]:
    src = CsvSource("csvkit", CsvOptions(path=str(root), **options))
    batches = list(src.read_batches(stream, batch_size=2))
    rows = [
        {k: v for k, v in r.items() if k != ROW_POSITION}
        for b in batches
        for r in b.data.to_pylist()
    ]
    rejects = [r for b in batches for r in b.rejects]
    assert len(rows) + len(rejects) == records == sum(b.rows_read for b in batches)
    return rows, rejects


@pytest.mark.parametrize(
    ("name", "encoding"),
    [
        ("test_latin1.csv", "latin-1"),
        ("test_utf16_big.csv", "utf-16"),
        ("test_utf16_little.csv", "utf-16"),
        ("test_utf8_bom.csv", "utf-8"),
        ("test_utf8.csv", "utf-8"),
    ],
)
def test_encodings_and_byte_order_marks(examples: Path, name: str, encoding: str) -> None:
    rows, rejects = _read(examples, name, 2, encoding=encoding)
    assert not rejects
    first = list(rows[0])
    assert first[0] in ("a", "foo")  # the BOM never sticks to the first column name
    assert list(rows[0].values()) == ["1", "2", "3"]
    assert list(rows[1].values())[:2] == ["4", "5"]
    assert list(rows[1].values())[2] in ("©", "ʤ", "Ê¤")


def test_utf16_bom_is_detected_as_certain(examples: Path) -> None:
    src = CsvSource("csvkit", CsvOptions(path=str(examples), encoding="auto"))
    assert src.dialect("test_utf16_big.csv").encoding == "utf-16-be"
    assert src.detected["test_utf16_big.csv"].confidence == 1.0
    assert "BOM" in src.describe("test_utf16_big.csv")


def test_bad_rows_are_quarantined_with_numbers_and_raw_text(examples: Path) -> None:
    rows, rejects = _read(examples, "bad.csv", 3)
    assert rows == [{"column_a": "0", "column_b": "mixed types.... uh oh", "column_c": "17"}]
    assert [(r.position, r.raw_value) for r in rejects] == [
        ("bad.csv:2", '1,27,,"I\'m too long!"'),
        ("bad.csv:3", ',"I\'m too short!"'),
    ]
    assert "4 fields, the header has 3" in rejects[0].message


def test_bad_rows_after_skipped_lines_keep_their_line_numbers(examples: Path) -> None:
    _, rejects = _read(examples, "bad_skip_lines.csv", 3, skip_lines=3)
    assert [r.position for r in rejects] == ["bad_skip_lines.csv:5", "bad_skip_lines.csv:6"]


def test_null_byte_record_is_quarantined(examples: Path) -> None:
    rows, rejects = _read(examples, "null_byte.csv", 1)
    assert rows == []
    assert rejects[0].raw_value == "\x00,2,3"
    assert "NUL byte" in rejects[0].message


def test_old_mac_line_ends(examples: Path) -> None:
    rows, _ = _read(examples, "mac_newlines.csv", 2)
    assert rows == [{"a": "1", "b": "2", "c": "3"}, {"a": "Once upon\ra time", "b": "5", "c": "6"}]


def test_skip_lines_tab_and_quoted(examples: Path) -> None:
    assert _read(examples, "test_skip_lines.csv", 1, skip_lines=3)[0] == [
        {"a": "1", "b": "2", "c": "3"}
    ]
    assert _read(examples, "dummy.tsv", 1, delimiter="\t")[0] == [{"a": "1", "b": "2", "c": "3"}]
    assert _read(examples, "optional_quote_characters.csv", 1)[0] == [
        {"a": "1", "b": "2", "c": "3"}
    ]


def test_long_row_hints_at_trailing_delimiter(examples: Path) -> None:
    _, rejects = _read(examples, "test_empty_columns_long_row.csv", 1)
    assert "trailing_delimiter: true" in rejects[0].message


def test_empty_file_has_no_header_to_read(examples: Path) -> None:
    src = CsvSource("csvkit", CsvOptions(path=str(examples)))
    assert list(src.read_batches("empty.csv", 10)) == []
    with pytest.raises(TerminalError, match=r"empty.csv .* the file is empty.*`columns:`"):
        src.columns("empty.csv")
