"""pgloader's CSV and fixed-width regression files must give the rows pgloader expects.

Files are read where they are (`../shared/datasets/pgloader/inline/*.inline.dat`); the
expected rows are pgloader's `expected/*.out` (COPY text: tab-separated, `\\N` = NULL).
pgloader converts types while loading; ferryman's sources hand on raw text and the mapping
converts, so comparisons apply the obvious conversion (a date's zero padding, char(n)
padding) and say so. Where ferryman deliberately differs (it quarantines a record that
pgloader silently patches up), the test says why. Every test checks the accounting:
records in the file = rows + rejects.
"""

from __future__ import annotations

import csv
import datetime as dt
from pathlib import Path
from typing import Any

import pytest

from ferryman.connectors.base import ROW_POSITION, Reject
from ferryman.connectors.csv.options import CsvOptions
from ferryman.connectors.csv.source import CsvSource
from ferryman.connectors.fixed_width.options import FixedWidthOptions
from ferryman.connectors.fixed_width.source import FixedWidthSource

pytestmark = pytest.mark.datasets


@pytest.fixture
def pg(datasets: Path) -> Path:
    return datasets / "pgloader"


def _expected(pg: Path, name: str) -> list[list[str | None]]:
    """Rows of a COPY-text file."""

    def cell(v: str) -> str | None:
        if v == "\\N":
            return None
        return (
            v.replace("\\\\", "\x00")
            .replace("\\t", "\t")
            .replace("\\n", "\n")
            .replace("\x00", "\\")
        )

    text = (pg / "expected" / f"{name}.out").read_text(encoding="utf-8")
    return [[cell(v) for v in line.split("\t")] for line in text.splitlines()]


def _records(path: Path, skip: int = 0, sep: bytes = b"\n") -> int:
    """Non-blank records in a file, counted on the bytes, independently of the reader."""
    lines = path.read_bytes().split(sep)[skip:]
    return sum(1 for line in lines if line.strip(b"\r\n"))


def _read(src: Any, stream: str, records: int) -> tuple[list[dict[str, Any]], list[Reject]]:
    """All rows and rejects, in batches of 2 (so boundaries are crossed), with the
    accounting checked."""
    batches = list(src.read_batches(stream, batch_size=2))
    rows = [r for b in batches for r in b.data.to_pylist()]
    rejects = [r for b in batches for r in b.rejects]
    assert len(rows) + len(rejects) == records == sum(b.rows_read for b in batches)
    assert (batches[-1].end.rows if batches else 0) == records
    return rows, rejects


def _csv(pg: Path, **options: Any) -> CsvSource:
    return CsvSource("pgloader", CsvOptions(path=str(pg / "inline"), **options))


def test_allcols_colon_separated_latin1(pg: Path) -> None:
    src = _csv(pg, delimiter=":", encoding="latin-1", header=False, columns=["a", "b", "c"])
    rows, rejects = _read(src, "allcols.inline.dat", 8)
    assert not rejects
    assert [[r["a"], r["b"], r["c"]] for r in rows] == _expected(pg, "allcols")


def test_csv_skips_the_junk_header_and_loads_a_column_subset(pg: Path) -> None:
    # the junk first line holds a UTF-8 © in a file declared latin1: skipped, never decoded
    # into a column name
    cols = ["ip1", "ip2", "n1", "n2", "cc", "country"]
    src = _csv(pg, encoding="latin-1", skip_lines=1, header=False, columns=cols)
    rows, rejects = _read(src, "csv.inline.dat", _records(pg / "inline/csv.inline.dat", 1))
    assert not rejects
    assert [[r["n1"], r["n2"], r["cc"], r["country"]] for r in rows] == _expected(pg, "csv")


def test_csv_before_after_460_ranges(pg: Path) -> None:
    src = _csv(pg, encoding="iso-8859-1", header=False, columns=["lo", "hi", "loc"])
    rows, rejects = _read(src, "csv-before-after.inline.dat", 460)
    assert not rejects
    assert [r["loc"] for r in rows] == [e[1] for e in _expected(pg, "csv-before-after")]
    assert rows[0]["lo"] == "3754901760"  # > 2^31: text, never an overflowing int


def test_custom_line_terminator_pilcrow(pg: Path) -> None:
    # pgloader has no expected output for this one; the rows are plain in the file
    src = _csv(pg, delimiter="¦", line_terminator="¶", header=False, columns=["a", "b", "c"])
    rows, rejects = _read(src, "csv-newline.inline.dat", 2)  # the final LF is a blank record
    assert not rejects
    assert [[r["a"], r["b"], r["c"]] for r in rows] == [
        ["plop", "bar", "foo"],
        ["plip", "second line", "bar"],
    ]


def test_errors_ragged_extra_and_unterminated_quote_are_quarantined(pg: Path) -> None:
    src = _csv(pg, delimiter="|", trailing_delimiter=True, header=False, columns=["id", "t", "d"])
    path = pg / "inline/errors.inline.dat"
    rows, rejects = _read(src, "errors.inline.dat", _records(path))
    by_id = {r["id"]: r for r in rows}
    # Deliberate difference: pgloader loads record 7 ("a ragged line", one field short)
    # with a NULL date and record 8 with its extra fields "hello|there" silently dropped.
    # A short or long record means the export is shifted or truncated; ferryman
    # quarantines both with their raw text instead of guessing. Records 2, 3 and 5 carry
    # impossible dates: those are the mapping's `parse_date` rejects, not the source's.
    assert sorted(by_id, key=int) == ["0", "1", "2", "3", "4", "5", "6", "9"]
    assert [(r.position, r.raw_value) for r in rejects] == [
        ("errors.inline.dat:10", "7|and a ragged line|"),
        ("errors.inline.dat:11", "8|and a line with extra columns|2014-01-23|hello|there|"),
        ("errors.inline.dat:15", '10|"plop'),
    ]
    assert "unterminated quoted value" in rejects[2].message
    for want_id, want_date, want_text in _expected(pg, "errors"):
        assert want_id is not None
        if want_id in ("7", "8"):
            continue
        row = by_id[want_id]
        assert row["t"] == want_text
        assert _iso(row["d"]) == want_date


def _iso(raw: str) -> str | None:
    """pgloader's date cast for `2006-5-12`: zero-padded ISO; empty is NULL."""
    if raw == "":
        return None
    return dt.datetime.strptime(raw, "%Y-%m-%d").date().isoformat()


def test_xzero_nul_byte_is_quarantined_not_read_as_null(pg: Path) -> None:
    src = _csv(pg, delimiter="|", skip_lines=1, trailing_delimiter=True)
    path = pg / "inline/xzero.inline.dat"
    rows, rejects = _read(src, "xzero.inline.dat", _records(path, 2))
    assert src.columns("xzero.inline.dat") == ["id", "data", "date"]
    # Deliberate difference: pgloader reads the NUL byte of record 7 as a NULL date. A NUL
    # in a text export is a binary or corrupted field; ferryman quarantines the record
    # (raw text kept) rather than guess it meant NULL.
    assert [(r.position, r.raw_value) for r in rejects] == [
        ("xzero.inline.dat:9", "7|some null date to play with|\x00|")
    ]
    assert "NUL byte" in rejects[0].message
    want = [e for e in _expected(pg, "xzero") if e[0] != "7"]
    # `\ ` is read raw; pgloader trims the blank (the mapping's `trim` does that here)
    assert [[r["id"], r["data"].strip()] for r in rows] == [[e[0], e[2]] for e in want]
    assert rows[0][ROW_POSITION] == "xzero.inline.dat:3"


def test_csv_error_undecodable_bytes_quarantined_with_raw_bytes(pg: Path) -> None:
    src = _csv(pg, delimiter="|", quote=None, encoding="ascii", header=False, columns=["l", "f"])
    rows, rejects = _read(src, "csv-error.inline.dat", 5)
    # pgloader rejects JOURDAIN (UTF-8 bytes in an ascii file) too; ferryman says which
    # bytes and keeps them. BONNIER's first name is too long for char(20): that is the
    # mapping's `string(20)` cast, so the source still reads it.
    assert [(r.position, r.raw_value) for r in rejects] == [
        ("csv-error.inline.dat:5", repr("JOURDAIN|héhé¶".encode()))
    ]
    assert "0xc3 at char 11" in rejects[0].message
    loaded = [[r["l"], r["f"]] for r in rows if len(r["f"]) <= 20]
    assert loaded == [[a.rstrip(), b.rstrip()] for a, b in _expected(pg, "csv-error")]  # type: ignore[union-attr]


def test_csv_escape_mode_backslash_escapes(pg: Path) -> None:
    path = pg / "inline/csv-escape-mode.inline.dat"
    first = path.read_text(encoding="utf-8").splitlines()[0]
    width = len(next(csv.reader([first], escapechar="\\")))
    src = _csv(pg, escape="\\", header=False, columns=[f"c{i}" for i in range(1, width + 1)])
    rows, rejects = _read(src, "csv-escape-mode.inline.dat", 5)
    assert not rejects
    doctype = next(k for k, v in rows[0].items() if v == "HTML")
    assert [[r["c1"], r[doctype]] for r in rows] == _expected(pg, "csv-escape-mode")
    # `\N` (MySQL's NULL) stays the text `\N` for the spec's null markers, never "N"
    assert rows[0]["c15"] == "\\N"


def test_csv_nulls_marker_is_kept_as_raw_text(pg: Path) -> None:
    src = _csv(pg, header=False, columns=["id", "v", "t"])
    rows, _ = _read(src, "csv-nulls.inline.dat", 2)
    as_null = [[None if v == "\\N" else v for v in (r["id"], r["v"], r["t"])] for r in rows]
    assert as_null == _expected(pg, "csv-nulls")


def test_csv_temp_semicolons_and_negative_reals(pg: Path) -> None:
    src = _csv(pg, delimiter=";", header=False, columns=["id", "ts", "lo", "hi"])
    rows, _ = _read(src, "csv-temp.inline.dat", 5)
    assert [[r["id"], r["ts"], r["lo"], r["hi"]] for r in rows] == _expected(pg, "csv-temp")


def test_csv_header_names_with_dollar_signs(pg: Path) -> None:
    src = _csv(pg)
    names = src.columns("csv-header.inline.dat")
    assert names == ["somefields", "rekplcode", "repl$grpid", "repl$id", "fields", "another"]
    rows, _ = _read(src, "csv-header.inline.dat", 2)
    order = ["somefields", "rekplcode", "repl$grpid", "repl$id", "another", "fields"]
    assert [[r[c] for c in order] for r in rows] == _expected(pg, "csv-header")


def test_partial_and_udc_percent_separated(pg: Path) -> None:
    src = _csv(pg, delimiter="%", header=False, columns=["a", "b", "c", "d", "e"])
    rows, _ = _read(src, "partial.inline.dat", 7)
    assert [[r["a"], r["b"], r["c"], None, r["e"]] for r in rows] == _expected(pg, "partial")
    src = _csv(pg, delimiter="%", encoding="latin-1", header=False, columns=list("abcd"))
    rows, _ = _read(src, "udc.inline.dat", 5)
    assert [[r["b"], "constant value", r["a"]] for r in rows] == _expected(pg, "udc")


def test_serial_backslash_blank_is_raw(pg: Path) -> None:
    src = _csv(pg, delimiter=";", header=False, columns=["data", "date"])
    rows, _ = _read(src, "serial.inline.dat", 7)
    assert [r["data"].strip() for r in rows] == [e[2] for e in _expected(pg, "serial")]
    assert rows[3]["data"] == "\\ "


def test_keep_extra_blanks_reads_values_as_written(pg: Path) -> None:
    src = _csv(pg, header=False, columns=["what", "v", "why"])
    rows, rejects = _read(src, "csv-keep-extra-blanks.inline.dat", 7)
    assert not rejects
    want = _expected(pg, "csv-keep-extra-blanks")
    # Known limit: the csv module reads `,,` and `,"",` both as ''. pgloader makes the
    # unquoted one NULL; in ferryman a spec says `null_markers: [""]` for the column.
    assert [[r["what"], r["v"]] for r in rows[:6]] == [[e[1], e[2] or ""] for e in want]
    # pgloader rejects record 7 (`, "should be an error"`: a quote after a blank); ferryman
    # reads the blank-led value as the text it is, and the mapping decides.
    assert rows[6]["v"] == "  test string  "
    assert rows[6]["why"] == ' "should be an error"'


def test_non_printable_control_bytes_are_kept(pg: Path) -> None:
    src = _csv(
        pg, encoding="latin-1", skip_initial_space=True, header=False, columns=["a", "b", "c"]
    )
    rows, rejects = _read(src, "csv-non-printable.inline.dat", 7)
    assert not rejects
    assert [[r["a"], r["b"], r["c"]] for r in rows] == _expected(pg, "csv-non-printable")


def _fixed(pg: Path, layout: list[dict[str, Any]], **options: Any) -> FixedWidthSource:
    return FixedWidthSource(
        "pgloader", FixedWidthOptions(path=str(pg / "inline"), layout=layout, **options)
    )


def test_fixed_width_with_short_last_line(pg: Path) -> None:
    layout = [
        {"name": "a", "start": 0, "length": 10},
        {"name": "b", "start": 10, "length": 8},
        {"name": "c", "start": 18, "length": 8},
        {"name": "d", "start": 26, "length": 17},
    ]
    rows, rejects = _read(_fixed(pg, layout), "fixed.inline.dat", 5)
    assert not rejects  # the last line is 26 characters: padded, not rejected

    def converted(r: dict[str, str]) -> list[str | None]:
        # pgloader's casts: integer, yyyymmdd date, hhmmssff time, blank text -> NULL
        t = dt.datetime.strptime(r["c"], "%H%M%S%f").time()
        hms = t.isoformat(timespec="microseconds").rstrip("0").rstrip(".")
        day = dt.datetime.strptime(r["b"], "%Y%m%d").date().isoformat()
        return [str(int(r["a"])), day, hms, r["d"] or None]

    assert [converted(r) for r in rows] == _expected(pg, "fixed")
    assert rows[4][ROW_POSITION] == "fixed.inline.dat:5"


def test_fixed_width_fields_with_periods(pg: Path) -> None:
    layout = [
        {"name": "field.one", "start": 1, "end": 3},
        {"name": "field.two", "start": 4, "end": 6},
    ]
    rows, _ = _read(_fixed(pg, layout, base=1), "fields-with-periods.inline.dat", 3)
    assert [[r["field.one"], r["field.two"]] for r in rows] == _expected(pg, "fields-with-periods")
