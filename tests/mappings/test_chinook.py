"""A realistic case from data nobody here wrote: Chinook's PascalCase SQLite database mapped
to its snake_case PostgreSQL schema with specs only (examples/chinook/mappings/specs).

The SQLite tables are read with the real SQL source; the expected schema and rows come from
parsing `Chinook_PostgreSql.sql` (its CREATE TABLE, ALTER TABLE ... FOREIGN KEY, CREATE
INDEX and the first rows of its INSERTs). Nothing is executed."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from ferryman.connectors.sql.options import SqlOptions
from ferryman.connectors.sql.source import SqlSource
from ferryman.mappings.compile import ROW_INDEX, compile_spec
from ferryman.mappings.loader import load_specs

SPECS = Path(__file__).resolve().parents[2] / "examples" / "chinook" / "mappings" / "specs"
SAMPLE_ROWS = 3


def _arrow(sql_type: str) -> tuple[pa.DataType, int | None]:
    t = sql_type.upper()
    if t == "INT":
        return pa.int32(), None
    if t == "TIMESTAMP":
        return pa.timestamp("us"), None
    if m := re.fullmatch(r"VARCHAR\((\d+)\)", t):
        return pa.string(), int(m.group(1))
    if m := re.fullmatch(r"NUMERIC\((\d+),(\d+)\)", t):
        return pa.decimal128(int(m.group(1)), int(m.group(2))), None
    raise AssertionError(f"unexpected type {sql_type} in the PostgreSQL script")


def _tables(script: str) -> dict[str, dict[str, Any]]:
    tables: dict[str, dict[str, Any]] = {}
    for m in re.finditer(r"CREATE TABLE (\w+)\s*\((.*?)\n\);", script, re.S):
        columns, key = [], []
        for line in m.group(2).strip().splitlines():
            line = line.strip().rstrip(",")
            if line.startswith("CONSTRAINT"):
                key = [c.strip() for c in line.split("(", 1)[1].rstrip(")").split(",")]
            else:
                name, sql_type = line.split()[:2]
                columns.append((name, *_arrow(sql_type), "NOT NULL" not in line))
        tables[m.group(1)] = {"columns": columns, "key": key, "fks": set(), "indexes": set()}
    fk = r"ALTER TABLE (\w+) ADD CONSTRAINT \w+\s+FOREIGN KEY \((\w+)\) REFERENCES (\w+) \((\w+)\)"
    for m in re.finditer(fk, script):
        tables[m.group(1)]["fks"].add(((m.group(2),), m.group(3), (m.group(4),)))
    for m in re.finditer(r"CREATE INDEX (\w+) ON (\w+) \((\w+)\);", script):
        tables[m.group(2)]["indexes"].add((m.group(1), (m.group(3),)))
    return tables


_VALUE = re.compile(r"\s*(N?'(?:[^']|'')*'|NULL|-?\d+(?:\.\d+)?)\s*(?:,|$)")


def _values(text: str) -> list[Any]:
    out: list[Any] = []
    for m in _VALUE.finditer(text):
        token = m.group(1)
        if token == "NULL":
            out.append(None)
        elif token.startswith(("'", "N'")):
            out.append(token.split("'", 1)[1][:-1].replace("''", "'"))
        else:
            out.append(Decimal(token) if "." in token else int(token))
    return out


def _first_rows(script: str, table: str) -> Iterator[dict[str, Any]]:
    m = re.search(rf"INSERT INTO {table} \(([^)]*)\) VALUES\n", script)
    assert m is not None, f"no INSERT for {table}"
    names = [c.strip() for c in m.group(1).split(",")]
    lines = script[m.end() :].splitlines()
    for line in lines[:SAMPLE_ROWS]:
        inner = line.strip().rstrip(",;")[1:-1]
        yield dict(zip(names, _values(inner), strict=True))


def _pg_value(value: Any, arrow: pa.DataType) -> Any:
    """A value of the script in the form the mapping produces."""
    if value is not None and pa.types.is_timestamp(arrow):
        y, mo, d = (int(p) for p in value.split("/"))
        return dt.datetime(y, mo, d)
    return value


@pytest.fixture(scope="module")
def chinook(datasets: Path) -> tuple[SqlSource, str]:
    folder = datasets / "chinook"
    url = f"sqlite:///{folder / 'Chinook_Sqlite.sqlite'}"
    script = (folder / "Chinook_PostgreSql.sql").read_text(encoding="utf-8-sig")
    return SqlSource("chinook", SqlOptions.model_validate({"url": url})), script


SPEC_FILES = sorted(p.stem for p in SPECS.glob("*.yaml"))


def test_every_table_of_the_postgres_schema_has_a_spec(chinook: tuple[SqlSource, str]) -> None:
    assert sorted(_tables(chinook[1])) == SPEC_FILES


@pytest.mark.parametrize("table", SPEC_FILES)
def test_table_maps_to_the_postgres_schema(table: str, chinook: tuple[SqlSource, str]) -> None:
    source, script = chinook
    wanted = _tables(script)[table]
    (spec,) = [s for s in load_specs(SPECS) if s.target == table]
    compiled = compile_spec(spec)

    schema = compiled.target_schema()
    got = [(c.name, c.type, c.max_length, c.nullable) for c in schema.columns]
    assert got == wanted["columns"]
    assert list(schema.primary_key) == wanted["key"]
    assert set(schema.foreign_keys) == wanted["fks"]
    assert {(ix.name, tuple(ix.columns)) for ix in compiled.indexes()} == wanted["indexes"]

    read = loaded = 0
    mapped = []
    for batch in source.read_batches(spec.source.stream, 2000):
        result = compiled.apply(batch.data)
        assert result.rejects == [], result.rejects[:3]
        read += batch.num_rows
        loaded += result.rows.num_rows
        mapped += result.rows.drop_columns(["__ferryman_position", ROW_INDEX]).to_pylist()
    assert read == loaded > 0

    types = {name: arrow for name, arrow, _, _ in wanted["columns"]}
    by_key = {tuple(r[k] for k in wanted["key"]): r for r in mapped}
    for expected in _first_rows(script, table):
        key = tuple(expected[k] for k in wanted["key"])
        row = {k: _pg_value(v, types[k]) for k, v in expected.items()}
        assert by_key[key] == row
