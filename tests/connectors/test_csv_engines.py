"""The CSV source's two engines give exactly the same batches.

Every CSV corpus file the other tests read (csv-spectrum, csvkit, pgloader, the dialect
and conformance fixtures), plus generated files, is read by the Python parser and by the
fast path (pyarrow, handing over to the Python parser mid-file when it must), with several
batch sizes and resume points; batches (numbers, positions, values, schema) and rejects
(rule, raw value, message) must be identical, and so must any error.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ferryman.connectors.base import Batch, Position
from ferryman.connectors.csv.arrow import refusal
from ferryman.connectors.csv.options import CsvOptions
from ferryman.connectors.csv.source import CsvSource

SIZES = (1, 2, 3, 7, 1000)


def _outcome(src: CsvSource, stream: str, size: int, after: Position | None) -> Any:
    try:
        return list(src.read_batches(stream, size, after))
    except Exception as err:  # noqa: BLE001 - the error itself is compared
        return (type(err), str(err))


def _assert_same(want: Any, got: Any) -> None:
    if not isinstance(want, list):
        assert got == want
        return
    assert isinstance(got, list), got
    assert len(got) == len(want)
    for a, b in zip(want, got, strict=True):
        assert isinstance(b, Batch)
        assert (b.stream, b.number, b.start, b.end) == (a.stream, a.number, a.start, a.end)
        assert b.rejects == a.rejects
        assert b.data.schema == a.data.schema
        assert b.data.equals(a.data)
        assert b.data.to_pylist() == a.data.to_pylist()


def compare(root: Path, stream: str, resume: bool = True, **options: Any) -> str:
    """Read `stream` both ways at every batch size (and resumed after batches of size 2
    spread over the file); return how the fast side read it."""
    opts = CsvOptions(path=str(root), **options)
    slow = CsvSource("c", opts, _engine="python")
    fast = CsvSource("c", opts)
    engines = set()
    for size in SIZES:
        want = _outcome(slow, stream, size, None)
        _assert_same(want, _outcome(fast, stream, size, None))
        engines.add(fast.engines.get(stream, "error"))
        if size == 2 and resume and isinstance(want, list):
            for b in want[:: max(1, len(want) // 8)] + want[-1:]:  # first, ~8 between, last
                _assert_same(_outcome(slow, stream, 2, b.end), _outcome(fast, stream, 2, b.end))
    assert len(engines) == 1 or all(e.startswith("arrow") for e in engines), engines
    return sorted(engines)[0]


ARROW, HANDOVER, PYTHON, ERROR = "arrow", "arrow, then python", "python", "error"


def _check(engine: str, expected: str) -> None:
    assert engine.startswith(expected), engine
    if expected == ARROW:
        assert engine == ARROW


# --- corpora -----------------------------------------------------------------------------

SPECTRUM = ["comma_in_quotes", "empty", "empty_crlf", "escaped_quotes", "json", "newlines",
            "newlines_crlf", "quotes_and_newlines", "simple", "simple_crlf", "utf8"]  # fmt: skip


@pytest.mark.datasets
@pytest.mark.parametrize("case", SPECTRUM)
def test_csv_spectrum(datasets: Path, case: str) -> None:
    _check(compare(datasets / "csv-spectrum" / "csvs", f"{case}.csv"), ARROW)


CSVKIT: list[tuple[str, dict[str, Any], str]] = [
    ("test_latin1.csv", {"encoding": "latin-1"}, ARROW),
    ("test_utf16_big.csv", {"encoding": "utf-16"}, ARROW),
    ("test_utf16_little.csv", {"encoding": "utf-16"}, ARROW),
    ("test_utf8_bom.csv", {"encoding": "utf-8"}, ARROW),
    ("test_utf8.csv", {"encoding": "utf-8"}, ARROW),
    ("test_utf16_big.csv", {"encoding": "auto"}, ARROW),
    ("bad.csv", {}, ARROW),
    ("bad_skip_lines.csv", {"skip_lines": 3}, ARROW),
    ("null_byte.csv", {}, HANDOVER),
    ("mac_newlines.csv", {}, ARROW),
    ("test_skip_lines.csv", {"skip_lines": 3}, ARROW),
    ("dummy.tsv", {"delimiter": "\t"}, ARROW),
    ("optional_quote_characters.csv", {}, ARROW),
    ("test_empty_columns_long_row.csv", {}, ARROW),
    ("empty.csv", {}, ERROR),
]


@pytest.mark.datasets
@pytest.mark.parametrize(("name", "options", "engine"), CSVKIT, ids=lambda v: str(v)[:30])
def test_csvkit(datasets: Path, name: str, options: dict[str, Any], engine: str) -> None:
    _check(compare(datasets / "csvkit" / "examples", name, **options), engine)


@pytest.mark.datasets
def test_every_csvkit_csv_with_default_options(datasets: Path) -> None:
    root = datasets / "csvkit" / "examples"
    engines = {p.name: compare(root, p.name, resume=False) for p in sorted(root.glob("*.csv"))}
    assert sum(e == ARROW for e in engines.values()) >= 40, engines


def _cols(n: int) -> dict[str, Any]:
    return {"header": False, "columns": [f"c{i}" for i in range(n)]}


PGLOADER: list[tuple[str, dict[str, Any], str]] = [
    ("allcols.inline.dat", {"delimiter": ":", "encoding": "latin-1", **_cols(3)}, ARROW),
    ("csv.inline.dat", {"encoding": "latin-1", "skip_lines": 1, **_cols(6)}, ARROW),
    ("csv-before-after.inline.dat", {"encoding": "iso-8859-1", **_cols(3)}, ARROW),
    ("csv-newline.inline.dat", {"delimiter": "¦", "line_terminator": "¶", **_cols(3)}, PYTHON),
    ("errors.inline.dat", {"delimiter": "|", "trailing_delimiter": True, **_cols(3)}, HANDOVER),
    ("xzero.inline.dat", {"delimiter": "|", "skip_lines": 1, "trailing_delimiter": True}, HANDOVER),
    (
        "csv-error.inline.dat",
        {"delimiter": "|", "quote": None, "encoding": "ascii", **_cols(2)},
        HANDOVER,
    ),
    ("csv-escape-mode.inline.dat", {"escape": "\\", **_cols(20)}, PYTHON),
    ("csv-nulls.inline.dat", _cols(3), ARROW),
    ("csv-temp.inline.dat", {"delimiter": ";", **_cols(4)}, ARROW),
    ("csv-header.inline.dat", {}, ARROW),
    ("partial.inline.dat", {"delimiter": "%", **_cols(5)}, ARROW),
    ("udc.inline.dat", {"delimiter": "%", "encoding": "latin-1", **_cols(4)}, ARROW),
    ("serial.inline.dat", {"delimiter": ";", **_cols(2)}, ARROW),
    ("csv-keep-extra-blanks.inline.dat", _cols(3), ARROW),
    (
        "csv-non-printable.inline.dat",
        {"encoding": "latin-1", "skip_initial_space": True, **_cols(3)},
        PYTHON,
    ),
    ("csv-non-printable.inline.dat", {"encoding": "latin-1", **_cols(3)}, ARROW),
]


@pytest.mark.datasets
@pytest.mark.parametrize(("name", "options", "engine"), PGLOADER, ids=lambda v: str(v)[:30])
def test_pgloader(datasets: Path, name: str, options: dict[str, Any], engine: str) -> None:
    _check(compare(datasets / "pgloader" / "inline", name, **options), engine)


DIALECT: list[tuple[bytes, dict[str, Any], str]] = [
    (b"a,b\nZo\xeb,\x80 12\nx\x81y,z\nZo\xeb,\x80 12\n", {"encoding": "cp1252"}, HANDOVER),
    ("a,b\n中文,价格\nx".encode("gb18030") + b"\xffy,z\n", {"encoding": "gb18030"}, HANDOVER),
    ("a,b\n日本語,テスト\n".encode("shift_jis"), {"encoding": "shift_jis"}, ARROW),
    ("a,b\nПривет,мир\n".encode("cp866"), {"encoding": "cp866"}, ARROW),
    (
        "a,b\n1,ü\n".encode("utf-16")
        + "2,".encode("utf-16-le")
        + b"\x00\xd8"
        + "\n3,z\n".encode("utf-16-le"),
        {"encoding": "utf-16"},
        HANDOVER,
    ),
    ("a,b\n1,ü\n".encode("utf-32"), {"encoding": "utf-32"}, ARROW),
    (
        b'a,b\n"say \\"hi\\"",\\N\n"\\N inside",x\\,y\n',
        {"escape": "\\", "doublequote": False},
        PYTHON,
    ),
    (
        b"junk preamble\n# a comment\na;b\n1;2\n\n# another\n3;4\n",
        {"delimiter": ";", "comment": "#", "skip_lines": 1},
        PYTHON,
    ),
    (b'a,b\n1,"two\nlines"\n2,x\n3,"never closed\n4,y\n', {}, HANDOVER),
    (b'a,b\n1,"two\r\nlines"\r\n2,3,4\r\n5\r\n', {}, ARROW),
    (b'a,b\n1,"open\n2,x\n', {"newlines_in_values": False}, HANDOVER),
    (b"a,b\n1,2\n3,4\n", {"newlines_in_values": False}, ARROW),
    (b"a,b\n1,2\n3,4,5\n6,7\n8\n9,10\n", {}, ARROW),
    (b"a,b\n1,2\n\n3,4\n", {}, HANDOVER),
    (b"a,b\n1,2\n3,4\n\n\r\n", {}, ARROW),
    (b"\n\na,b\r\n1,2\r\n", {}, ARROW),
    (b"a,b\n\n1,2\n", {}, HANDOVER),
    (b"a|b|\n1|2|\n3|4\n5|6|7\n8|\n", {"delimiter": "|", "trailing_delimiter": True}, HANDOVER),
    (b"a|b|\n1|2|\n3|4\n8|\n", {"delimiter": "|", "trailing_delimiter": True}, ARROW),
    (b"a,b\n1,2", {}, ARROW),
    (b"a,b\r1,2\r", {}, ARROW),
    (b'a,b\n1,"' + b"x" * 140_000 + b'"\n2,3\n', {}, HANDOVER),
    (b"x,y\n1,2\n", {"header": False, "columns": ["x", "y"], "skip_blank_lines": False}, PYTHON),
    (b"a,a\n1,2\n", {}, ERROR),
    (b'a,"b\n1,2\n', {}, ERROR),
    (b"a\n1\n\n2\n", {}, HANDOVER),
    (b"a\n1\n2\n", {"quote": None}, ARROW),
    (b"a\n\n", {}, ARROW),
]


@pytest.mark.parametrize(("data", "options", "engine"), DIALECT, ids=lambda v: str(v)[:30])
def test_dialect_cases(tmp_path: Path, data: bytes, options: dict[str, Any], engine: str) -> None:
    (tmp_path / "f.csv").write_bytes(data)
    _check(compare(tmp_path, "f.csv", **options), engine)


def test_conformance_fixtures(tmp_path: Path) -> None:
    from tests.connectors.conformance.factories import ROWS, SOURCE_FACTORIES

    factory = SOURCE_FACTORIES["csv"]
    assert factory.write_bad is not None
    fx = factory.write(tmp_path, ROWS)
    _check(compare(tmp_path, fx.stream), ARROW)
    bad = factory.write_bad(tmp_path)
    _check(compare(tmp_path, bad.stream), HANDOVER)


def test_big_file_crosses_blocks_with_rejects_and_a_late_handover(tmp_path: Path) -> None:
    lines = [
        f'{i},"v {i}\nsecond line",x' if i % 997 == 0 else f"{i},v {i},x" for i in range(40_000)
    ]
    lines[12_345] = "ragged,row"
    lines[31_000] = "late,NUL\x00,x"
    (tmp_path / "big.csv").write_text("a,b,c\n" + "\n".join(lines) + "\n")
    opts = CsvOptions(path=str(tmp_path))
    slow, fast = CsvSource("c", opts, _engine="python"), CsvSource("c", opts)
    for size, after in ((5000, None), (7777, Position(rows=20_000))):
        _assert_same(_outcome(slow, "big.csv", size, after), _outcome(fast, "big.csv", size, after))
        assert fast.engines["big.csv"].startswith("arrow, then python after record")


def test_arrow_engine_refuses_a_dialect_it_cannot_read(tmp_path: Path) -> None:
    (tmp_path / "f.csv").write_bytes(b"a;b\n1;2\n")
    src = CsvSource("c", CsvOptions(path=str(tmp_path), comment="#"), _engine="arrow")
    with pytest.raises(ValueError, match="arrow engine cannot read comment lines"):
        list(src.read_batches("f.csv", 10))
    ok = CsvSource("c", CsvOptions(path=str(tmp_path), delimiter=";"), _engine="arrow")
    assert [b.num_rows for b in ok.read_batches("f.csv", 10)] == [1]


@pytest.mark.parametrize(
    ("options", "why"),
    [
        ({"escape": "\\"}, "an escape character"),
        ({"comment": "#"}, "comment lines"),
        ({"line_terminator": "¶"}, "a custom line terminator"),
        ({"skip_blank_lines": False}, "skip_blank_lines is false"),
        ({"skip_initial_space": True}, "skip_initial_space is true"),
        ({"doublequote": False}, "doublequote is false"),
        ({"delimiter": "¦"}, "a non-ASCII delimiter"),
        ({"quote": "«"}, "a non-ASCII or line-break quote"),
        ({"quote": ","}, "the quote is the delimiter"),
        ({"quote": None, "trailing_delimiter": True, "newlines_in_values": False}, None),
    ],
)
def test_refusal_rule(options: dict[str, Any], why: str | None) -> None:
    assert refusal(CsvOptions(path=".", **options).dialect_for("x")) == why


# --- generated files ---------------------------------------------------------------------

_PIECES = [b"a", b"1", b"\xc3\xa9", b",", b";", b'"', b"'", b" ", b"\n", b"\r\n", b"\r", b"|"]
_RARE = [b"\x00", b"\xff", b""]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    body=st.lists(st.sampled_from(_PIECES + _RARE), max_size=60),
    delimiter=st.sampled_from([",", ";", "|"]),
    quote=st.sampled_from(['"', "'", None]),
    header=st.booleans(),
    trailing=st.booleans(),
    multiline=st.booleans(),
    skip=st.integers(0, 2),
    size=st.integers(1, 4),
)
def test_generated_files_read_the_same(
    body: list[bytes],
    delimiter: str,
    quote: str | None,
    header: bool,
    trailing: bool,
    multiline: bool,
    skip: int,
    size: int,
) -> None:
    options: dict[str, Any] = {
        "delimiter": delimiter,
        "quote": quote,
        "trailing_delimiter": trailing,
        "newlines_in_values": multiline,
        "skip_lines": skip,
    }
    if not header:
        options.update(header=False, columns=["x", "y"])
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "g.csv").write_bytes(b"".join(body))
        opts = CsvOptions(path=tmp, **options)
        slow, fast = CsvSource("g", opts, _engine="python"), CsvSource("g", opts)
        want = _outcome(slow, "g.csv", size, None)
        _assert_same(want, _outcome(fast, "g.csv", size, None))
        if isinstance(want, list) and want:
            after = want[0].end
            _assert_same(_outcome(slow, "g.csv", size, after), _outcome(fast, "g.csv", size, after))
