"""CSV source: RFC 4180 edge cases from csv-spectrum, legacy encodings, malformed records."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ferryman.connectors.base import ROW_POSITION, Position
from ferryman.connectors.csv.options import CsvOptions
from ferryman.connectors.csv.source import CsvSource
from ferryman.connectors.errors import TerminalError


def _spectrum_cases(datasets: Path) -> list[str]:
    return sorted(p.stem for p in (datasets / "csv-spectrum" / "csvs").glob("*.csv"))


SPECTRUM = [
    "comma_in_quotes",
    "empty",
    "empty_crlf",
    "escaped_quotes",
    "json",
    "newlines",
    "newlines_crlf",
    "quotes_and_newlines",
    "simple",
    "simple_crlf",
    "utf8",
]


@pytest.mark.datasets
@pytest.mark.parametrize("case", SPECTRUM)
def test_csv_spectrum_case_matches_its_json(datasets: Path, case: str) -> None:
    root = datasets / "csv-spectrum"
    expected = json.loads((root / "json" / f"{case}.json").read_text(encoding="utf-8"))
    src = CsvSource("spectrum", CsvOptions(path=str(root / "csvs")))
    rows = [r for b in src.read_batches(f"{case}.csv", batch_size=1) for r in b.data.to_pylist()]
    for r in rows:
        r.pop(ROW_POSITION)
    # csv-spectrum writes CRLF inside quoted values as \n in some JSON files; compare as text
    norm = [{k: v.replace("\r\n", "\n") for k, v in r.items()} for r in rows]
    want = [{k: v.replace("\r\n", "\n") for k, v in r.items()} for r in expected]
    assert norm == want


def test_spectrum_list_is_complete(datasets: Path) -> None:
    assert _spectrum_cases(datasets) == SPECTRUM


def _write(tmp_path: Path, name: str, data: bytes) -> CsvSource:
    (tmp_path / name).write_bytes(data)
    return CsvSource("files", CsvOptions(path=str(tmp_path), encoding="cp1252"))


def test_cp1252_is_decoded_and_values_stay_text(tmp_path: Path) -> None:
    data = 'CODE,DESCR,PRICE\r\n0012,"Écran 27"" – €","1,299.00"\r\n'.encode("cp1252")
    src = _write(tmp_path, "P.CSV", data)
    (batch,) = list(src.read_batches("P.CSV", batch_size=10))
    assert batch.data.to_pylist() == [
        {"CODE": "0012", "DESCR": 'Écran 27" – €', "PRICE": "1,299.00", ROW_POSITION: "P.CSV:2"}
    ]


def test_malformed_records_are_rejected_with_record_number_and_rest_loads(tmp_path: Path) -> None:
    data = b"a,b\n1,2\n3,4,5\n6,7\n8\n9,10\n"
    src = _write(tmp_path, "x.csv", data)
    batches = list(src.read_batches("x.csv", batch_size=2))
    good = [r["a"] for b in batches for r in b.data.to_pylist()]
    rejects = [r for b in batches for r in b.rejects]
    assert good == ["1", "6", "9"]
    assert [(r.position, r.raw_value, r.rule) for r in rejects] == [
        ("x.csv:3", "3,4,5", "malformed_record"),
        ("x.csv:5", "8", "malformed_record"),
    ]
    assert sum(b.rows_read for b in batches) == 5
    assert batches[-1].end == Position(rows=5)


def test_resume_after_position_reads_exactly_the_rest(tmp_path: Path) -> None:
    lines = "".join(f"{i},{i * 2}\n" for i in range(1, 26))
    src = _write(tmp_path, "n.csv", ("a,b\n" + lines).encode())
    first = list(src.read_batches("n.csv", batch_size=10))
    assert [b.num_rows for b in first] == [10, 10, 5]
    rest = list(src.read_batches("n.csv", batch_size=10, after=first[0].end))
    assert [r["a"] for b in rest for r in b.data.to_pylist()] == [str(i) for i in range(11, 26)]
    assert rest[0].start == Position(rows=10)


def test_header_only_file_yields_nothing(tmp_path: Path) -> None:
    src = _write(tmp_path, "h.csv", b"a,b\n")
    assert list(src.read_batches("h.csv", batch_size=10)) == []
    assert src.columns("h.csv") == ["a", "b"]


def test_missing_file_names_the_file_and_the_folder(tmp_path: Path) -> None:
    src = CsvSource("files", CsvOptions(path=str(tmp_path)))
    with pytest.raises(TerminalError, match=r"file 'nope.csv' not found"):
        src.columns("nope.csv")


def test_unknown_encoding_is_refused_with_the_fix() -> None:
    with pytest.raises(ValueError, match="unknown encoding 'cp9999'"):
        CsvOptions(path=".", encoding="cp9999")
