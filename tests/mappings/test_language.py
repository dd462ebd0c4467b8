"""The mapping language beyond single fields: positioned load-time errors for the new
keys, several sources into one target, one source into several targets, lookups through
the provider interface, surrogate keys across runs, indexes and schema diffs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from ferryman.connectors.base import ROW_POSITION, ColumnSchema
from ferryman.mappings.compile import CompileError, check_spec, compile_spec
from ferryman.mappings.loader import check_source_columns, load_spec, load_spec_with_positions
from ferryman.mappings.lookups import InMemoryKeyMap, InMemoryLookups
from ferryman.mappings.model import MappingSpec
from ferryman.mappings.rows import group_by_stream
from ferryman.mappings.tables import schema_diff
from ferryman.yaml_positions import SpecError


def write(tmp_path: Path, text: str, name: str = "spec.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def issues_of(path: Path, **kwargs: Any) -> list[str]:
    with pytest.raises(SpecError) as err:
        load_spec(path, display_path=path.name, **kwargs)
    return [str(i) for i in err.value.issues]


def batch(**columns: list[Any]) -> pa.Table:
    n = len(next(iter(columns.values())))
    return pa.table({**columns, ROW_POSITION: [f"T rowid={i + 1}" for i in range(n)]})


HEAD = """\
target: t
source: {connection: c, table: T}
key: [id]
fields:
  id: {from: ID, type: integer}
"""


# --- positioned errors at load time ---------------------------------------------------------


def test_expression_errors_point_at_the_character(tmp_path: Path) -> None:
    text = HEAD + "  total: {expr: 'QTY * PRICE <> 0', type: float}\n"
    assert issues_of(write(tmp_path, text)) == [
        "spec.yaml:6:30: fields.total.expr: invalid expression: invalid syntax: write != for"
        " 'not equal'"
    ]


def test_a_salt_written_in_the_file_is_refused(tmp_path: Path) -> None:
    text = HEAD + "  mail: {from: M, transform: [{hash: {salt: s3cret}}]}\n"
    (issue,) = issues_of(write(tmp_path, text))
    assert issue.startswith("spec.yaml:6:45: fields.mail.transform[0].hash.salt: the salt must")
    assert "'${VARIABLE}'" in issue


def test_a_missing_pseudonym_key_is_reported_at_load(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("NO_SUCH_KEY_FOR_TEST", raising=False)
    text = HEAD + "  mail: {from: M, transform: [{hash: '${NO_SUCH_KEY_FOR_TEST}'}]}\n"
    assert issues_of(write(tmp_path, text)) == [
        "spec.yaml:6:31: fields.mail.transform[0]: environment variable NO_SUCH_KEY_FOR_TEST"
        " is not set; export it (the pseudonym key) before running ferryman"
    ]
    monkeypatch.setenv("NO_SUCH_KEY_FOR_TEST", "0123456789abcdef0")
    assert load_spec(write(tmp_path, text)).target == "t"


def test_files_are_relative_to_the_project_folder(tmp_path: Path) -> None:
    project = tmp_path / "project"
    (project / "mappings" / "specs").mkdir(parents=True)
    (project / "ferryman.yaml").write_text("name: x\n")
    text = HEAD + "  st: {from: S, transform: [{map: {file: codes/st.csv}}]}\n"
    path = write(project / "mappings" / "specs", text)
    (issue,) = issues_of(path)
    assert issue.startswith("spec.yaml:6:29: fields.st.transform[0]: file 'codes/st.csv'")
    assert "does not exist" in issue
    (project / "codes").mkdir()
    (project / "codes" / "st.csv").write_text("code,label\nA,active\nA,again\n")
    assert "lists the code(s) ['A'] more than once" in issues_of(path)[0]
    (project / "codes" / "st.csv").write_text("code,label\nA,active\n")
    spec = load_spec(path)  # the project folder is found from ferryman.yaml
    data = batch(ID=["1"], S=["A"])
    assert compile_spec(spec).apply(data).rows.column("st").to_pylist() == ["active"]
    other = tmp_path / "elsewhere"
    (other / "codes").mkdir(parents=True)
    (other / "codes" / "st.csv").write_text("code,label\nA,other\n")
    spec = load_spec(path, base_dir=other)
    assert compile_spec(spec).apply(data).rows.column("st").to_pylist() == ["other"]


@pytest.mark.parametrize(
    ("field", "message"),
    [
        (
            "{from: F, type: string, cast: {true_words: [J]}}",
            "cast.true_words applies to type boolean, not string",
        ),
        (
            "{from: F, type: timestamptz, cast: {timezone: Europe/Pari}}",
            "unknown time zone 'Europe/Pari'; use an IANA name like Europe/Paris or UTC."
            " Did you mean 'Europe/Paris'?",
        ),
        (
            "{from: F, type: boolean, cast: {true_words: [Y], false_words: [y]}}",
            "['y'] cannot mean both true and false",
        ),
        ("{surrogate: {from: F}}", "a surrogate key is a number: give it `type: bigint`"),
        ("{from: F, expr: 'F + 1'}", "use only one of `from:` and `expr:`"),
        ("{from: F, type: 'timestamp(3)'}", "timestamp takes no precision"),
    ],
)
def test_field_rules(tmp_path: Path, field: str, message: str) -> None:
    (issue,) = issues_of(write(tmp_path, HEAD + f"  f: {field}\n"))
    assert message in issue


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ("dedup: {key: [nope]}\n", "dedup column 'nope' is not one of the fields"),
        ("dedup: {key: [id], keep: latest}\n", "keep: latest needs `by:`"),
        ("dedup: {key: [id], by: id}\n", "`by:` is only used with keep: latest"),
        ("indexes: [{columns: [nope]}]\n", "index column 'nope' is not one of the fields"),
        (
            "more_sources: [{connection: c, table: U, fields: {id: {from: X, type: bigint}}}]\n",
            "more_sources[0].fields.id has type bigint, the target column is integer",
        ),
        (
            "more_sources: [{connection: c, table: U, fields: {nope: {from: X}}}]\n",
            "more_sources[0].fields.nope is not one of the spec's fields",
        ),
    ],
)
def test_table_rules(tmp_path: Path, extra: str, message: str) -> None:
    issues = issues_of(write(tmp_path, HEAD + extra))
    assert any(message in i for i in issues), issues


def test_lookup_arguments_are_checked(tmp_path: Path) -> None:
    text = HEAD + "  c: {from: C, transform: [{lookup: {table: countries, key: code}}]}\n"
    (issue,) = issues_of(write(tmp_path, text))
    assert "a table lookup needs `key:` and `value:`" in issue
    text = HEAD + "  c: {from: C, transform: [{lookup: {key: a, value: b}}]}\n"
    assert "name exactly one lookup table" in issues_of(write(tmp_path, text))[0]


# --- several sources into one table ---------------------------------------------------------

MULTI = """\
target: customers
source: {connection: legacy, table: CUSTMAST}
key: [customer_id]
filter: STAT != 'D'
fields:
  customer_id: {from: CUSTNO, type: integer}
  name: {from: NAME, transform: [trim], type: string(40)}
  origin: {value: main, type: string(10)}
more_sources:
  - connection: archive
    file: old_customers.csv
    null_markers: ["-"]
    filter: 'True'
    fields:
      customer_id: {from: OLDNO, type: integer}
      origin: {value: archive, type: string(10)}
"""


def test_more_sources_give_one_single_source_spec_per_stream(tmp_path: Path) -> None:
    spec, _ = load_spec_with_positions(write(tmp_path, MULTI))
    first, second = spec.stream_specs()
    assert (first.source.stream, second.source.stream) == ("CUSTMAST", "old_customers.csv")
    assert first.more_sources == []
    assert second.more_sources == []
    assert list(second.fields) == ["customer_id", "name", "origin"]
    assert second.fields["name"] == spec.fields["name"]  # shared
    assert second.source.null_markers == ["-"]
    assert second.filter == "True"
    rows = compile_spec(second).apply(batch(OLDNO=["7", "8"], NAME=[" Ada ", "-"])).rows
    assert rows.select(["customer_id", "name", "origin"]).to_pylist() == [
        {"customer_id": 7, "name": "Ada", "origin": "archive"},
        {"customer_id": 8, "name": None, "origin": "archive"},
    ]
    assert compile_spec(first).target_schema() == compile_spec(second).target_schema()


def test_source_columns_are_checked_per_stream_with_positions(tmp_path: Path) -> None:
    path = write(tmp_path, MULTI)
    spec = load_spec(path)
    assert check_source_columns(spec, ["CUSTNO", "NAME", "STAT"]) == []
    issues = [str(i) for i in check_source_columns(spec, ["OLDNO", "NAM"], source=1)]
    assert issues == [
        f"{path}:7:16: fields.name.from: unknown source column 'NAME' in old_customers.csv."
        " Did you mean 'NAM'?"
    ]
    issues = [str(i) for i in check_source_columns(spec, ["NAME"], source=1)]
    assert issues[0].startswith(f"{path}:15:27: more_sources[0].fields.customer_id.from:")


def test_check_spec_points_into_the_more_source_that_is_wrong() -> None:
    spec = MappingSpec.model_validate(
        {
            "target": "t",
            "source": {"connection": "c", "table": "T"},
            "key": ["id"],
            "fields": {"id": {"from": "ID", "type": "integer"}},
            "more_sources": [
                {
                    "connection": "c",
                    "table": "U",
                    "fields": {"id": {"from": "X", "type": "integer", "default": "x"}},
                }
            ],
        }
    )
    (problem,) = check_spec(spec)
    assert problem.path == ("more_sources", 0, "fields", "id", "default")


# --- one source into several tables ---------------------------------------------------------


def test_splitting_a_flat_record_is_several_specs_on_one_stream() -> None:
    common = {"source": {"connection": "legacy", "table": "FLAT"}}
    customer = MappingSpec.model_validate(
        {**common, "target": "customers", "key": ["id"],
         "fields": {"id": {"from": "NO", "type": "integer"}, "name": {"from": "NAME"}}}
    )  # fmt: skip
    address = MappingSpec.model_validate(
        {**common, "target": "addresses", "key": ["customer_id"], "filter": "STREET is not None",
         "foreign_keys": [{"columns": ["customer_id"], "references": "customers(id)"}],
         "fields": {"customer_id": {"from": "NO", "type": "integer"},
                    "street": {"from": "STREET", "type": "string(5)"}}}
    )  # fmt: skip
    groups = group_by_stream([customer, address])
    assert list(groups) == [("legacy", "FLAT")]
    data = batch(NO=["1", "2", "x"], NAME=["Ada", "Alan", "Bad"], STREET=["Elm", None, "Oak"])
    for spec in groups[("legacy", "FLAT")]:
        result = compile_spec(spec).apply(data)
        # every source row is accounted for in each target table
        assert data.num_rows == result.rows.num_rows + result.filtered + result.rejected_rows
    assert address.dependencies == {"customers"}


# --- lookups and surrogate keys ---------------------------------------------------------------

LOOKUP: dict[str, Any] = {
    "target": "customers",
    "source": {"connection": "legacy", "table": "CUSTMAST"},
    "key": ["id"],
    "fields": {
        "id": {"surrogate": {"from": "CUSTNO"}, "type": "bigint"},
        "country_id": {
            "from": "CNTRY",
            "transform": [{"lookup": {"table": "countries", "key": "iso", "value": "id"}}],
            "type": "integer",
        },
    },
}


def test_a_target_lookup_is_a_dependency_and_is_fetched_once_per_batch() -> None:
    spec = MappingSpec.model_validate(LOOKUP)
    assert spec.dependencies == {"countries"}
    lookups = InMemoryLookups()
    lookups.add("target", "countries", pa.table({"iso": ["FR", "DE"], "id": [1, 2]}))
    compiled = compile_spec(spec, lookups=lookups, keys=InMemoryKeyMap())
    data = batch(CUSTNO=["a", "b", "c", "d"], CNTRY=["FR", "FR", "DE", None])
    rows = compiled.apply(data).rows
    assert rows.column("country_id").to_pylist() == [1, 1, 2, None]
    ((lookup, n_codes),) = lookups.calls
    assert (lookup.kind, lookup.table, n_codes) == ("target", "countries", 2)


def test_without_a_provider_the_error_says_what_the_flow_must_pass() -> None:
    compiled = compile_spec(MappingSpec.model_validate(LOOKUP), keys=InMemoryKeyMap())
    with pytest.raises(RuntimeError, match=r"needs a LookupProvider: compile the spec with"):
        compiled.apply(batch(CUSTNO=["a"], CNTRY=["FR"]))
    spec = MappingSpec.model_validate({**LOOKUP, "fields": {"id": LOOKUP["fields"]["id"]}})
    with pytest.raises(RuntimeError, match=r"customers.id is a surrogate key and needs a KeyMap"):
        compile_spec(spec).apply(batch(CUSTNO=["a"]))


def test_surrogate_keys_are_stable_across_runs() -> None:
    spec = MappingSpec.model_validate({**LOOKUP, "fields": {"id": LOOKUP["fields"]["id"]}})
    store = InMemoryKeyMap()
    first = compile_spec(spec, keys=store).apply(batch(CUSTNO=["x", "y"]))
    rerun = compile_spec(spec, keys=store).apply(batch(CUSTNO=["z", "y", "x"]))
    assert first.rows.column("id").to_pylist() == [1, 2]
    assert rerun.rows.column("id").to_pylist() == [3, 2, 1]
    assert compile_spec(spec, keys=store).target_schema().columns[0].type == pa.int64()


def test_composite_legacy_keys() -> None:
    spec = MappingSpec.model_validate(
        {**LOOKUP, "fields": {"id": {"surrogate": {"from": ["A", "B"]}, "type": "bigint"}}}
    )
    store = InMemoryKeyMap()
    rows = compile_spec(spec, keys=store).apply(batch(A=["1", "1", "1"], B=["2", "3", "2"])).rows
    assert rows.column("id").to_pylist() == [1, 2, 1]
    assert list(store.maps["customers"]) == ["1\x1f2", "1\x1f3"]


# --- schema: indexes and diffs ----------------------------------------------------------------


def test_indexes_get_names() -> None:
    spec = MappingSpec.model_validate(
        {**LOOKUP, "indexes": [{"columns": ["country_id"]}, {"columns": ["id"], "unique": True,
         "name": "by_id"}, {"columns": ["country_id", "id"], "unique": True}]}
    )  # fmt: skip
    names = [(ix.name, ix.unique) for ix in compile_spec(spec).indexes()]
    assert names == [
        ("ix_customers_country_id", False),
        ("by_id", True),
        ("ux_customers_country_id_id", True),
    ]


def test_schema_diff_is_empty_when_the_table_fits() -> None:
    wanted = compile_spec(MappingSpec.model_validate(LOOKUP)).target_schema()
    assert schema_diff(wanted.columns, wanted) == []
    wider = [
        ColumnSchema("id", pa.int64(), nullable=False),
        ColumnSchema("country_id", pa.int64()),
        ColumnSchema("note", pa.string()),
    ]
    assert schema_diff(wider, wanted) == []


def test_schema_diff_says_what_does_not_fit() -> None:
    spec = MappingSpec.model_validate(
        {"target": "t", "source": {"connection": "c", "table": "T"}, "key": ["id"],
         "fields": {"id": {"from": "A", "type": "bigint"},
                    "name": {"from": "B", "type": "string(80)"},
                    "amount": {"from": "C", "type": "decimal(12,2)"},
                    "born": {"from": "D", "type": "date"}, "gone": {"from": "E"}}}
    )  # fmt: skip
    existing = [
        ColumnSchema("id", pa.int32(), nullable=False),
        ColumnSchema("name", pa.string(), nullable=False, max_length=40),
        ColumnSchema("amount", pa.decimal128(10, 2)),
        ColumnSchema("born", pa.string()),
        ColumnSchema("legacy", pa.string(), nullable=False),
    ]
    assert schema_diff(existing, compile_spec(spec).target_schema()) == [
        "t.id: the table has integer, too small for the spec's bigint",
        "t.name: the table has string(40), too short for the spec's string(80)",
        "t.name: NOT NULL in the table, but the spec may leave it NULL (mark the field"
        " required, or give it a default)",
        "t.amount: the table has decimal(10,2), which cannot hold every decimal(12,2) value",
        "t.born: the table has string, the spec makes date",
        "t.gone: missing; the spec makes string (add the column or drop the table)",
        "t.legacy: NOT NULL in the table, but no field of the spec fills it (add a field,"
        " or make the column nullable)",
    ]


def test_compile_errors_of_new_features_are_collected() -> None:
    spec = MappingSpec.model_validate(
        {"target": "t", "source": {"connection": "c", "table": "T"}, "key": ["id"],
         "fields": {"id": {"expr": "A +", "type": "integer"},
                    "b": {"from": "B", "type": "boolean", "default": "maybe",
                          "cast": {"true_words": ["J"]}}}}
    )  # fmt: skip
    with pytest.raises(CompileError) as err:
        compile_spec(spec)
    paths = [p.path for p in err.value.problems]
    assert paths == [("fields", "id", "expr"), ("fields", "b", "default")]
    assert "'maybe' is not a boolean (true: j;" in err.value.problems[1].message
