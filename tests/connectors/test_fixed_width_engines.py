"""The fast path (`connectors/fixed_width/arrow.py`) against the Python reader: on the same
files, both must give the same batches (values, positions, numbers, start/end), the same
rejects (line, column, raw value, message) and the same resumed reads. Each file is read
with blocks of 1, 7 and 64 bytes as well as the real 1 MiB, so that line ends, CRLFs and
multi-character terminators fall across block boundaries.
"""

from __future__ import annotations

import codecs
import random
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ferryman.connectors.base import Batch, Position
from ferryman.connectors.fixed_width import arrow
from ferryman.connectors.fixed_width.options import FixedWidthOptions
from ferryman.connectors.fixed_width.source import FixedWidthSource
from ferryman.connectors.fixed_width.units import WHITESPACE, byte_units

LAYOUT = [
    {"name": "id", "start": 1, "length": 3},
    {"name": "name", "start": 4, "end": 11},
    {"name": "amount", "start": 12, "length": 8, "implied_decimals": 2, "sign": "trailing"},
]
BLOCKS = (1, 7, 64, 1 << 20)
_ID = {"name": "id", "start": 1, "length": 3}
_NUMBERS = (
    b"001         -\n002      0012\n003      12 -\n004       12\t-\n005      1 2\n"
    b"006         +\n007       ++1\n008     00000\n009        -0\n010 \xef\xbc\x91\xef\xbc\x92\n"
    b"011-      12\n012+ 5\n013 - 7\n014-\t7\n015\n016  \x00\x0012\n017 12 \x00\n018123456789012\n"
)


def _batches(
    src: FixedWidthSource, stream: str, size: int, after: Position | None = None
) -> list[Batch]:
    return list(src.read_batches(stream, size, after))


def assert_same(fast: list[Batch], slow: list[Batch]) -> None:
    assert [(b.number, b.start, b.end) for b in fast] == [(b.number, b.start, b.end) for b in slow]
    for f, s in zip(fast, slow, strict=True):
        assert f.stream == s.stream
        assert f.data.schema == s.data.schema
        assert f.data.to_pydict() == s.data.to_pydict()
        assert f.rejects == s.rejects


def check(
    root: Path, stream: str, options: dict[str, Any], sizes: tuple[int, ...] = (1, 2, 5, 1000)
) -> list[Batch]:
    """Compare both engines on `root/stream`: every batch size, every block size (from 1
    KiB up for files over 4 KiB), and resumed reads from batch ends of the smallest size
    (all of them, or 6 spread over a long file) and from past the end. Returns the Python
    reader's batches (the largest size) for the caller's own assertions."""
    opts = FixedWidthOptions(path=str(root), **options)
    fast, slow = FixedWidthSource("fw", opts), FixedWidthSource("fw", opts, _engine="python")
    small = (root / stream).stat().st_size <= 4096
    blocks = BLOCKS if small else (1024, 4099, 1 << 20)
    want: list[Batch] = []
    for size in sizes:
        want = _batches(slow, stream, size)
        for block in blocks:
            with pytest.MonkeyPatch.context() as mp:
                mp.setattr(arrow, "BLOCK", block)
                assert_same(_batches(fast, stream, size), want)
    ends = [b.end for b in _batches(slow, stream, sizes[0])]
    if len(ends) > 6:
        ends = [ends[i * (len(ends) - 1) // 5] for i in range(6)]
    ends.append(Position(rows=ends[-1].rows + 1 if ends else 1))
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(arrow, "BLOCK", blocks[1])
        for end in ends:
            for size in sizes:
                assert_same(_batches(fast, stream, size, end), _batches(slow, stream, size, end))
    assert sum(b.rows_read for b in want) == (want[-1].end.rows if want else 0)
    return want


def _file(tmp: Path, data: bytes) -> Path:
    (tmp / "f.dat").write_bytes(data)
    return tmp


CASES: dict[str, tuple[bytes, dict[str, Any]]] = {
    "cr-only, signs, blank record": (
        b"001Ada     0001250-\r002Bob     0000005 \r003                \r",
        {},
    ),
    "short last line, no final newline": (b"001Ada     0000100+\n002Bo\n003", {}),
    "short last line, tolerance": (b"001Ada     0000100+\n002Bo\n003", {"tolerance": 14}),
    "crlf, lf, lone cr, cr cr lf": (
        b"001A\r\n002B\n003C\r004D\r\r\n005E\n\r006F\r",
        {"layout": LAYOUT[:2]},
    ),
    "crlf and a final cr": (b"001Ada\r\n002Bob\r\n\r", {"layout": LAYOUT[:2]}),
    "only line ends": (b"\r\n\n\r\r\n", {"layout": LAYOUT[:2]}),
    "empty file": (b"", {}),
    "blank lines kept": (
        b"001Ada\n\n   \n002Bob\n",
        {"layout": LAYOUT[:2], "skip_blank_lines": False},
    ),
    "header and blank lines, resume": (
        b"HEADER LINE\n001Name1\n002Name2\n\n003Name3\n \t \n004Name4\n\x0c\x1c\n005Name5\n",
        {"layout": LAYOUT[:2], "skip_lines": 1},
    ),
    "data past the layout": (
        b"001Ada     0000100+     \n002Bob     0000100+OOPS\n003Cy      0000001+ \t\n",
        {},
    ),
    "data past the layout ignored": (
        b"001Ada     0000100+     \n002Bob     0000100+OOPS\n",
        {"extra": "ignore"},
    ),
    "record_length shorter than the layout's end": (
        b"001Ada     0000100+\n002Bob\n",
        {"record_length": 6, "tolerance": 0},
    ),
    "numbers, trailing sign": (
        _NUMBERS,
        {"layout": [_ID, {"name": "n", "start": 4, "length": 10, "sign": "trailing"}]},
    ),
    "numbers, leading sign, 3 decimals": (
        _NUMBERS,
        {
            "layout": [
                _ID,
                {"name": "n", "start": 4, "length": 10, "sign": "leading", "implied_decimals": 3},
            ]
        },
    ),
    "numbers, no sign, 1 decimal": (
        _NUMBERS,
        {"layout": [_ID, {"name": "n", "start": 4, "length": 10, "implied_decimals": 1}]},
    ),
    "nul bytes": (
        b"001\x00\x00Ada\x00\x00 0001250-\n002Bo\x00b     \x000000100+\n"
        b"003\x00\x00\x00     \x00\x00\x0000012+\n",
        {
            "layout": [
                {"name": "id", "start": 1, "length": 3, "trim": "none"},
                {"name": "l", "start": 4, "end": 7, "trim": "left"},
                {"name": "r", "start": 8, "end": 11, "trim": "right"},
                {
                    "name": "amount",
                    "start": 12,
                    "length": 8,
                    "implied_decimals": 2,
                    "sign": "trailing",
                },
            ],
        },
    ),
    "undecodable cp1252": (
        "001Zoë     0000100+\n".encode("cp1252") + b"002B\x81b     0000100+\n003\x9d\n",
        {"encoding": "cp1252"},
    ),
    "undecodable utf-8": (
        "001Zoë     0000100+\n".encode() + b"002B\xc3b     0000100+\n\xff\n004\xe4\xb8\n",
        {},
    ),
    "unicode blanks in cp1252": (
        b"001Ada\n\xa0\xa0\n \xa0 \n002Bob\xa0\xa0\xa0\xa0\xa0\xa0\xa0\xa0\xa0\xa0\xa0\xa0\xa0\n",
        {"encoding": "cp1252"},
    ),
    "unicode blanks in utf-8": (
        "001Ada\n\u3000\u2028\n\u00a0x\u00a0\n002Bob     0000100+\u3000\u2003\n".encode(),
        {},
    ),
    "multibyte utf-8": (
        "001Zoë     0001250-\n002中文名字    0000005 \n003😀é\n"
        "004名前名前名前名前名前名前\n".encode(),
        {},
    ),
    "utf-8 with a bom": ("\ufeff001Zoë     0001250-\r\n002Bob\r\n".encode(), {}),
    "utf-16 with a bom, crlf": (
        "001Zoë     0001250-\r\n002中文\r\n003\r\n".encode("utf-16"),
        {"encoding": "utf-16"},
    ),
    "utf-16-be, odd byte at the end": (
        "001Zoë     0001250-\n002Bob\n".encode("utf-16-be") + b"\x00",
        {"encoding": "utf-16-be"},
    ),
    "utf-32": ("001Zoë     0001250-\n002😀\n".encode("utf-32"), {"encoding": "utf-32"}),
    "ebcdic cp037": (
        "001Zoë     0001250-\n002Bob     0000005 \n003 \n".encode("cp037"),
        {"encoding": "cp037"},
    ),
    "ebcdic cp037 records on one line": (
        "001Zoë     0001250-002Bob     0000005 ".encode("cp037"),
        {"encoding": "cp037", "line_terminator": "-"},
    ),
    "cp437": ("001Ñoño    0000100+\n002╔═╗\n".encode("cp437"), {"encoding": "cp437"}),
    "shift_jis": ("001名前     0000100+\n002ｶﾀｶﾅ\n".encode("shift_jis"), {"encoding": "shift_jis"}),
    "gb18030": ("001中文     0000100+\n002😀\n".encode("gb18030"), {"encoding": "gb18030"}),
    "latin-1 with a 0x85 (NEL, a blank)": (
        b"001Ada\n\x85\n002B\x85b\n",
        {"encoding": "latin-1", "layout": LAYOUT[:2]},
    ),
    "encoding auto": ("001Zoë     0001250-\n002Bob\n".encode("cp1252") * 3, {"encoding": "auto"}),
    "pilcrow terminator": (
        "001Ada     0000100+¶002Bob¶\n003Cy¶¶004".encode(),
        {"line_terminator": "¶"},
    ),
    "pilcrow terminator in cp1252": (
        "001Ada     0000100+¶002Bob¶\n003Cy¶¶004".encode("cp1252"),
        {"line_terminator": "¶", "encoding": "cp1252"},
    ),
    "overlapping terminator": (
        b"001Ada~~~002Bob~~~~003Cy~~~~~004~~",
        {"line_terminator": "~~", "layout": LAYOUT[:2]},
    ),
    "crlf as the terminator": (
        b"001Ada\r\n002B\rb\n003\r\r\n",
        {"line_terminator": "\r\n", "layout": LAYOUT[:2], "skip_blank_lines": False},
    ),
    "terminator the encoding cannot hold": (
        b"001Ada\n002Bob\n",
        {"line_terminator": "\u2603", "encoding": "ascii", "layout": LAYOUT[:2]},
    ),
    "ascii with high bytes": (b"001Ada\n002B\xe9b\n", {"encoding": "ascii", "layout": LAYOUT[:2]}),
}


@pytest.mark.parametrize("name", list(CASES))
def test_both_engines_agree(tmp_path: Path, name: str) -> None:
    data, options = CASES[name]
    options = {"layout": LAYOUT, "base": 1, **options}
    check(_file(tmp_path, data), "f.dat", options)


@pytest.mark.parametrize(
    "name", ["header and blank lines, resume", "undecodable utf-8", "utf-16 with a bom, crlf"]
)
def test_a_block_too_big_for_arrow_is_read_line_by_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str
) -> None:
    monkeypatch.setattr(arrow, "_MAX_UNITS_BYTES", 0)  # as if each line were over 2 GiB
    data, options = CASES[name]
    check(_file(tmp_path, data), "f.dat", {"layout": LAYOUT, "base": 1, **options})


def test_the_cases_reach_the_python_reader_only_for_odd_records(tmp_path: Path) -> None:
    root = _file(tmp_path, CASES["undecodable cp1252"][0])
    src = FixedWidthSource("fw", FixedWidthOptions(path=str(root), layout=LAYOUT, base=1,
                                                   encoding="cp1252"))  # fmt: skip
    batches = _batches(src, "f.dat", 10)
    assert src.engines["f.dat"] == "arrow (2 records by the Python reader)"
    assert [r.position for b in batches for r in b.rejects] == ["f.dat:2", "f.dat:3"]
    assert batches[0].rejects[0].raw_value == repr(b"002B\x81b     0000100+")
    _file(tmp_path, b"001Ada     0000100+\n" * 5)
    _batches(src, "f.dat", 2)
    assert src.engines["f.dat"] == "arrow"


@pytest.mark.datasets
def test_pgloader_and_csvkit_corpora(datasets: Path) -> None:
    pg = datasets / "pgloader" / "inline"
    fixed = [
        {"name": "a", "start": 0, "length": 10},
        {"name": "b", "start": 10, "length": 8},
        {"name": "c", "start": 18, "length": 8},
        {"name": "d", "start": 26, "length": 17},
    ]
    assert len(check(pg, "fixed.inline.dat", {"layout": fixed})) == 1
    periods = [
        {"name": "field.one", "start": 1, "end": 3},
        {"name": "field.two", "start": 4, "end": 6},
    ]
    check(pg, "fields-with-periods.inline.dat", {"layout": periods, "base": 1})
    csvkit = datasets / "csvkit" / "examples"
    check(csvkit, "testfixed", {"layout_file": "testfixed_schema.csv"})
    census = csvkit / "realdata" / "census_2000"
    opts = {"layout_file": "determination_schema.csv", "base": 1}
    (got,) = check(census, "VROUTFSJ.TXt", opts, sizes=(500, 2000))[-1:]
    assert got.end.rows == 1555
    implied = [
        {"name": "LEPPCT", "start": 80, "end": 84, "implied_decimals": 2},
        {"name": "ILLRAT", "start": 85, "end": 89, "implied_decimals": 2},
    ]
    check(census, "VROUTFSJ.TXt", {"layout": implied, "base": 1}, sizes=(700,))


def test_a_large_file_across_many_blocks(tmp_path: Path) -> None:
    """5,000 records, short ones, blank lines and bad ones among them."""
    rnd = random.Random(7)
    words = ["Zoë", "Müller", "Nuñez", "Ada", "", "   x", "O'Brien"]
    lines = []
    for i in range(5000):
        amount = rnd.choice(["0001250-", "0000005 ", "        ", "00012X0-", "1+"])
        line = f"{i % 1000:03d}{rnd.choice(words):<8}{amount}"
        lines.append(line.rstrip() if i % 3 == 0 else line)
        if i % 97 == 0:
            lines.append(rnd.choice(["", "   ", "\t", line + "EXTRA"]))
    data = "\r\n".join(lines).encode("cp1252") + b"\x81oops\r\n"
    options = {"layout": LAYOUT, "base": 1, "encoding": "cp1252"}
    check(_file(tmp_path, data), "f.dat", options, sizes=(333, 5000))


def test_whitespace_is_every_character_python_strips() -> None:
    every = "".join(c for c in map(chr, range(0x110000)) if c.isspace())
    assert every == WHITESPACE


@pytest.mark.parametrize("codec", ["cp1252", "latin-1", "cp037", "cp437", "cp866", "koi8-r"])
def test_single_byte_code_pages_are_read_as_bytes(codec: str) -> None:
    assert byte_units(codecs.lookup(codec).name, "\r\n\x00") is not None


@pytest.mark.parametrize("codec", ["utf-8", "utf-16-le", "shift_jis", "gb18030", "cp932"])
def test_other_encodings_are_read_decoded(codec: str) -> None:
    assert byte_units(codecs.lookup(codec).name, "\r\n\x00") is None


# --- random files ------------------------------------------------------------------------

_PIECES = [
    "0", "7", "12", "-", "+", " ", "  ", "\t", "\x00", "a", "Zoë", "é", "中", "😀", "\xa0",
    "\u3000", "\x0c", "\x85", "¶", "~", "\r", "\n", "\r\n", "\udc81",
]  # fmt: skip
_ENCODINGS = ["utf-8", "cp1252", "latin-1", "cp037", "utf-16", "gb18030"]


@st.composite
def _files(draw: st.DrawFn) -> tuple[bytes, dict[str, Any]]:
    encoding = draw(st.sampled_from(_ENCODINGS))
    text = "".join(draw(st.lists(st.sampled_from(_PIECES), max_size=60)))
    data = bytearray()
    for ch in text:
        if ch == "\udc81":  # an undecodable byte where the encoding has one
            data += b"\x81" if encoding in ("utf-8", "cp1252") else b""
        else:
            data += ch.encode(encoding, "ignore").removeprefix(codecs.BOM_UTF16)
    if encoding == "utf-16":
        data = bytearray(codecs.BOM_UTF16) + data
    widths = draw(st.lists(st.integers(1, 4), min_size=1, max_size=3))
    layout, start = [], 0
    for i, w in enumerate(widths):
        field: dict[str, Any] = {"name": f"c{i}", "start": start, "length": w}
        if draw(st.booleans()):
            field["sign"] = draw(st.sampled_from(["none", "leading", "trailing"]))
            field["implied_decimals"] = draw(st.integers(0, 2))
        field["trim"] = draw(st.sampled_from(["both", "left", "right", "none"]))
        layout.append(field)
        start += w + draw(st.integers(0, 1))
    options = {
        "layout": layout,
        "encoding": encoding,
        "line_terminator": draw(st.sampled_from([None, None, "¶", "~", "\r\n", "~~"])),
        "tolerance": draw(st.sampled_from([None, 0, 2])),
        "extra": draw(st.sampled_from(["reject", "ignore"])),
        "skip_lines": draw(st.integers(0, 2)),
        "skip_blank_lines": draw(st.booleans()),
        "record_length": draw(st.sampled_from([None, 3])),
    }
    return bytes(data), options


@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(_files())
def test_random_files(tmp_path: Path, case: tuple[bytes, dict[str, Any]]) -> None:
    data, options = case
    check(_file(tmp_path, data), "f.dat", options, sizes=(1, 3))
