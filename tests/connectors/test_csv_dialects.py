"""CSV source options: encodings with bad bytes, escape, comments, custom terminators,
per-file overrides, header problems, encoding detection."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from ferryman.connectors.base import ROW_POSITION, Reject
from ferryman.connectors.csv.options import CsvOptions
from ferryman.connectors.csv.source import CsvSource
from ferryman.connectors.encoding import detect_encoding
from ferryman.connectors.errors import TerminalError


def _read(
    tmp_path: Path, data: bytes, records: int, name: str = "f.csv", **options: Any
) -> tuple[list[dict[str, Any]], list[Reject]]:
    (tmp_path / name).write_bytes(data)
    src = CsvSource("files", CsvOptions(path=str(tmp_path), **options))
    batches = list(src.read_batches(name, batch_size=2))
    rows = [r for b in batches for r in b.data.to_pylist()]
    rejects = [r for b in batches for r in b.rejects]
    assert len(rows) + len(rejects) == records == sum(b.rows_read for b in batches)
    return rows, rejects


@pytest.mark.parametrize(
    ("encoding", "text", "bad"),
    [
        ("cp1252", "Zoë,€ 12", b"\x81"),
        ("cp866", "Привет,мир", b""),  # every byte is defined in cp866
        ("gb18030", "中文,价格", b"\xff"),
        ("shift_jis", "日本語,テスト", b"\xff"),
        ("latin-1", "Ñandú,ß", b""),
    ],
)
def test_legacy_encodings_load_and_bad_bytes_quarantine_only_their_record(
    tmp_path: Path, encoding: str, text: str, bad: bytes
) -> None:
    good = f"a,b\n{text}\n".encode(encoding)
    broken = b"x" + bad + b"y,z\n" if bad else b""
    data = good + broken + f"{text}\n".encode(encoding)
    rows, rejects = _read(tmp_path, data, 3 if bad else 2, encoding=encoding)
    want_a, want_b = text.split(",")
    assert [(r["a"], r["b"]) for r in rows] == [(want_a, want_b)] * 2
    if bad:
        (rej,) = rejects
        assert rej.raw_value == repr(b"x" + bad + b"y,z")
        assert rej.position == "f.csv:3"
        assert f"not valid {encoding}" in rej.message
        assert rows[1][ROW_POSITION] == "f.csv:4"


def test_utf16_with_bom_and_a_broken_code_unit(tmp_path: Path) -> None:
    data = (
        "a,b\n1,ü\n".encode("utf-16")
        + "2,".encode("utf-16-le")
        + b"\x00\xd8"
        + "\n3,z\n".encode("utf-16-le")
    )
    rows, rejects = _read(tmp_path, data, 3, encoding="utf-16")
    assert [(r["a"], r["b"]) for r in rows] == [("1", "ü"), ("3", "z")]
    assert rejects[0].raw_value == repr("2,".encode("utf-16-le") + b"\x00\xd8")


def test_escape_quote_and_mysql_null(tmp_path: Path) -> None:
    data = b'a,b\n"say \\"hi\\"",\\N\n"\\N inside",x\\,y\n'
    rows, _ = _read(tmp_path, data, 2, escape="\\", doublequote=False)
    assert [(r["a"], r["b"]) for r in rows] == [('say "hi"', "\\N"), ("N inside", "x,y")]


def test_comments_blank_lines_and_skip_lines(tmp_path: Path) -> None:
    data = b"junk preamble\n# a comment\na;b\n1;2\n\n# another\n3;4\n"
    rows, _ = _read(tmp_path, data, 2, delimiter=";", comment="#", skip_lines=1)
    assert [(r["a"], r["b"], r[ROW_POSITION]) for r in rows] == [
        ("1", "2", "f.csv:4"),
        ("3", "4", "f.csv:7"),
    ]


def test_custom_terminator_keeps_real_line_breaks_in_values(tmp_path: Path) -> None:
    data = 'a¦b¶1¦line one\nline two¶2¦"q¶uoted"¶\n'.encode()
    rows, _ = _read(tmp_path, data, 2, delimiter="¦", line_terminator="¶")
    assert [(r["a"], r["b"]) for r in rows] == [("1", "line one\nline two"), ("2", "q¶uoted")]


def test_multiline_values_number_records_and_unterminated_quote(tmp_path: Path) -> None:
    data = b'a,b\n1,"two\nlines"\n2,x\n3,"never closed\n4,y\n'
    rows, rejects = _read(tmp_path, data, 3)
    assert [(r["a"], r[ROW_POSITION]) for r in rows] == [("1", "f.csv:2"), ("2", "f.csv:3")]
    assert rejects[0].position == "f.csv:4"
    assert "record 4 (line 5)" in rejects[0].message
    assert rejects[0].raw_value == '3,"never closed\n4,y'


def test_no_newlines_in_values_confines_a_bad_quote_to_its_line(tmp_path: Path) -> None:
    data = b'a,b\n1,"open\n2,x\n'
    rows, rejects = _read(tmp_path, data, 2, newlines_in_values=False)
    assert [r["a"] for r in rows] == ["2"]
    assert rejects[0].raw_value == '1,"open'
    assert "newlines_in_values is false" in rejects[0].message


def test_per_file_overrides_by_name_and_glob(tmp_path: Path) -> None:
    (tmp_path / "a.tsv").write_bytes(b"x\ty\n1\t2\n")
    (tmp_path / "b.txt").write_bytes("x|y\n1|é\n".encode("cp1252"))
    opts = CsvOptions(
        path=str(tmp_path),
        files={"*.tsv": {"delimiter": "\t"}, "b.txt": {"delimiter": "|", "encoding": "cp1252"}},
    )
    src = CsvSource("files", opts)
    assert [r["y"] for b in src.read_batches("a.tsv", 5) for r in b.data.to_pylist()] == ["2"]
    assert [r["y"] for b in src.read_batches("b.txt", 5) for r in b.data.to_pylist()] == ["é"]
    with pytest.raises(ValidationError, match="delimiter must be one character"):
        CsvOptions(path=".", files={"*.x": {"delimiter": "||"}})


def test_columns_replace_or_name_the_fields(tmp_path: Path) -> None:
    rows, _ = _read(tmp_path, b"A,B\n1,2\n", 1, columns=["x", "y"])
    assert (rows[0]["x"], rows[0]["y"]) == ("1", "2")
    rows, _ = _read(tmp_path, b"1,2\n", 1, header=False, columns=["x", "y"])
    assert rows[0]["x"] == "1"
    with pytest.raises(ValidationError, match="list the column names under `columns:`"):
        CsvOptions(path=".", header=False)


@pytest.mark.parametrize(
    ("header", "options", "message"),
    [
        (b"a,a\n", {}, r"empty or repeated: \['a'\]"),
        (b"a,,b\n", {}, "empty or repeated"),
        (b"a|b|\n", {"delimiter": "|"}, "trailing_delimiter: true"),
        (b"a,b\n", {"columns": ["x"]}, "lists 1 names, the header has 2"),
        (b'a,"b\n', {}, "header on line 1: unterminated quoted value"),
    ],
)
def test_header_problems_are_terminal_and_say_the_fix(
    tmp_path: Path, header: bytes, options: dict[str, Any], message: str
) -> None:
    (tmp_path / "h.csv").write_bytes(header + b"1,2\n")
    src = CsvSource("files", CsvOptions(path=str(tmp_path), **options))
    with pytest.raises(TerminalError, match=message):
        list(src.read_batches("h.csv", 10))


def test_detection_names_an_encoding_that_decodes_the_text(tmp_path: Path) -> None:
    text = "Имя,Город\n" + "".join(
        f"Иванов Пётр Сергеевич {i},Москва-Сити улица {i}\n" for i in range(200)
    )
    for encoding in ("cp866", "cp1251", "utf-8"):
        path = tmp_path / f"{encoding}.csv"
        path.write_bytes(text.encode(encoding))
        found = detect_encoding(path)
        assert path.read_bytes().decode(found.encoding) == text, (encoding, found)
        assert 0.5 < found.confidence <= 1.0
        assert found.encoding in found.describe()


def test_auto_encoding_reads_and_says_what_it_detected(tmp_path: Path) -> None:
    text = "a,b\n" + "".join(f"Müller Straße {i},Größe {i} €\n" for i in range(100))
    (tmp_path / "x.csv").write_bytes(text.encode("cp1252"))
    src = CsvSource("files", CsvOptions(path=str(tmp_path), encoding="auto"))
    rows = [r for b in src.read_batches("x.csv", 1000) for r in b.data.to_pylist()]
    assert rows[0]["a"] == "Müller Straße 0"
    assert rows[0]["b"] == "Größe 0 €"
    assert "auto:" in src.describe("x.csv")
    assert "confidence" in src.describe("x.csv")


def test_bad_options_are_refused() -> None:
    with pytest.raises(ValidationError, match="unknown encoding 'cp9999'"):
        CsvOptions(path=".", encoding="cp9999")
    with pytest.raises(ValidationError, match="quote must be one character"):
        CsvOptions(path=".", quote="''")
    with pytest.raises(ValidationError, match="cannot be a line break"):
        CsvOptions(path=".", delimiter="\n")
    with pytest.raises(ValidationError, match="columns repeats 'x'"):
        CsvOptions(path=".", columns=["x", "x"])


def test_batch_size_below_one_is_refused(tmp_path: Path) -> None:
    (tmp_path / "f.csv").write_bytes(b"a\n1\n")
    src = CsvSource("files", CsvOptions(path=str(tmp_path)))
    with pytest.raises(ValueError, match="batch_size must be at least 1"):
        list(src.read_batches("f.csv", 0))
