"""EBCDIC source against cobrix's own test sets: the records must be cobrix's expected ones.

cobrix writes its expected records as JSON lines; they are read with numbers kept as their
text ('59.80'), which is exactly what ferryman yields for numbers.
"""

from __future__ import annotations

import json
import unicodedata
from pathlib import Path
from typing import Any

import pytest

from ferryman.connectors.base import ROW_POSITION, Position
from ferryman.connectors.mainframe.options import EbcdicOptions
from ferryman.connectors.mainframe.source import EbcdicSource

pytestmark = pytest.mark.datasets


def _expected(path: Path) -> list[dict[str, Any]]:
    # split on \n only: values hold NEL (U+0085), which str.splitlines() treats as a newline
    lines = path.read_text(encoding="utf-8").split("\n")
    return [json.loads(line, parse_float=str, parse_int=str) for line in lines if line]


def _flat(record: dict[str, Any], out: dict[str, Any] | None = None) -> dict[str, Any]:
    """cobrix nests groups and OCCURS arrays; ferryman flattens them as NAME_1 .. NAME_n."""
    out = {} if out is None else out
    for key, value in record.items():
        if isinstance(value, dict):
            _flat(value, out)
        elif isinstance(value, list):
            for n, element in enumerate(value, start=1):
                out.update({f"{k}_{n}": v for k, v in element.items()})
        else:
            out[key] = value
    return out


def _read(root: Path, stream: str, batch_size: int = 64, **options: Any) -> list[dict[str, Any]]:
    src = EbcdicSource("mainframe", EbcdicOptions(path=str(root), **options))
    batches = list(src.read_batches(stream, batch_size))
    assert all(not b.rejects for b in batches)
    rows = [r for b in batches for r in b.data.to_pylist()]
    for r in rows:
        r.pop(ROW_POSITION)
    return rows


@pytest.mark.parametrize(
    ("trim", "expected"),
    [
        ("both", "test3.txt"),
        ("both", "test3_trim_both.txt"),
        ("none", "test3_trim_none.txt"),
        ("left", "test3_trim_left.txt"),
        ("right", "test3_trim_right.txt"),
    ],
)
def test_test3_fixed_records_binary_amounts_and_trimming(
    datasets: Path, trim: str, expected: str
) -> None:
    root = datasets / "cobrix" / "data"
    want = _expected(root / "test3_expected" / expected)
    rows = _read(root, "test3_data/TRAN2.AUG31.DATA.dat", copybook="test3_copybook.cob", trim=trim)
    assert len(rows) == 1000  # 45,000 bytes / 45-byte records: every record read
    assert rows[: len(want)] == want
    assert rows[2]["AMOUNT"] == "59.80"  # S9(9)V99 BINARY as exact decimal text


def test_test3_accounting_and_positions(datasets: Path) -> None:
    root = datasets / "cobrix" / "data"
    src = EbcdicSource("mf", EbcdicOptions(path=str(root), copybook="test3_copybook.cob"))
    batches = list(src.read_batches("test3_data/TRAN2.AUG31.DATA.dat", 300))
    assert [b.rows_read for b in batches] == [300, 300, 300, 100]
    assert batches[0].data.column(ROW_POSITION)[0].as_py() == "test3_data/TRAN2.AUG31.DATA.dat:1"
    assert batches[-1].end == Position(rows=1000, value=45000)


def test_test1_occurs_depending_on_comp3_and_redefines(datasets: Path) -> None:
    root = datasets / "cobrix" / "data"
    want = [_flat(r) for r in _expected(root / "test1_expected" / "test1.txt")]
    rows = _read(root, "test1_data/example.bin", batch_size=3, copybook="test1_copybook.cob",
                 trim="both")  # fmt: skip
    assert len(rows) == len(want) == 10
    for got, expected in zip(rows, want, strict=True):
        # cobrix's array holds NUMBER-OF-ACCTS elements; ferryman's columns for the
        # elements past the count (up to OCCURS 80) are NULL.
        assert {k: v for k, v in got.items() if v is not None} == expected
        count = int(got["NUMBER_OF_ACCTS"])
        assert got[f"ACCOUNT_NUMBER_{count + 1}"] is None
        assert got["ACCOUNT_NUMBER_80"] is None
    assert len(rows[0]) == 7 + 80 * 3


def _controls_as_spaces(text: str) -> str:
    return "".join(" " if unicodedata.category(c) == "Cc" else c for c in text)


EXTENDED_PAGES = ["cp037_ext", "cp273", "cp500", "cp1140", "cp1141", "cp1148"]


@pytest.mark.parametrize("page", EXTENDED_PAGES)
def test_test9_code_pages(datasets: Path, page: str) -> None:
    """Every printable character matches cobrix's. Control characters compare as a class:
    cobrix's hand-written tables turn C1 controls into spaces and swap CR and LF, where
    IBM's tables (Python's codecs and the `ebcdic` package) keep them; and cobrix's cp273
    has 0xBC as MACRON where IBM's has OVERLINE. cobrix wrote these files untrimmed."""
    root = datasets / "cobrix" / "data"
    want = _expected(root / "test9_expected" / f"test9_{page}.txt")
    code_page = page.removesuffix("_ext")
    rows = _read(root, "test9_data/TRAN.APR14.NPT.DATA.dat", copybook="test9_copybook.cob",
                 code_page=code_page, trim="none", control_chars="keep")  # fmt: skip
    assert len(rows) == 1000
    differences = 0
    for got, expected in zip(rows, want, strict=False):
        for key, value in expected.items():
            mine = got[key]
            if page == "cp273":
                mine = mine.replace("\u203e", "\u00af")
            if mine != value:
                differences += 1
                assert _controls_as_spaces(mine) == _controls_as_spaces(value), key
    assert differences < 60  # the exceptions above are rare; most values are equal as is


def test_test9_euro_sign_differs_between_cp037_and_cp1140(datasets: Path) -> None:
    root = datasets / "cobrix" / "data"
    stream = "test9_data/TRAN.APR14.NPT.DATA.dat"
    old = _read(root, stream, copybook="test9_copybook.cob", code_page="cp037")
    new = _read(root, stream, copybook="test9_copybook.cob", code_page="cp1140")
    assert "¤" in old[1]["COMPANY_NAME_NP"]
    assert "€" in new[1]["COMPANY_NAME_NP"]


def test_test9_cp037_with_controls_as_spaces(datasets: Path) -> None:
    """cobrix's default cp037 table maps controls to spaces and trims both sides."""
    root = datasets / "cobrix" / "data"
    want = _expected(root / "test9_expected" / "test9_cp037.txt")
    rows = _read(root, "test9_data/TRAN.APR14.NPT.DATA.dat", copybook="test9_copybook.cob",
                 trim="both")  # fmt: skip
    for got, expected in zip(rows, want, strict=False):
        assert got == {k: _controls_as_spaces(v) for k, v in expected.items()}


def test_test13b_variable_records_behind_rdw_with_file_header_and_trailer(datasets: Path) -> None:
    root = datasets / "cobrix" / "data"
    want = [_flat(r) for r in _expected(root / "test13_expected" / "test13b.txt")]
    rows = _read(root, "test13b_data/COMP.DETAILS.JUN02.DATA.RDW.BE.dat",
                 copybook="test13b_vrl_file_headers.cob", trim="both", record_format="variable",
                 rdw_includes_header=False, skip_header_bytes=100,
                 skip_trailer_bytes=120)  # fmt: skip
    assert len(rows) == len(want) == 20
    # cobrix decodes text with its 'common' table (non-ASCII letters as spaces), so compare
    # the items that hold plain text in both variants.
    for key in ("SEGMENT_ID", "COMPANY_ID", "COMPANY_NAME", "ADDRESS", "PHONE_NUMBER"):
        assert [r[key] for r in rows] == [w[key] for w in want], key
