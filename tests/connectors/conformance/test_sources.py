"""The conformance suite every registered source kind must pass (meltano-SDK style).

Parametrized over `ferryman.connectors.kinds.CONNECTORS`: a kind that can be read from gets these
tests by having a factory in `factories.SOURCE_FACTORIES`; `factories.SOURCE_VARIANTS` puts
further configurations of a kind through them too (SQL on PostgreSQL and MariaDB, read in
key ranges). Tests: round trip of values,
batch boundaries, position/resume, empty input, bad record handling, error mapping.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from ferryman.connectors.base import ROW_POSITION, Batch, Position, Source
from ferryman.connectors.errors import TerminalError
from ferryman.connectors.kinds import CONNECTORS
from tests.connectors.conformance.factories import (
    COLUMNS,
    ROWS,
    SOURCE_FACTORIES,
    SOURCE_VARIANTS,
    SourceFixture,
)

SOURCE_KINDS = sorted(n for n in CONNECTORS.names() if CONNECTORS.get(n).source is not None)
BAD_KINDS = sorted(k for k, f in SOURCE_FACTORIES.items() if f.write_bad is not None)


def test_every_source_kind_has_a_factory() -> None:
    missing = [k for k in SOURCE_KINDS if k not in SOURCE_FACTORIES]
    assert not missing, (
        f"source kinds without a conformance factory: {missing}; add one to"
        " tests/connectors/conformance/factories.py:SOURCE_FACTORIES"
    )


def test_factories_name_registered_source_kinds() -> None:
    assert sorted(SOURCE_FACTORIES) == sorted(set(SOURCE_FACTORIES) & set(SOURCE_KINDS))


@contextmanager
def _source(kind: str, fx: SourceFixture) -> Iterator[Source]:
    src = CONNECTORS.get(kind).build_source("conformance", fx.options)
    try:
        yield src
    finally:
        src.close()


def _read(src: Source, stream: str, size: int, after: Position | None = None) -> list[Batch]:
    return list(src.read_batches(stream, size, after))


def _values(batches: list[Batch]) -> list[dict[str, Any]]:
    rows = [r for b in batches for r in b.data.to_pylist()]
    return [{k: v for k, v in r.items() if k != ROW_POSITION} for r in rows]


@dataclass(frozen=True)
class Subject:
    """One source under test: its kind and how to write the dataset for it."""

    kind: str
    write: Callable[[Path, list[dict[str, str]]], SourceFixture]


_SUBJECTS = [(k, k, None) for k in SOURCE_KINDS if k in SOURCE_FACTORIES] + [
    (v.kind, f"{v.kind}-{v.id}", v) for v in SOURCE_VARIANTS
]


@pytest.fixture(params=_SUBJECTS, ids=[name for _, name, _ in _SUBJECTS])
def subject(request: pytest.FixtureRequest) -> Subject:
    kind, _, variant = request.param
    if variant is None:
        return Subject(kind, SOURCE_FACTORIES[kind].write)
    return Subject(kind, lambda tmp, rows: variant.write(request, tmp, rows))


def test_round_trip_gives_back_every_value_and_column(subject: Subject, tmp_path: Path) -> None:
    fx = subject.write(tmp_path, ROWS)
    with _source(subject.kind, fx) as src:
        assert src.columns(fx.stream) == COLUMNS
        batches = _read(src, fx.stream, 1000)
    assert _values(batches) == ROWS
    positions = [p for b in batches for p in b.data.column(ROW_POSITION).to_pylist()]
    assert len(set(positions)) == len(ROWS), "every row needs its own source position"
    assert all(isinstance(p, str) and p for p in positions)


@pytest.mark.parametrize("size", [1, 7, 1000])
def test_batches_are_bounded_contiguous_and_numbered(
    subject: Subject, tmp_path: Path, size: int
) -> None:
    fx = subject.write(tmp_path, ROWS)
    with _source(subject.kind, fx) as src:
        batches = _read(src, fx.stream, size)
    assert [b.number for b in batches] == list(range(len(batches)))
    assert all(0 < b.rows_read <= size for b in batches)
    assert batches[0].start.rows == 0
    for before, after in zip(batches, batches[1:], strict=False):
        assert after.start == before.end
    assert batches[-1].end.rows == len(ROWS) == sum(b.rows_read for b in batches)
    assert len(batches) == -(-len(ROWS) // size)
    assert _values(batches) == ROWS


@pytest.mark.parametrize("size", [1, 7, 1000])
def test_resume_after_each_batch_reads_exactly_the_rest(
    subject: Subject, tmp_path: Path, size: int
) -> None:
    fx = subject.write(tmp_path, ROWS)
    with _source(subject.kind, fx) as src:
        batches = _read(src, fx.stream, size)
        done = 0
        for b in batches:
            done += b.rows_read
            rest = _read(src, fx.stream, size, after=Position.from_json(b.end.to_json()))
            assert _values(rest) == ROWS[done:], f"resume after {b.end}"
            if rest:
                assert rest[0].start == b.end


def test_empty_input_yields_no_rows(subject: Subject, tmp_path: Path) -> None:
    fx = subject.write(tmp_path, [])
    with _source(subject.kind, fx) as src:
        batches = _read(src, fx.stream, 7)
    assert sum(b.rows_read for b in batches) == 0


def test_missing_stream_is_a_terminal_error_naming_it(subject: Subject, tmp_path: Path) -> None:
    fx = subject.write(tmp_path, ROWS[:2])
    with _source(subject.kind, fx) as src:
        with pytest.raises(TerminalError, match="no_such_stream"):
            src.columns("no_such_stream")
        with pytest.raises(TerminalError, match="no_such_stream"):
            _read(src, "no_such_stream", 7)


@pytest.mark.parametrize("bad_kind", BAD_KINDS)
@pytest.mark.parametrize("size", [1, 3, 1000])
def test_bad_records_are_rejected_with_position_and_the_rest_loads(
    bad_kind: str, tmp_path: Path, size: int
) -> None:
    factory = SOURCE_FACTORIES[bad_kind].write_bad
    assert factory is not None
    fx = factory(tmp_path)
    with _source(bad_kind, fx) as src:
        batches = _read(src, fx.stream, size)
        rejects = [r for b in batches for r in b.rejects]
        # accounting: records in the file = rows + rejects, and resume counts them too
        assert sum(b.rows_read for b in batches) == fx.records
        assert sum(b.num_rows for b in batches) == fx.good
        assert len(rejects) == fx.records - fx.good
        assert batches[-1].end.rows == fx.records
        for r in rejects:
            assert r.rule == "malformed_record"
            assert r.position.startswith(f"{fx.stream}:")
            assert r.raw_value
            assert r.message
        rows = [r for b in batches for r in b.data.to_pylist()]
        rest = _read(src, fx.stream, size, after=batches[0].end)
        assert sum(b.rows_read for b in rest) == fx.records - batches[0].rows_read
    assert not {r[ROW_POSITION] for r in rows} & {r.position for r in rejects}
