"""JSON Lines source: flattening, JSON types kept, malformed lines quarantined, resume;
with dlt's awkward rows."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from ferryman.connectors.base import ROW_POSITION, Batch, Position
from ferryman.connectors.errors import TerminalError
from ferryman.connectors.jsonl.options import JsonlOptions
from ferryman.connectors.jsonl.source import JsonlSource


def _source(tmp_path: Path, text: str | bytes, **options: Any) -> JsonlSource:
    data = text.encode("utf-8") if isinstance(text, str) else text
    (tmp_path / "x.jsonl").write_bytes(data)
    return JsonlSource("events", JsonlOptions(path=str(tmp_path), **options))


def _rows(batches: list[Batch]) -> list[dict[str, Any]]:
    return [r for b in batches for r in b.data.to_pylist()]


def test_nested_objects_flatten_by_path_and_json_types_are_kept(tmp_path: Path) -> None:
    lines = [
        {"id": 1, "user": {"name": "Ana", "address": {"city": "Porto"}}, "tags": ["a", "b"]},
        {"id": 2, "user": {"name": "Bo"}, "price": 12.50, "vip": True},
    ]
    text = "\n".join(json.dumps(x) for x in lines).replace("12.5", "12.50") + "\n"
    src = _source(tmp_path, text)
    assert src.columns("x.jsonl") == [
        "id", "user__name", "user__address__city", "tags", "price", "vip",
    ]  # fmt: skip
    (batch,) = src.read_batches("x.jsonl", 10)
    schema = {f.name: str(f.type) for f in batch.data.schema}
    assert schema["id"] == "int64"
    assert schema["vip"] == "bool"
    assert _rows([batch]) == [
        {"id": 1, "user__name": "Ana", "user__address__city": "Porto", "tags": '["a","b"]',
         "price": None, "vip": None, ROW_POSITION: "x.jsonl:1"},
        {"id": 2, "user__name": "Bo", "user__address__city": None, "tags": None,
         "price": "12.50", "vip": True, ROW_POSITION: "x.jsonl:2"},
    ]  # fmt: skip


def test_explicit_columns_pick_values_by_path(tmp_path: Path) -> None:
    text = '{"a": {"b": {"c": 1}}, "tags": ["x", "y"], "junk": 0}\n{"a": null}\n'
    src = _source(tmp_path, text, columns={"deep": "a.b.c", "second_tag": "tags.1", "no": "z"})
    assert src.columns("x.jsonl") == ["deep", "second_tag", "no"]
    rows = _rows(list(src.read_batches("x.jsonl", 10)))
    assert [(r["deep"], r["second_tag"], r["no"]) for r in rows] == [
        (1, "y", None),
        (None, None, None),
    ]


def test_column_with_several_json_types_is_json_text_for_every_row(tmp_path: Path) -> None:
    text = '{"v": 1}\n{"v": "1"}\n{"v": true}\n{"v": 1.0e3}\n{"v": [{"k": 1}, 2.50]}\n'
    (batch,) = _source(tmp_path, text).read_batches("x.jsonl", 10)
    assert batch.data.column("v").to_pylist() == ["1", "1", "true", "1.0e3", '[{"k":1},2.50]']


def test_malformed_lines_are_rejected_with_line_number_and_text_and_rest_loads(
    tmp_path: Path,
) -> None:
    text = b'{"a": 1}\n{"a": 2,\n\n[1, 2]\n{"a": "caf\xe9"}\n{"a": NaN}\n{"a": 3}\n'
    batches = list(_source(tmp_path, text).read_batches("x.jsonl", 2))
    assert [r["a"] for r in _rows(batches)] == [1, 3]
    rejects = [r for b in batches for r in b.rejects]
    assert [(r.position, r.raw_value) for r in rejects] == [
        ("x.jsonl:2", '{"a": 2,'),
        ("x.jsonl:4", "[1, 2]"),
        ("x.jsonl:5", repr(b'{"a": "caf\xe9"}')),
        ("x.jsonl:6", '{"a": NaN}'),
    ]
    assert "line 2: not valid JSON" in rejects[0].message
    assert "must hold a JSON object, this one holds a list" in rejects[1].message
    assert "bytes E9 are not utf-8" in rejects[2].message
    assert "NaN is not a JSON value" in rejects[3].message
    assert sum(b.rows_read for b in batches) == 6  # the blank line is not a record


def test_resume_after_each_batch_reads_exactly_the_rest(tmp_path: Path) -> None:
    text = "".join(f'{{"n": {i}}}\n' for i in range(1, 12)).replace('{"n": 5}', "oops")
    src = _source(tmp_path, text)
    batches = list(src.read_batches("x.jsonl", 3))
    assert [b.rows_read for b in batches] == [3, 3, 3, 2]
    for i, b in enumerate(batches):
        rest = list(src.read_batches("x.jsonl", 3, after=Position.from_json(b.end.to_json())))
        assert _rows(rest) == _rows(batches[i + 1 :])
        assert [r.position for x in rest for r in x.rejects] == [
            r.position for x in batches[i + 1 :] for r in x.rejects
        ]


def test_bom_crlf_and_a_last_line_without_newline(tmp_path: Path) -> None:
    src = _source(tmp_path, b'\xef\xbb\xbf{"a": 1}\r\n{"a": 2}')
    assert _rows(list(src.read_batches("x.jsonl", 10))) == [
        {"a": 1, ROW_POSITION: "x.jsonl:1"},
        {"a": 2, ROW_POSITION: "x.jsonl:2"},
    ]


def test_position_without_offset_is_refused(tmp_path: Path) -> None:
    src = _source(tmp_path, '{"a": 1}\n')
    with pytest.raises(TerminalError, match="has no byte offset"):
        list(src.read_batches("x.jsonl", 10, after=Position(rows=1)))


def test_encodings_that_are_not_ascii_compatible_are_refused() -> None:
    with pytest.raises(ValidationError, match="re-encode the files as UTF-8"):
        JsonlOptions(path=".", encoding="utf-16")


# --- dlt's cases (JSON arrays, written here one object per line) ---------------------------


def _dlt(datasets: Path, tmp_path: Path, case: str) -> tuple[list[dict[str, Any]], JsonlSource]:
    rows = json.loads((datasets / "dlt" / "tests" / case).read_text(encoding="utf-8"))
    lines = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)
    return rows, _source(tmp_path, lines)


@pytest.mark.datasets
def test_dlt_weird_rows_keep_every_character(datasets: Path, tmp_path: Path) -> None:
    rows, src = _dlt(datasets, tmp_path, "common/cases/weird_rows.json")
    got = _rows(list(src.read_batches("x.jsonl", 2)))
    assert [r["str"] for r in got] == [r["str"] for r in rows]
    assert "hello\nworld\t\t\t\r\u0006" in [r["str"] for r in got]


@pytest.mark.datasets
def test_dlt_sparse_rows_big_float_and_uint256(datasets: Path, tmp_path: Path) -> None:
    _, src = _dlt(datasets, tmp_path, "common/cases/simple_row.json")
    rows = _rows(list(src.read_batches("x.jsonl", 10)))
    assert rows[0]["f_float"] == "9.2898e+41"  # json.dumps wrote it; the text is kept exactly
    assert rows[1]["f_bool"] is None  # the key is absent from the second row
    _, src = _dlt(datasets, tmp_path, "common/cases/pua_encoded_row.json")
    (row,) = _rows(list(src.read_batches("x.jsonl", 10)))
    # dlt marks the value with a private-use character; ferryman keeps the text as it is
    uint256 = "115792089237316195423570985008687907853269984665640564039457584007913129639935"
    assert row["wad"] == "\uf02c" + uint256
    assert row["_dlt_meta__table_name"] == "Ronin WETH_calls_approve"


@pytest.mark.datasets
def test_dlt_github_issues_flatten_to_columns(datasets: Path, tmp_path: Path) -> None:
    rows, src = _dlt(datasets, tmp_path, "normalize/cases/github.issues.load_page_5_duck.json")
    batches = list(src.read_batches("x.jsonl", 30))
    assert sum(b.num_rows for b in batches) == len(rows) == 100
    got = _rows(batches)
    assert got[0]["user__login"] == rows[0]["user"]["login"]
    assert json.loads(got[0]["labels"]) == rows[0]["labels"]
    assert {b.data.schema for b in batches} == {batches[0].data.schema}  # one schema


@pytest.mark.datasets
def test_dlt_jsonl_file(datasets: Path) -> None:
    root = datasets / "dlt" / "tests" / "load" / "cases" / "loading"
    src = JsonlSource("dlt", JsonlOptions(path=str(root)))
    rows = _rows(list(src.read_batches("header.jsonl", 10)))
    assert [(r["id"], r["description"], r["price"]) for r in rows] == [
        (1, "value", "128.4"),
        (1, "value with space", "128.4"),
    ]
