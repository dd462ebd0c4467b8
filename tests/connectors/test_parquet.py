"""Parquet source: types kept as stored, batches re-cut across row groups, exact resume."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from ferryman.connectors.base import ROW_POSITION, Batch, Position
from ferryman.connectors.errors import TerminalError
from ferryman.connectors.parquet.options import ParquetOptions
from ferryman.connectors.parquet.source import ParquetSource

N = 23


def _write(tmp_path: Path, rows: int = N, group: int = 5) -> ParquetSource:
    table = pa.table(
        {
            "id": pa.array(range(1, rows + 1), pa.int64()),
            "price": pa.array([Decimal(i).scaleb(-2) for i in range(rows)], pa.decimal128(9, 2)),
            "day": pa.array([dt.date(2024, 1, 1) + dt.timedelta(i) for i in range(rows)]),
            "code": pa.array([f"{i:04d}" for i in range(rows)]).dictionary_encode(),
        }
    )
    pq.write_table(table, tmp_path / "t.parquet", row_group_size=group)
    return ParquetSource("lake", ParquetOptions(path=str(tmp_path)))


def _ids(batches: list[Batch]) -> list[Any]:
    return [r["id"] for b in batches for r in b.data.to_pylist()]


def test_types_are_kept_and_every_row_has_its_position(tmp_path: Path) -> None:
    src = _write(tmp_path)
    assert src.columns("t.parquet") == ["id", "price", "day", "code"]
    (batch,) = src.read_batches("t.parquet", 100)
    schema = {f.name: str(f.type) for f in batch.data.schema}
    assert schema["price"] == "decimal128(9, 2)"
    assert schema["day"] == "date32[day]"
    assert batch.data.to_pylist()[3] == {
        "id": 4, "price": Decimal("0.03"), "day": dt.date(2024, 1, 4), "code": "0003",
        ROW_POSITION: "t.parquet:4",
    }  # fmt: skip


@pytest.mark.parametrize("size", [1, 4, 5, 7, 100])
def test_batches_are_exactly_batch_size_across_row_groups(tmp_path: Path, size: int) -> None:
    batches = list(_write(tmp_path).read_batches("t.parquet", size))
    assert [b.num_rows for b in batches][:-1] == [size] * (len(batches) - 1)
    assert _ids(batches) == list(range(1, N + 1))
    assert [b.number for b in batches] == list(range(len(batches)))
    assert batches[-1].end == Position(rows=N)


@pytest.mark.parametrize("done", [0, 3, 5, 6, 15, 22, 23])
def test_resume_starts_in_the_right_row_group_at_the_right_row(tmp_path: Path, done: int) -> None:
    src = _write(tmp_path)
    rest = list(src.read_batches("t.parquet", 4, after=Position(rows=done)))
    assert _ids(rest) == list(range(done + 1, N + 1))
    if rest:
        assert rest[0].start == Position(rows=done)
        assert rest[0].data.column(ROW_POSITION)[0].as_py() == f"t.parquet:{done + 1}"


def test_column_selection_and_unknown_column(tmp_path: Path) -> None:
    _write(tmp_path)
    src = ParquetSource("lake", ParquetOptions(path=str(tmp_path), columns=["code", "id"]))
    (batch,) = src.read_batches("t.parquet", 100)
    assert batch.data.column_names == ["code", "id", ROW_POSITION]
    bad = ParquetSource("lake", ParquetOptions(path=str(tmp_path), columns=["nope"]))
    with pytest.raises(TerminalError, match=r"no column 'nope'; it has id, price, day, code"):
        bad.columns("t.parquet")


def test_not_parquet_and_missing_file_are_terminal_errors(tmp_path: Path) -> None:
    (tmp_path / "x.parquet").write_bytes(b"PAR1 this is not parquet")
    src = ParquetSource("lake", ParquetOptions(path=str(tmp_path)))
    with pytest.raises(TerminalError, match="x.parquet .* not a readable Parquet file"):
        src.columns("x.parquet")
    with pytest.raises(TerminalError, match="file 'y.parquet' not found"):
        list(src.read_batches("y.parquet", 10))


def test_empty_file_yields_nothing(tmp_path: Path) -> None:
    src = _write(tmp_path, rows=0)
    assert list(src.read_batches("t.parquet", 10)) == []
