"""Golden mapping cases (sqlglot's validate_all style): spec + input rows -> expected rows
and rejects, as data files in `cases/`. One test per file, id = file stem.

A case file holds:
    description: what the case shows
    spec:        a MappingSpec (source may be {connection: x, table: t})
    input:       rows of raw source values (text, as read from a file, unless
                 `input_types` gives an Arrow type per column, as from a SQL source)
    expected:    the mapped rows; dates and timestamps as ISO text, decimals as text
                 with their full scale ('12.50')
    rejects:     [{row, column, rule, message?}]; `message` must appear in the message
    filtered:    rows the filter dropped (default 0)
    rows:        input indices of the expected rows (optional; checked when given)
    environ:     environment variables the spec needs (a pseudonym key)
    files:       project files the spec reads: path -> text (written to a temp project)
    lookups:     lookup tables: {target: {TABLE: rows}, source: {TABLE: rows}}
    key_map:     surrogate keys given by earlier runs: {TABLE: {legacy key: new key}}
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
from ruamel.yaml import YAML

from ferryman.connectors.base import ROW_POSITION
from ferryman.mappings.compile import ROW_INDEX, CompiledMapping, compile_spec
from ferryman.mappings.lookups import InMemoryKeyMap, InMemoryLookups, LookupKind
from ferryman.mappings.model import MappingSpec

CASES = sorted((Path(__file__).parent / "cases").glob("*.yaml"))
CASE_KEYS = {
    "description",
    "spec",
    "input",
    "input_types",
    "expected",
    "rejects",
    "filtered",
    "rows",
    "environ",
    "files",
    "lookups",
    "key_map",
}


def _load(path: Path) -> dict[str, Any]:
    case = YAML(typ="safe", pure=True).load(path.read_text(encoding="utf-8"))
    unknown = set(case) - CASE_KEYS
    assert not unknown, f"{path.name}: unknown case keys {sorted(unknown)}"
    return dict(case)


def _raw(value: Any) -> str | None:
    """A YAML scalar as the text a file would hold."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value)


def _input_table(case: dict[str, Any], stem: str) -> pa.Table:
    rows: list[dict[str, Any]] = case["input"]
    types = case.get("input_types") or {}
    names: list[str] = []
    for row in rows:
        names += [k for k in row if k not in names]
    columns = {}
    for name in names:
        values = [row.get(name) for row in rows]
        if name in types:
            columns[name] = pa.array(values, type=pa.type_for_alias(types[name]))
        else:
            columns[name] = pa.array([_raw(v) for v in values], pa.string())
    columns[ROW_POSITION] = pa.array([f"{stem}.csv:{i + 2}" for i in range(len(rows))])
    return pa.table(columns)


def _plain(value: Any) -> Any:
    """Output values in the spelling the case files use."""
    if isinstance(value, dt.datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, dt.time):
        return value.isoformat()
    if isinstance(value, bytes):
        return value.hex()
    return value


def _compiled(case: dict[str, Any], spec: MappingSpec, project: Path) -> CompiledMapping:
    for relative, text in (case.get("files") or {}).items():
        path = project / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    lookups = InMemoryLookups()
    for kind, tables in (case.get("lookups") or {}).items():
        where: LookupKind = kind
        for table, rows in tables.items():
            lookups.add(where, table, pa.Table.from_pylist(rows))
    keys = InMemoryKeyMap(start=100)
    for table, known in (case.get("key_map") or {}).items():
        keys.maps[table] = {str(k): int(v) for k, v in known.items()}
    return compile_spec(
        spec, base_dir=project, lookups=lookups, keys=keys, environ=case.get("environ") or {}
    )


@pytest.mark.parametrize("path", CASES, ids=[p.stem for p in CASES])
def test_case(path: Path, tmp_path: Path) -> None:
    case = _load(path)
    spec = MappingSpec.model_validate(case["spec"])
    data = _input_table(case, path.stem)
    result = _compiled(case, spec, tmp_path).apply(data)

    fields = list(spec.fields)
    assert result.rows.column_names == [*fields, ROW_POSITION, ROW_INDEX]
    got = [{k: _plain(v) for k, v in row.items() if k in fields} for row in result.rows.to_pylist()]
    expected = [{k: _plain(v) for k, v in row.items()} for row in case.get("expected") or []]
    assert got == expected

    want_rejects = sorted((r["row"], r["column"], r["rule"]) for r in case.get("rejects") or [])
    assert sorted((r.row, r.column, r.rule) for r in result.rejects) == want_rejects
    for want in case.get("rejects") or []:
        if "message" in want:
            (match,) = [
                r for r in result.rejects if (r.row, r.column) == (want["row"], want["column"])
            ]
            assert want["message"] in match.message
    for r in result.rejects:
        assert r.position == f"{path.stem}.csv:{r.row + 2}"

    assert result.filtered == case.get("filtered", 0)
    rejected = {r.row for r in result.rejects}
    assert data.num_rows == result.rows.num_rows + result.filtered + len(rejected)
    kept = result.rows.column(ROW_INDEX).to_pylist()
    assert not rejected & set(kept)
    if "rows" in case:
        assert kept == case["rows"]
    elif not result.filtered:
        assert kept == [i for i in range(data.num_rows) if i not in rejected]


def test_every_function_has_a_case() -> None:
    from ferryman.mappings.functions import BUILTINS

    used = set()
    for path in CASES:
        for f in _load(path)["spec"]["fields"].values():
            for step in f.get("transform") or []:
                used.add(step if isinstance(step, str) else next(iter(step)))
    assert {fn.name for fn in BUILTINS} <= used
