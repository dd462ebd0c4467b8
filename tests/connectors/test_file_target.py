"""File target: one file per batch, retried batches replace their file, CSV encodings."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.dataset as ds
import pytest
from pydantic import ValidationError

from ferryman.connectors.base import ROW_POSITION
from ferryman.connectors.errors import TerminalError
from ferryman.connectors.files_target.options import FileTargetOptions
from ferryman.connectors.files_target.writer import FileTarget


def _batch(start: int, n: int) -> pa.Table:
    ids = list(range(start, start + n))
    return pa.table({"id": ids, "name": [f"n{i}" for i in ids],
                     ROW_POSITION: [f"x.csv:{i}" for i in ids]})  # fmt: skip


def test_one_parquet_file_per_batch_and_a_retry_replaces_its_file(tmp_path: Path) -> None:
    target = FileTarget("staging", FileTargetOptions(path=str(tmp_path)))
    target.write_batch("customers", 0, _batch(1, 3))
    target.write_batch("customers", 1, _batch(4, 2))
    target.write_batch("customers", 1, _batch(4, 2))  # the retry of batch 1
    assert [p.name for p in target.files("customers")] == [
        "part-000000.parquet", "part-000001.parquet",
    ]  # fmt: skip
    assert target.count("customers") == 5
    table = ds.dataset(tmp_path / "customers").to_table()
    assert sorted(table.column("id").to_pylist()) == [1, 2, 3, 4, 5]
    assert table.column_names == ["id", "name"]  # positions are not exported
    assert not list((tmp_path / "customers").glob(".*tmp"))


def test_csv_in_a_legacy_encoding_and_a_value_it_cannot_hold(tmp_path: Path) -> None:
    options = FileTargetOptions(path=str(tmp_path), format="csv", encoding="cp1252", delimiter=";")
    target = FileTarget("export", options)
    path = target.write_batch("t", 7, pa.table({"name": ["Zoë", "café"]}))
    assert path.name == "part-000007.csv"
    assert path.read_bytes() == '"name"\n"Zoë"\n"café"\n'.encode("cp1252")
    assert target.count("t") == 2
    with pytest.raises(
        TerminalError, match=r"t batch 8, row 2 .* '李' cannot be written in cp1252"
    ):
        target.write_batch("t", 8, pa.table({"name": ["ok", "李"]}))
    assert [p.name for p in target.files("t")] == ["part-000007.csv"]  # nothing half-written


def test_clear_removes_the_batches_of_one_table(tmp_path: Path) -> None:
    target = FileTarget("staging", FileTargetOptions(path=str(tmp_path)))
    target.write_batch("a", 0, _batch(1, 1))
    target.write_batch("b", 0, _batch(1, 1))
    assert target.clear("a") == 1
    assert target.files("a") == []
    assert target.count("b") == 1


def test_table_names_that_are_not_folder_names_are_refused(tmp_path: Path) -> None:
    target = FileTarget("staging", FileTargetOptions(path=str(tmp_path)))
    with pytest.raises(TerminalError, match="'../x' cannot be a folder name"):
        target.write_batch("../x", 0, _batch(1, 1))


def test_options_are_strict() -> None:
    with pytest.raises(ValidationError, match="Extra inputs are not permitted"):
        FileTargetOptions(path=".", fromat="csv")  # type: ignore[call-arg]
    with pytest.raises(ValidationError, match="unknown encoding"):
        FileTargetOptions(path=".", encoding="cp9999")
