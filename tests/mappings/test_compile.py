"""Compiling a spec and mapping batches: row accounting, rejects, schema, compile errors."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ferryman.connectors.base import ROW_POSITION
from ferryman.mappings.compile import (
    ROW_INDEX,
    CompileError,
    MappedBatch,
    check_spec,
    compile_spec,
)
from ferryman.mappings.expressions import ExpressionError
from ferryman.mappings.model import MappingSpec

SPECS = sorted((Path(__file__).parents[2] / "examples").glob("*/mappings/specs/*.yaml"))


def spec(**overrides: Any) -> MappingSpec:
    data: dict[str, Any] = {
        "target": "customers",
        "source": {"connection": "legacy", "table": "CUSTMAST", "null_markers": ["N/A"]},
        "key": ["id"],
        "fields": {
            "id": {"from": "ID", "type": "integer"},
            "name": {
                "from": ["FIRST", "LAST"],
                "transform": [{"concat": " "}],
                "type": "string(12)",
            },
            "born": {"from": "BORN", "transform": [{"parse_date": "%Y%m%d"}], "type": "date"},
        },
    }
    data.update(overrides)
    return MappingSpec.model_validate(data)


def batch(**columns: list[Any]) -> pa.Table:
    n = len(next(iter(columns.values())))
    return pa.table({**columns, ROW_POSITION: [f"CUSTMAST rowid={i + 100}" for i in range(n)]})


def accounted(data: pa.Table, result: MappedBatch) -> bool:
    return data.num_rows == result.rows.num_rows + result.filtered + result.rejected_rows


def test_rows_have_target_types_then_position_and_index() -> None:
    data = batch(ID=["1"], FIRST=["Ada"], LAST=["King"], BORN=["18151210"])
    rows = compile_spec(spec()).apply(data).rows
    assert rows.schema.names == ["id", "name", "born", ROW_POSITION, ROW_INDEX]
    assert rows.schema.types == [pa.int32(), pa.string(), pa.date32(), pa.string(), pa.int32()]
    assert rows.column(ROW_POSITION).to_pylist() == ["CUSTMAST rowid=100"]


def test_a_rejected_row_is_reported_per_failing_field_and_counted_once() -> None:
    data = batch(
        ID=["1", "x", "3"],
        FIRST=["Ada", "Augusta Ada", None],
        LAST=["King", "Lovelace", "N/A"],
        BORN=["18151210", "18151310", "N/A"],
    )
    result = compile_spec(spec()).apply(data)
    assert accounted(data, result)
    assert result.rows.column(ROW_INDEX).to_pylist() == [0, 2]
    assert result.rows.column("name").to_pylist() == ["Ada King", None]
    assert [(r.row, r.column, r.rule) for r in result.rejects] == [
        (1, "id", "cast:integer"),
        (1, "name", "cast:string"),
        (1, "born", "parse_date"),
    ]
    by_column = {r.column: r for r in result.rejects}
    assert by_column["id"].position == "CUSTMAST rowid=101"
    assert by_column["id"].raw_value == "x"
    assert by_column["name"].raw_value == "FIRST='Augusta Ada', LAST='Lovelace'"
    assert by_column["born"].message == "'18151310' is not a valid date in the format %Y%m%d"


def test_multi_column_raw_value_shows_nulls() -> None:
    s = spec(
        fields={
            "id": {"from": "ID"},
            "n": {"from": ["A", "B"], "transform": ["concat"], "type": "integer"},
        }
    )
    result = compile_spec(s).apply(batch(ID=["1"], A=["x"], B=[None]))
    assert [r.raw_value for r in result.rejects] == ["A='x', B=NULL"]


def test_only_the_first_error_of_a_field_is_reported() -> None:
    s = spec(
        fields={
            "id": {"from": "ID"},
            "d": {"from": "D", "transform": [{"parse_date": "%Y"}], "required": True},
        }
    )
    result = compile_spec(s).apply(batch(ID=["1"], D=["never"]))
    assert [r.rule for r in result.rejects] == ["parse_date"]


def test_rejects_are_sorted_by_row_then_field() -> None:
    data = batch(ID=["x", "1", "y"], FIRST=["a"] * 3, LAST=["b"] * 3, BORN=["bad", "bad", "1"])
    result = compile_spec(spec()).apply(data)
    assert [(r.row, r.column) for r in result.rejects] == [
        (0, "id"), (0, "born"), (1, "born"), (2, "id"), (2, "born"),
    ]  # fmt: skip


def test_typed_sql_input_with_null_markers_on_numbers() -> None:
    s = spec(
        source={"connection": "x", "table": "T", "null_markers": ["-1"]},
        fields={"id": {"from": "ID", "type": "integer"}, "qty": {"from": "QTY", "type": "integer"}},
    )
    data = batch(ID=pa.array([1, 2], pa.int64()), QTY=pa.array([-1.0, 4.0]))
    result = compile_spec(s).apply(data)
    assert result.rows.column("qty").to_pylist() == [None, 4]


def test_chunked_and_empty_batches() -> None:
    compiled = compile_spec(spec())
    one = batch(ID=["1"], FIRST=["a"], LAST=["b"], BORN=["20000101"])
    chunked = pa.concat_tables([one, one])
    assert compiled.apply(chunked).rows.column(ROW_INDEX).to_pylist() == [0, 1]
    empty = compiled.apply(one.slice(0, 0))
    assert empty.rows.num_rows == 0
    assert empty.rejects == []
    assert empty.filtered == 0
    assert empty.rows.schema.types[0] == pa.int32()


def test_filter_counts_filtered_rows_and_reads_after_null_markers() -> None:
    s = spec(filter="STATUS is not None and STATUS != 'D'")
    data = batch(
        ID=["1", "2", "3", "4"], FIRST=["a"] * 4, LAST=["b"] * 4, BORN=["20000101", "x", "x", "x"],
        STATUS=["A", "D", "N/A", None],
    )  # fmt: skip
    result = compile_spec(s).apply(data)
    assert result.filtered == 3
    assert result.rejects == []
    assert result.rows.column(ROW_INDEX).to_pylist() == [0]
    assert accounted(data, result)


def test_filter_row_errors_reject_the_row_with_the_filter_rule() -> None:
    s = spec(filter="BAL > 0")
    data = batch(
        ID=["1", "2"], FIRST=["a"] * 2, LAST=["b"] * 2, BORN=["20000101"] * 2, BAL=["5", "?"]
    )
    result = compile_spec(s).apply(data)
    (reject,) = result.rejects
    assert (reject.row, reject.column, reject.rule, reject.raw_value) == (1, None, "filter", "?")
    assert reject.message == "filter `BAL > 0` cannot be evaluated: BAL: '?' is not a number"
    assert accounted(data, result)


def test_filter_giving_no_boolean_at_run_time_is_an_error() -> None:
    s = spec(filter="FLAG")
    data = batch(ID=["1"], FIRST=["a"], LAST=["b"], BORN=["20000101"], FLAG=pa.array([1]))
    with pytest.raises(ExpressionError, match="not true/false"):
        compile_spec(s).apply(data)


def test_source_columns_include_the_filter() -> None:
    compiled = compile_spec(spec(filter="STATUS == 'A'"))
    assert compiled.source_columns == frozenset({"ID", "FIRST", "LAST", "BORN", "STATUS"})


def test_missing_columns_fail_the_batch_loudly() -> None:
    compiled = compile_spec(spec())
    with pytest.raises(ValueError, match="reads column\\(s\\) BORN .* Did you mean 'BORNE'"):
        compiled.apply(batch(ID=["1"], FIRST=["a"], LAST=["b"], BORNE=["x"]))
    with pytest.raises(ValueError, match="no __ferryman_position column"):
        compiled.apply(pa.table({"ID": ["1"], "FIRST": ["a"], "LAST": ["b"], "BORN": ["x"]}))


def test_target_schema() -> None:
    s = spec(
        fields={
            "id": {"from": "ID", "type": "integer"},
            "customer": {"from": "C", "type": "bigint", "required": True},
            "code": {"from": "X", "type": "string(3)"},
            "amount": {"from": "A", "type": "decimal(12,2)"},
        },
        foreign_keys=[{"columns": ["customer"], "references": "customers(customer_id)"}],
        target="orders",
    )
    schema = compile_spec(s).target_schema()
    assert schema.name == "orders"
    assert [(c.name, c.type, c.nullable, c.max_length) for c in schema.columns] == [
        ("id", pa.int32(), False, None),
        ("customer", pa.int64(), False, None),
        ("code", pa.string(), True, 3),
        ("amount", pa.decimal128(12, 2), True, None),
    ]
    assert schema.primary_key == ("id",)
    assert schema.foreign_keys == ((("customer",), "customers", ("customer_id",)),)


# --- compile errors ---------------------------------------------------------------------------


def test_every_compile_problem_is_reported_at_once_with_its_path() -> None:
    s = spec(
        fields={
            "id": {"from": "ID", "type": "integer", "default": "abc"},
            "a": {"from": "A", "transform": ["strp"]},
            "b": {"from": ["B1", "B2"], "transform": ["trim"]},
            "c": {"from": ["C1", "C2"]},
            "d": {"from": "D", "transform": ["trim", "concat"]},
            "e": {"from": "E", "transform": [{"substring": 0}]},
        },
        filter="STATUS = 'A'",
    )
    with pytest.raises(CompileError) as err:
        compile_spec(s)
    problems = {p.path: p for p in err.value.problems}
    assert set(problems) == {
        ("fields", "id", "default"),
        ("fields", "a", "transform", 0),
        ("fields", "b", "transform", 0),
        ("fields", "c", "from"),
        ("fields", "d", "transform", 1),
        ("fields", "e", "transform", 0),
        ("filter",),
    }
    assert "'abc' is not an integer" in problems[("fields", "id", "default")].message
    assert "unknown transform function 'strp'" in problems[("fields", "a", "transform", 0)].message
    assert "start with concat or coalesce" in problems[("fields", "b", "transform", 0)].message
    assert "must be the first step" in problems[("fields", "d", "transform", 1)].message
    assert problems[("fields", "e", "transform", 0)].message.startswith("_: Input should be")
    assert problems[("filter",)].offset == 7
    assert str(err.value).splitlines()[0] == "mapping 'customers' cannot be compiled:"
    assert "  fields.a.transform[0]: unknown transform function 'strp'." in str(err.value)


def test_a_filter_that_is_no_condition_is_refused() -> None:
    (problem,) = check_spec(spec(filter="AMOUNT * 2"))
    assert problem.path == ("filter",)
    assert "must be a condition" in problem.message


def test_check_spec_is_empty_for_a_good_spec() -> None:
    assert check_spec(spec()) == []


def test_default_is_cast_once_and_fills_nulls() -> None:
    s = spec(
        fields={"id": {"from": "ID"}, "n": {"from": "N", "type": "decimal(5,2)", "default": 0}}
    )
    result = compile_spec(s).apply(batch(ID=["1", "2"], N=["1.5", None]))
    assert [str(v) for v in result.rows.column("n").to_pylist()] == ["1.50", "0.00"]


@pytest.mark.parametrize("path", SPECS, ids=[f"{p.parents[2].name}-{p.stem}" for p in SPECS])
def test_project_specs_compile(path: Path) -> None:
    from ferryman.mappings.loader import load_spec

    s = load_spec(path)
    compiled = compile_spec(s)
    assert [c.name for c in compiled.target_schema().columns] == list(s.fields)


# --- property: every row is accounted for, whatever the input -------------------------------

TEXT = st.one_of(
    st.none(), st.text(max_size=8), st.sampled_from(["1", "N/A", " 20200229 ", "A", "D"])
)


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(TEXT, TEXT, TEXT, TEXT, TEXT), max_size=12))
def test_every_input_row_is_loaded_filtered_or_rejected(values: list[tuple[Any, ...]]) -> None:
    s = spec(filter="S != 'D'")
    cols = list(zip(*values, strict=True)) if values else [()] * 5
    data = batch(
        **{
            k: pa.array(list(c), pa.string())
            for k, c in zip(["ID", "FIRST", "LAST", "BORN", "S"], cols, strict=True)
        }
    )
    result = compile_spec(s).apply(data)
    assert accounted(data, result)
    rejected = {r.row for r in result.rejects}
    assert not rejected & set(result.rows.column(ROW_INDEX).to_pylist())
    assert result.rows.column("id").null_count == 0
