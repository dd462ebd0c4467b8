"""DBF source on tables built here: types, deleted records, bad records, resume, code pages."""

from __future__ import annotations

import datetime as dt
import logging
import struct
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from ferryman.connectors.base import ROW_POSITION, Batch, Position
from ferryman.connectors.dbf.options import DbfOptions
from ferryman.connectors.dbf.source import DbfSource
from ferryman.connectors.errors import TerminalError

FIELDS = [("CODE", "C", 6, 0), ("QTY", "N", 8, 2), ("BORN", "D", 8, 0), ("OK", "L", 1, 0)]


def write_dbf(
    path: Path,
    fields: list[tuple[str, str, int, int]],
    records: list[bytes],
    version: int = 0x03,
    driver: int = 0x00,
    flags: dict[str, int] | None = None,
) -> None:
    """A dBase III (or VFP with `version=0x30`) table; each record is its data bytes
    after the deletion flag, which is the record's first byte here."""
    record_length = 1 + sum(f[2] for f in fields)
    extra = 263 if version in (0x30, 0x31, 0x32) else 0
    header_length = 32 + 32 * len(fields) + 1 + extra
    head = struct.pack("<B3sIHH", version, b"\x7c\x01\x01", len(records), header_length,
                       record_length) + bytes(17) + bytes([driver]) + bytes(2)  # fmt: skip
    descriptors = b""
    for name, kind, length, decimals in fields:
        flag = (flags or {}).get(name, 0)
        descriptors += (
            name.encode().ljust(11, b"\0") + kind.encode() + bytes(4)
            + bytes([length, decimals, flag]) + bytes(13)
        )  # fmt: skip
    body = b"".join(records)
    for r in records:
        assert len(r) == record_length, r
    path.write_bytes(head + descriptors + b"\r" + bytes(extra) + body + b"\x1a")


def rec(code: str, qty: str, born: str, ok: str, deleted: bool = False) -> bytes:
    return (b"*" if deleted else b" ") + (
        code.encode("cp850").ljust(6) + qty.encode().rjust(8) + born.encode().ljust(8) + ok.encode()
    )


def _source(tmp_path: Path, **options: Any) -> DbfSource:
    return DbfSource("legacy", DbfOptions(path=str(tmp_path), **options))


def _rows(batches: list[Batch]) -> list[dict[str, Any]]:
    return [r for b in batches for r in b.data.to_pylist()]


def test_types_are_kept_and_numbers_stay_exact_text(tmp_path: Path) -> None:
    write_dbf(tmp_path / "T.DBF", FIELDS, [
        rec("A1", "12.30", "19991231", "T"),
        rec("", "", "", "?"),
        rec("Zoë", "-0.05", "00000000", "n"),
    ], driver=0x02)  # fmt: skip
    src = _source(tmp_path)
    assert src.columns("T.DBF") == ["CODE", "QTY", "BORN", "OK"]
    (batch,) = src.read_batches("T.DBF", 10)
    assert str(batch.data.schema.field("BORN").type) == "date32[day]"
    assert batch.data.to_pylist() == [
        {"CODE": "A1", "QTY": "12.30", "BORN": dt.date(1999, 12, 31), "OK": True,
         ROW_POSITION: "T.DBF:1"},
        {"CODE": "", "QTY": None, "BORN": None, "OK": None, ROW_POSITION: "T.DBF:2"},
        {"CODE": "Zoë", "QTY": "-0.05", "BORN": None, "OK": False, ROW_POSITION: "T.DBF:3"},
    ]  # fmt: skip


def test_deleted_records_are_skipped_counted_and_logged_not_rows(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    records = [rec(f"R{i}", "1", "", "T", deleted=i in (2, 3)) for i in range(1, 6)]
    write_dbf(tmp_path / "D.DBF", FIELDS, records)
    src = _source(tmp_path)
    with caplog.at_level(logging.WARNING):
        batches = list(src.read_batches("D.DBF", 2))
    assert [r[ROW_POSITION] for r in _rows(batches)] == ["D.DBF:1", "D.DBF:4", "D.DBF:5"]
    assert src.deleted["D.DBF"] == 2
    assert "skipped 2 deleted record(s)" in caplog.text
    # the accounting covers the live records only; the position keeps the physical index
    assert sum(b.rows_read for b in batches) == 3
    assert batches[0].end == Position(rows=2, value=4)


def test_resume_after_a_batch_reads_exactly_the_rest(tmp_path: Path) -> None:
    records = [rec(f"R{i}", str(i), "", "T", deleted=i == 4) for i in range(1, 12)]
    write_dbf(tmp_path / "R.DBF", FIELDS, records)
    src = _source(tmp_path)
    first = list(src.read_batches("R.DBF", 3))
    assert [b.num_rows for b in first] == [3, 3, 3, 1]
    rest = list(src.read_batches("R.DBF", 3, after=first[1].end))
    assert [r["CODE"] for r in _rows(rest)] == ["R8", "R9", "R10", "R11"]
    by_rows = list(src.read_batches("R.DBF", 3, after=Position(rows=6)))
    assert [r["CODE"] for r in _rows(by_rows)] == ["R8", "R9", "R10", "R11"]


def test_bad_record_is_one_reject_with_number_and_raw_bytes_and_rest_loads(
    tmp_path: Path,
) -> None:
    bad = rec("BAD", "1", "19991332", "X")
    write_dbf(tmp_path / "B.DBF", FIELDS, [rec("A", "1", "", "T"), bad, rec("C", "1", "", "F")])
    (batch,) = _source(tmp_path).read_batches("B.DBF", 10)
    assert [r["CODE"] for r in batch.data.to_pylist()] == ["A", "C"]
    (reject,) = batch.rejects
    assert reject.position == "B.DBF:2"
    assert reject.column == "BORN"
    assert reject.raw_value == repr(bad)
    assert "BORN (D8): b'19991332' is not a date (YYYYMMDD)" in reject.message
    assert "OK (L1): b'X' is not a logical value" in reject.message
    assert batch.rows_read == 3


def test_code_page_from_the_header_then_the_option_then_ascii_with_a_hint(
    tmp_path: Path,
) -> None:
    data = [rec("Ærø", "1", "", "T")]  # cp850 bytes
    write_dbf(tmp_path / "CP.DBF", FIELDS, data, driver=0x02)  # 0x02: cp850
    write_dbf(tmp_path / "NONE.DBF", FIELDS, data, driver=0x00)
    assert _rows(list(_source(tmp_path).read_batches("CP.DBF", 5)))[0]["CODE"] == "Ærø"
    with_option = _source(tmp_path, encoding="cp850").read_batches("NONE.DBF", 5)
    assert _rows(list(with_option))[0]["CODE"] == "Ærø"
    (batch,) = _source(tmp_path).read_batches("NONE.DBF", 5)
    assert "header names no code page: set `encoding:`" in batch.rejects[0].message


def test_visual_foxpro_types_and_null_flags(tmp_path: Path) -> None:
    fields = [("N", "I", 4, 0), ("PRICE", "Y", 8, 4), ("AT", "T", 8, 0), ("D", "B", 8, 0),
              ("NOTE", "C", 4, 0), ("_NullFlags", "0", 1, 0)]  # fmt: skip
    julian = dt.date(2024, 2, 29).toordinal() + 1721425
    row1 = b" " + struct.pack("<iqiid", -7, 123456, julian, 3_600_000, 0.5) + b"abc " + b"\x00"
    row2 = b" " + struct.pack("<iqiid", 1, 0, 0, 0, 0.0) + b"    " + b"\x01"  # NOTE is null
    flags = {"NOTE": 0x02, "_NullFlags": 0x05}
    write_dbf(tmp_path / "V.DBF", fields, [row1, row2], version=0x30, driver=0x03, flags=flags)
    src = _source(tmp_path)
    assert src.columns("V.DBF") == ["N", "PRICE", "AT", "D", "NOTE"]  # no system field
    rows = _rows(list(src.read_batches("V.DBF", 5)))
    assert rows[0] == {"N": -7, "PRICE": Decimal("12.3456"), "AT": dt.datetime(2024, 2, 29, 1),
                       "D": 0.5, "NOTE": "abc", ROW_POSITION: "V.DBF:1"}  # fmt: skip
    assert rows[1]["NOTE"] is None
    assert rows[1]["AT"] is None


def test_missing_memo_file_fails_unless_memos_may_be_null(tmp_path: Path) -> None:
    fields = [("NAME", "C", 4, 0), ("NOTES", "M", 10, 0)]
    write_dbf(tmp_path / "M.DBF", fields, [b" abcd" + b"1".rjust(10)], version=0x83)
    with pytest.raises(TerminalError, match=r"memo file M.dbt is missing; .*`missing_memo: null`"):
        list(_source(tmp_path).read_batches("M.DBF", 5))
    rows = _rows(list(_source(tmp_path, missing_memo="null").read_batches("M.DBF", 5)))
    assert rows == [{"NAME": "abcd", "NOTES": None, ROW_POSITION: "M.DBF:1"}]


def test_dbase3_memo_and_a_pointer_past_its_end(tmp_path: Path) -> None:
    fields = [("NAME", "C", 4, 0), ("NOTES", "M", 10, 0)]
    records = [b" abcd" + b"1".rjust(10), b" efgh" + b"9".rjust(10)]
    write_dbf(tmp_path / "M.DBF", fields, records, version=0x83, driver=0x03)
    memo = bytes(512) + "line one\r\nthé".encode("cp1252") + b"\x1a\x1a"
    (tmp_path / "M.DBT").write_bytes(memo.ljust(1024, b"\0"))
    (batch,) = _source(tmp_path).read_batches("M.DBF", 5)
    assert batch.data.column("NOTES").to_pylist() == ["line one\r\nthé"]
    assert "memo block 9 is past the end of M.DBT" in batch.rejects[0].message


def test_dbase7_is_refused_and_missing_file_named(tmp_path: Path) -> None:
    (tmp_path / "SEVEN.DBF").write_bytes(bytes([0x8C]) + bytes(100))
    with pytest.raises(TerminalError, match="dBase 7 files .* are not supported"):
        _source(tmp_path).columns("SEVEN.DBF")
    with pytest.raises(TerminalError, match="file 'NOPE.DBF' not found"):
        _source(tmp_path).columns("NOPE.DBF")


def test_unknown_encoding_is_refused() -> None:
    with pytest.raises(ValidationError, match="unknown encoding 'cp9999'"):
        DbfOptions(path=".", encoding="cp9999")
