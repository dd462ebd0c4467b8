"""EBCDIC source on records built here: every numeric usage, signs, REDEFINES selectors,
OCCURS, RDW framing, bad records and resume."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from ferryman.connectors.base import ROW_POSITION, Batch, Position
from ferryman.connectors.errors import TerminalError
from ferryman.connectors.mainframe.copybook import CopybookError, parse_copybook
from ferryman.connectors.mainframe.layout import build_layout
from ferryman.connectors.mainframe.options import EbcdicOptions
from ferryman.connectors.mainframe.source import EbcdicSource

BOOK = """\
      * a customer record
       01  CUSTOMER.
           05  CUST-ID          PIC 9(6).
           05  NAME             PIC X(10).
           05  BALANCE          PIC S9(5)V99 COMP-3.
           05  CREDIT           PIC S9(3)V9.
           05  VISITS           PIC 9(4) COMP.
           05  DELTA            PIC S9(9) COMP-5.
           05  FILLER           PIC X(2).
           05  LEVEL-88-HOST    PIC X.
               88  IS-GOLD      VALUE 'G'.
"""
RECORD_SIZE = 6 + 10 + 4 + 4 + 2 + 4 + 2 + 1


def ebc(text: str) -> bytes:
    return text.encode("cp037")


def packed(value: int, digits: int, signed: bool = True) -> bytes:
    sign = ("D" if value < 0 else "C") if signed else "F"
    nibbles = str(abs(value)).rjust(digits + (1 - digits % 2), "0") + sign
    return bytes.fromhex(nibbles)


def zoned(value: int, digits: int) -> bytes:
    """Trailing overpunch: the last digit's zone is C (+) or D (-)."""
    body = ebc(str(abs(value)).rjust(digits, "0"))
    zone = 0xD0 if value < 0 else 0xC0
    return body[:-1] + bytes([zone | (body[-1] & 0x0F)])


def customer(cid: int, name: str, balance: int, credit: int, visits: int, delta: int) -> bytes:
    rec = (
        ebc(str(cid).rjust(6, "0"))
        + ebc(name.ljust(10))
        + packed(balance, 7)
        + zoned(credit, 4)
        + visits.to_bytes(2, "big")
        + delta.to_bytes(4, "big", signed=True)
        + b"\x00\x00"
        + ebc("G")
    )
    assert len(rec) == RECORD_SIZE
    return rec


def _source(tmp_path: Path, data: bytes, book: str = BOOK, **options: Any) -> EbcdicSource:
    (tmp_path / "CUST.DAT").write_bytes(data)
    (tmp_path / "CUST.cpy").write_text(book)
    return EbcdicSource("mf", EbcdicOptions(path=str(tmp_path), copybook="CUST.cpy", **options))


def _rows(batches: list[Batch]) -> list[dict[str, Any]]:
    return [r for b in batches for r in b.data.to_pylist()]


def test_numbers_are_exact_decimal_text_for_every_usage(tmp_path: Path) -> None:
    data = customer(1, "Ana", -12345, 995, 7, -42) + customer(20, "Bo", 5, -1, 9999, 2**31 - 1)
    src = _source(tmp_path, data)
    assert src.columns("CUST.DAT") == [
        "CUST_ID", "NAME", "BALANCE", "CREDIT", "VISITS", "DELTA", "LEVEL_88_HOST",
    ]  # fmt: skip
    rows = _rows(list(src.read_batches("CUST.DAT", 10)))
    assert rows == [
        {"CUST_ID": "1", "NAME": "Ana", "BALANCE": "-123.45", "CREDIT": "99.5", "VISITS": "7",
         "DELTA": "-42", "LEVEL_88_HOST": "G", ROW_POSITION: "CUST.DAT:1"},
        {"CUST_ID": "20", "NAME": "Bo", "BALANCE": "0.05", "CREDIT": "-0.1", "VISITS": "9999",
         "DELTA": "2147483647", "LEVEL_88_HOST": "G", ROW_POSITION: "CUST.DAT:2"},
    ]  # fmt: skip


def test_binary_comp_beyond_its_pic_digits_is_a_bad_record_but_comp5_is_not(
    tmp_path: Path,
) -> None:
    # VISITS is PIC 9(4) COMP: 65535 has 5 digits. DELTA is COMP-5: any 32-bit value.
    src = _source(tmp_path, customer(1, "Ana", 1, 1, 65535, -(2**31)))
    (batch,) = src.read_batches("CUST.DAT", 10)
    assert batch.num_rows == 0
    (reject,) = batch.rejects
    assert reject.column == "VISITS"
    assert "binary value 65535 has more than the 4 digits" in reject.message


def test_undecodable_record_is_one_reject_with_record_number_and_hex_and_rest_loads(
    tmp_path: Path,
) -> None:
    good = customer(1, "Ana", 100, 10, 1, 1)
    bad = bytearray(customer(2, "Bad", 100, 10, 1, 1))
    bad[16:20] = bytes.fromhex("00012A3C")  # 'A' is not a decimal nibble
    bad[20] = ebc("X")[0]  # a letter in the zoned CREDIT
    src = _source(tmp_path, good + bytes(bad) + good)
    batches = list(src.read_batches("CUST.DAT", 10))
    assert [r[ROW_POSITION] for r in _rows(batches)] == ["CUST.DAT:1", "CUST.DAT:3"]
    (reject,) = batches[0].rejects
    assert reject.position == "CUST.DAT:2"
    assert reject.rule == "malformed_record"
    assert reject.column == "BALANCE"
    assert reject.raw_value == bytes(bad).hex().upper()
    assert "BALANCE (bytes 17-20, packed) = 00012A3C: packed decimal has a non-digit" in (
        reject.message
    )
    assert "CREDIT (bytes 21-24, display)" in reject.message  # every bad item is named
    assert batches[0].rows_read == 3


def test_truncated_last_record_is_rejected_with_its_bytes(tmp_path: Path) -> None:
    data = customer(1, "Ana", 1, 1, 1, 1) + b"\xf1\xf2\xf3"
    batches = list(_source(tmp_path, data).read_batches("CUST.DAT", 10))
    (reject,) = batches[0].rejects
    assert reject.raw_value == "F1F2F3"
    assert "the file ends 3 bytes into this record of 33 bytes" in reject.message
    assert batches[-1].end == Position(rows=2, value=len(data))


def test_unsigned_item_with_negative_sign_is_rejected(tmp_path: Path) -> None:
    book = "       01  R.\n           05  N  PIC 9(3) COMP-3.\n"
    src = _source(tmp_path, packed(5, 3) + packed(-5, 3), book=book)
    (batch,) = src.read_batches("CUST.DAT", 10)
    assert batch.data.column("N").to_pylist() == ["5"]
    assert "negative sign nibble D in an unsigned item" in batch.rejects[0].message


def test_sign_leading_separate_and_blank_numbers(tmp_path: Path) -> None:
    book = """\
       01  R.
           05  A  PIC S9(3)V9 SIGN IS LEADING SEPARATE CHARACTER.
           05  B  PIC S9(3) SIGN TRAILING SEPARATE.
           05  C  PIC S9(3) SIGN LEADING.
           05  D  PIC 9(3).
"""
    rec = ebc("-0125") + ebc("042+") + bytes([0xD1]) + ebc("23") + ebc("   ")
    (batch,) = _source(tmp_path, rec, book=book).read_batches("CUST.DAT", 10)
    assert batch.data.to_pylist()[0] == {
        "A": "-12.5", "B": "42", "C": "-123", "D": "", ROW_POSITION: "CUST.DAT:1",
    }  # fmt: skip


def test_resume_after_a_batch_end_reads_exactly_the_rest(tmp_path: Path) -> None:
    data = b"".join(customer(i, f"N{i}", i, i, i, i) for i in range(1, 26))
    src = _source(tmp_path, data)
    first = list(src.read_batches("CUST.DAT", 10))
    assert [b.num_rows for b in first] == [10, 10, 5]
    assert first[0].end == Position(rows=10, value=10 * RECORD_SIZE)
    rest = list(src.read_batches("CUST.DAT", 10, after=first[0].end))
    assert [r["CUST_ID"] for r in _rows(rest)] == [str(i) for i in range(11, 26)]
    assert rest[0].start == first[0].end
    # a position saved without a byte offset is found by counting records
    by_rows = list(src.read_batches("CUST.DAT", 10, after=Position(rows=20)))
    assert [r["CUST_ID"] for r in _rows(by_rows)] == [str(i) for i in range(21, 26)]
    assert list(src.read_batches("CUST.DAT", 10, after=first[-1].end)) == []


def test_empty_file_yields_nothing(tmp_path: Path) -> None:
    assert list(_source(tmp_path, b"").read_batches("CUST.DAT", 10)) == []


RDW_BOOK = """\
       01  REC.
           05  KIND   PIC X.
           05  BODY   PIC X(20).
           05  ORDER  REDEFINES BODY.
               10  ORDER-NO  PIC 9(5) COMP-3.
               10  AMOUNT    PIC S9(7)V99 COMP-3.
"""


def _rdw(payload: bytes, includes_header: bool = True) -> bytes:
    length = len(payload) + (4 if includes_header else 0)
    return length.to_bytes(2, "big") + b"\x00\x00" + payload


def test_variable_records_with_rdw_and_a_redefines_selector(tmp_path: Path) -> None:
    records = [
        ebc("T") + ebc("free text"),
        ebc("O") + packed(12345, 5) + packed(-199, 9),
        ebc("T") + ebc("x" * 20),
    ]
    data = b"".join(_rdw(r) for r in records)
    selector = {"ORDER": {"field": "KIND", "when": {"T": "BODY", "O": "ORDER"}}}
    src = _source(tmp_path, data, book=RDW_BOOK, record_format="variable", redefines=selector)
    batches = list(src.read_batches("CUST.DAT", 2))
    rows = _rows(batches)
    assert [(r["KIND"], r["BODY"], r["ORDER_NO"], r["AMOUNT"]) for r in rows] == [
        ("T", "free text", None, None),  # short record: the packed items are not even read
        ("O", None, "12345", "-1.99"),
        ("T", "x" * 20, None, None),
    ]
    assert batches[0].end == Position(rows=2, value=len(_rdw(records[0])) + len(_rdw(records[1])))
    rest = list(src.read_batches("CUST.DAT", 2, after=batches[0].end))
    assert [r[ROW_POSITION] for r in _rows(rest)] == ["CUST.DAT:3"]


def test_selector_value_that_selects_nothing_quarantines_the_record(tmp_path: Path) -> None:
    data = _rdw(ebc("Z") + ebc("?" * 20))
    selector = {"ORDER": {"field": "KIND", "when": {"T": "BODY"}}}
    src = _source(tmp_path, data, book=RDW_BOOK, record_format="variable", redefines=selector)
    (batch,) = src.read_batches("CUST.DAT", 2)
    assert batch.num_rows == 0
    assert "value 'Z' selects no variant of BODY" in batch.rejects[0].message


def test_without_selector_a_variant_that_does_not_decode_is_null(tmp_path: Path) -> None:
    data = _rdw(ebc("T") + ebc("free text".ljust(20)))
    src = _source(tmp_path, data, book=RDW_BOOK, record_format="variable")
    (batch,) = src.read_batches("CUST.DAT", 2)
    (row,) = batch.data.to_pylist()
    assert row["BODY"] == "free text"
    assert row["ORDER_NO"] is None  # 'free ' is not packed decimal: it is the other variant


def test_little_endian_rdw_that_excludes_itself(tmp_path: Path) -> None:
    payload = ebc("T") + ebc("abc")
    data = b"\x00\x00" + len(payload).to_bytes(2, "little") + payload
    src = _source(tmp_path, data, book=RDW_BOOK, record_format="variable",
                  rdw_big_endian=False, rdw_includes_header=False)  # fmt: skip
    (batch,) = src.read_batches("CUST.DAT", 2)
    assert batch.data.column("BODY").to_pylist() == ["abc"]


def test_impossible_rdw_fails_with_the_offset_and_the_options_to_check(tmp_path: Path) -> None:
    src = _source(tmp_path, b"\x00\x02\x00\x00AB", book=RDW_BOOK, record_format="variable")
    with pytest.raises(
        TerminalError, match=r"record 1 at byte 0: RDW 00020000 .* `rdw_big_endian`"
    ):
        list(src.read_batches("CUST.DAT", 2))


def test_occurs_count_beyond_its_maximum_is_a_bad_record(tmp_path: Path) -> None:
    book = """\
       01  R.
           05  N      PIC 9.
           05  ITEM   PIC X(2) OCCURS 1 TO 3 TIMES DEPENDING ON N.
"""
    data = ebc("2abcdef") + ebc("4abcdef")
    (batch,) = _source(tmp_path, data, book=book).read_batches("CUST.DAT", 5)
    assert batch.data.to_pylist()[0] == {
        "N": "2", "ITEM_1": "ab", "ITEM_2": "cd", "ITEM_3": None,
        ROW_POSITION: "CUST.DAT:1",
    }  # fmt: skip
    assert "OCCURS DEPENDING ON count is 4, allowed 0-3" in batch.rejects[0].message


def test_control_characters_become_spaces_unless_kept(tmp_path: Path) -> None:
    book = "       01  R.\n           05  T  PIC X(6).\n"
    data = ebc("AB") + b"\x00\x05" + ebc("C") + b"\x00"
    spaced = _source(tmp_path, data, book=book)
    kept = _source(tmp_path, data, book=book, control_chars="keep", trim="none")
    assert next(iter(spaced.read_batches("CUST.DAT", 1))).data.column("T").to_pylist() == ["AB  C"]
    got = next(iter(kept.read_batches("CUST.DAT", 1))).data.column("T").to_pylist()
    assert got == ["AB\x00\tC\x00"]  # cp037 0x05 is HT


def test_cp1141_and_cp1148_come_from_the_ebcdic_package(tmp_path: Path) -> None:
    book = "       01  R.\n           05  T  PIC X(3).\n"
    src = _source(tmp_path, "€äß".encode("cp1141"), book=book, code_page="cp1141")
    assert next(iter(src.read_batches("CUST.DAT", 1))).data.column("T").to_pylist() == ["€äß"]
    EbcdicOptions(path=".", copybook="x", code_page="cp1148")


def test_unknown_code_page_or_one_without_single_byte_digits_is_refused() -> None:
    with pytest.raises(ValidationError, match="unknown code page 'cp9999'"):
        EbcdicOptions(path=".", copybook="x", code_page="cp9999")
    with pytest.raises(ValidationError, match="'utf-16' does not write digits as single bytes"):
        EbcdicOptions(path=".", copybook="x", code_page="utf-16")
    with pytest.raises(ValidationError, match="name the record layout"):
        EbcdicOptions(path=".")


def test_missing_file_and_missing_copybook_are_named(tmp_path: Path) -> None:
    src = _source(tmp_path, b"")
    with pytest.raises(TerminalError, match="file 'NOPE.DAT' not found"):
        list(src.read_batches("NOPE.DAT", 1))
    other = EbcdicSource("mf", EbcdicOptions(path=str(tmp_path), copybook="GONE.cpy"))
    with pytest.raises(TerminalError, match="copybook .GONE.cpy. not found; looked for"):
        other.columns("CUST.DAT")


def test_bad_selector_names_are_refused_with_what_exists(tmp_path: Path) -> None:
    bad = {"NOPE": {"field": "KIND", "when": {"T": "BODY"}}}
    src = _source(tmp_path, b"", book=RDW_BOOK, redefines=bad)
    with pytest.raises(TerminalError, match="redefined items: BODY"):
        src.columns("CUST.DAT")
    wrong = {"BODY": {"field": "KIND", "when": {"T": "ORDERS"}}}
    src = _source(tmp_path, b"", book=RDW_BOOK, redefines=wrong)
    with pytest.raises(TerminalError, match="ORDERS is not a variant of BODY; its variants are"):
        src.columns("CUST.DAT")


# --- the copybook parser ------------------------------------------------------------------


def _layout(book: str) -> list[tuple[str, int, int, str]]:
    layout = build_layout(parse_copybook(book))
    return [(f.column, f.offset, f.size, f.kind) for f in layout.fields]


def test_groups_occurs_filler_and_duplicate_leaf_names() -> None:
    book = """\
       01  REC.
           05  HOME.
               10  CITY        PIC X(4).
               10  FILLER      PIC X(2).
           05  WORK.
               10  CITY        PIC X(4).
           05  PHONES OCCURS 2 TIMES.
               10  NUM         PIC 9(3) COMP-3.
               10  TAGS        PIC X OCCURS 2.
           05  TOTAL           PIC S9(11)V99 USAGE IS BINARY.
"""
    assert _layout(book) == [
        ("HOME_CITY", 0, 4, "text"),
        ("WORK_CITY", 6, 4, "text"),
        ("NUM_1", 10, 2, "packed"),
        ("TAGS_1_1", 12, 1, "text"),
        ("TAGS_1_2", 13, 1, "text"),
        ("NUM_2", 14, 2, "packed"),
        ("TAGS_2_1", 16, 1, "text"),
        ("TAGS_2_2", 17, 1, "text"),
        ("TOTAL", 18, 8, "binary"),
    ]


def test_group_usage_applies_to_its_items_and_redefines_overlay() -> None:
    book = """\
       01  REC.
           05  AMOUNTS COMP-3.
               10  A    PIC S9(4).
               10  B    PIC S9(2).
           05  RAW REDEFINES AMOUNTS PIC X(5).
           05  TAIL     PIC X.
"""
    assert _layout(book) == [
        ("A", 0, 3, "packed"), ("B", 3, 2, "packed"), ("RAW", 0, 5, "text"), ("TAIL", 5, 1, "text"),
    ]  # fmt: skip


def test_numeric_edited_pictures_are_text() -> None:
    assert _layout("       01 R.\n          05 P PIC ZZ,ZZ9.99-.\n") == [("P", 0, 10, "edited")]


@pytest.mark.parametrize(
    ("book", "message"),
    [
        ("       01 R.\n          05 A PIC X(3)\n", "has no final period"),
        ("       01 R.\n          05 A PIC X(3) SYNC.\n", "SYNCHRONIZED adds slack bytes"),
        ("       01 R.\n          05 A COMP-2.\n", "COMP-2 .* is not supported"),
        ("       01 R.\n          05 A PIC 9(3)PP.\n", "P scaling is not supported"),
        ("       01 R.\n          05 A PIC X(3) FOO.\n", "line 2: A: unknown clause 'FOO'"),
        ("       01 R.\n          05 B REDEFINES Z PIC X.\n", "not an earlier item"),
        ("       01 R.\n          05 A PIC X.\n             10 B PIC X.\n", "has a PICTURE"),
        ("       01 R.\n          05 A.\n", "needs a PICTURE"),
        ("01 R.\n05 A PIC X.\n", "set `copybook_format: free`"),
        ("      * only a comment\n", "no data description entries"),
        ("       01 R.\n          05 A PIC 9(19) COMP.\n", "at most 18 digits"),
    ],
)
def test_copybook_errors_name_the_line_and_the_problem(book: str, message: str) -> None:
    with pytest.raises(CopybookError, match=message):
        build_layout(parse_copybook(book))


def test_free_format_copybook_and_value_clauses_with_periods() -> None:
    book = "01 R.\n  05 A PIC X(4) VALUE 'A.B.'.\n  *> comment\n  05 B PIC 9(2) VALUE ZERO.\n"
    assert _layout_free(book) == [("A", 0, 4, "text"), ("B", 4, 2, "display")]


def _layout_free(book: str) -> list[tuple[str, int, int, str]]:
    layout = build_layout(parse_copybook(book, free_format=True))
    return [(f.column, f.offset, f.size, f.kind) for f in layout.fields]


def test_copybook_described_ascii_file_reads_ascii_digits_and_overpunch(tmp_path: Path) -> None:
    book = """\
       01  R.
           05  name   PIC X(4).
           05  qty    PIC S9(3).
           05  price  PIC 9(3)V99.
"""
    data = b"caf\xe9" + b"12}" + b"01250" + b"abcd" + b"00A" + b"  125"
    src = _source(tmp_path, data, book=book, code_page="latin-1")
    (batch,) = src.read_batches("CUST.DAT", 5)
    assert src.columns("CUST.DAT") == ["name", "qty", "price"]  # the copybook's own case
    assert [(r["name"], r["qty"], r["price"]) for r in batch.data.to_pylist()] == [
        ("café", "-120", "12.50"),
        ("abcd", "1", "1.25"),
    ]
