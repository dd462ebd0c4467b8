"""Spec loading: every error positioned at file:line:column, all of a file's errors at once."""

from __future__ import annotations

import sys
import types
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel, Field, ValidationInfo, field_validator

from ferryman.connectors.registry import Registry
from ferryman.mappings.loader import (
    SpecError,
    check_source_columns,
    load_spec,
    load_spec_with_positions,
    load_specs,
    load_yaml_model,
    positions_of,
)
from ferryman.mappings.model import MappingSpec, Step, StrictModel

BAD_SPECS = Path(__file__).parent / "bad_specs"

GOOD = """\
target: customers
source: {connection: legacy, table: CUSTMAST}
key: [customer_id]
fields:
  customer_id: {from: CUSTNO, type: integer, required: true}
  name:
    from: CUSTNAME
    type: string(120)
  full: {from: [FIRST, LAST]}
  country: {value: FR}
"""


def write(tmp_path: Path, text: str, name: str = "spec.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def issues_of(path: Path) -> list[str]:
    with pytest.raises(SpecError) as err:
        load_spec(path, display_path=path.name)
    return str(err.value).splitlines()


# --- the generic loader, on a model of its own ---------------------------------------------


class Server(StrictModel):
    host: str
    port: int = Field(gt=0, lt=65536)


class Config(StrictModel):
    name: str
    servers: list[Server]
    groups: dict[str, Server] = Field(default_factory=dict)
    flavour: str = "plain"

    @field_validator("flavour")
    @classmethod
    def _allowed(cls, v: str, info: ValidationInfo) -> str:
        allowed = (info.context or {}).get("flavours", ["plain"])
        if v not in allowed:
            raise ValueError(f"flavour {v!r} is not enabled here")
        return v


def test_generic_loader_returns_the_model(tmp_path: Path) -> None:
    path = write(tmp_path, "name: n\nservers:\n  - {host: a, port: 1}\nflavour: x\n")
    config = load_yaml_model(path, Config, context={"flavours": ["x"]})
    assert config.servers == [Server(host="a", port=1)]
    assert config.flavour == "x"


def test_generic_loader_positions_every_error_kind(tmp_path: Path) -> None:
    text = """\
name: [n]
servers:
  - {host: a, prot: 1}
  - host: b
    port: 70000
groups:
  g1: {hots: c, port: x}
flavour: spicy
"""
    with pytest.raises(SpecError) as err:
        load_yaml_model(write(tmp_path, text), Config, display_path="conf.yaml")
    assert str(err.value).splitlines() == [
        "conf.yaml:1:7: name: expected text, got a list",
        "conf.yaml:3:5: servers[0]: missing required key 'port'",
        "conf.yaml:3:15: servers[0].prot: unknown key 'prot'. Did you mean 'port'?",
        "conf.yaml:5:11: servers[1].port: must be less than 65536, got 70000",
        "conf.yaml:7:3: groups.g1: missing required key 'host'",
        "conf.yaml:7:8: groups.g1.hots: unknown key 'hots'. Did you mean 'host'?",
        "conf.yaml:7:23: groups.g1.port: expected a whole number, got 'x'",
        "conf.yaml:8:10: flavour: flavour 'spicy' is not enabled here",
    ]


class Optional_(StrictModel):
    level: int = 1


def test_empty_file_is_valid_when_every_key_has_a_default(tmp_path: Path) -> None:
    assert load_yaml_model(write(tmp_path, "# nothing\n"), Optional_) == Optional_()
    with pytest.raises(SpecError, match="the file is empty; expected a mapping with the keys"):
        load_yaml_model(write(tmp_path, ""), Config)


def test_generic_loader_lists_known_keys_when_nothing_is_close(tmp_path: Path) -> None:
    path = write(tmp_path, "name: n\nservers: []\nzzz: 1\n")
    with pytest.raises(SpecError) as err:
        load_yaml_model(path, Config, display_path="c.yaml")
    assert (
        str(err.value)
        == "c.yaml:3:1: zzz: unknown key 'zzz'. Known: flavour, groups, name, servers."
    )


def test_generic_loader_reports_duplicates_with_validation_errors(tmp_path: Path) -> None:
    path = write(tmp_path, "name: a\nname: b\nservers: 3\n")
    with pytest.raises(SpecError) as err:
        load_yaml_model(path, Config, display_path="c.yaml")
    assert str(err.value).splitlines() == [
        "c.yaml:2:1: name: duplicate key 'name' (first defined at line 1, column 1);"
        " keep only one of them",
        "c.yaml:3:10: servers: expected a list, got 3",
    ]


# --- mapping specs ---------------------------------------------------------------------------


def test_good_spec_loads(tmp_path: Path) -> None:
    spec = load_spec(write(tmp_path, GOOD))
    assert spec.target == "customers"
    assert list(spec.fields) == ["customer_id", "name", "full", "country"]
    assert spec.fields["full"].source_columns == ["FIRST", "LAST"]
    assert str(spec.fields["name"].type_spec) == "string(120)"


BAD = {
    "unknown_keys.yaml": [
        "unknown_keys.yaml:5:3: source.tabel: unknown key 'tabel'. Did you mean 'table'?",
        "unknown_keys.yaml:7:7: mode: expected one of insert, upsert, replace, got 'upsrt'."
        " Did you mean 'upsert'?",
        "unknown_keys.yaml:12:5: fields.email.trasform: unknown key 'trasform'."
        " Did you mean 'transform'?",
        "unknown_keys.yaml:13:13: batch_size: must be greater than 0, got 0",
    ],
    "wrong_types.yaml": [
        "wrong_types.yaml:2:1: source: missing required key 'connection'",
        "wrong_types.yaml:3:6: key: expected a list, got 'customer_id'",
        "wrong_types.yaml:6:12: fields.customer_id.from[0]: expected text, got 1",
        "wrong_types.yaml:7:15: fields.customer_id.required: expected true or false, got 'maybe'",
        "wrong_types.yaml:8:3: fields.name: give the field a source: `from: COLUMN`, a"
        " constant `value:`, a computed `expr:` or a `surrogate:` key",
        "wrong_types.yaml:9:18: fields.since.value: expected text, a number or a boolean"
        " (true/false), got the date 2024-01-01 (quote it to keep it as text)",
        "wrong_types.yaml:10:3: fields.5: expected text as the key, got 5",
    ],
    "model_rules.yaml": [
        "model_rules.yaml:1:9: target: '9lives' is not a valid name: use letters, digits and"
        " underscores, not starting with a digit",
        "model_rules.yaml:2:1: source: name exactly one stream: `table:` (SQL) or `file:` (files)",
        "model_rules.yaml:5:3: fields.id: use only one of `from:` and `value:`: each gives the"
        " field its value",
        "model_rules.yaml:8:17: foreign_keys[0].references: 'customers' does not have the"
        " expected form. Parent table and columns, e.g. `customers(customer_id)`.",
    ],
    "duplicate_keys.yaml": [
        "duplicate_keys.yaml:7:3: fields.email: duplicate key 'email' (first defined at line 6,"
        " column 3); keep only one of them",
        "duplicate_keys.yaml:7:29: fields.email.type: unknown type 'strng'; use one of integer,"
        " bigint, decimal, float, boolean, string, date, time, timestamp, timestamptz, uuid,"
        " json, binary (with string(N) or decimal(P,S))",
        "duplicate_keys.yaml:8:1: target: duplicate key 'target' (first defined at line 1,"
        " column 1); keep only one of them",
    ],
    "tab_indent.yaml": [
        "tab_indent.yaml:3:1: YAML syntax error: a tab character; YAML indents with spaces"
        " only: replace the tab with spaces",
    ],
    "unclosed_list.yaml": [
        "unclosed_list.yaml:3:7: YAML syntax error: expected ',' or ']', but got ':'"
        " (while parsing a flow sequence that starts at line 2, column 6)",
    ],
    "empty.yaml": [
        "empty.yaml:1:1: the file is empty; expected a mapping with the keys target, source,"
        " key, fields",
    ],
}


@pytest.mark.parametrize("name", sorted(BAD))
def test_bad_spec_issues_are_positioned(name: str) -> None:
    assert issues_of(BAD_SPECS / name) == BAD[name]


def test_every_fixture_is_checked() -> None:
    assert sorted(p.name for p in BAD_SPECS.glob("*.yaml")) == sorted(BAD)


def test_model_rule_across_fields_points_at_the_file(tmp_path: Path) -> None:
    path = write(tmp_path, GOOD.replace("key: [customer_id]", "key: [id]"), "k.yaml")
    assert issues_of(path) == ["k.yaml:1:1: key column 'id' is not one of the fields"]


def test_a_list_instead_of_a_mapping(tmp_path: Path) -> None:
    assert issues_of(write(tmp_path, "- a\n", "l.yaml")) == [
        "l.yaml:1:1: expected a mapping (key: value), got a list"
    ]


def test_step_of_the_wrong_shape(tmp_path: Path) -> None:
    text = GOOD.replace("type: string(120)", "transform: [5, {a: 1, b: 2}]")
    assert issues_of(write(tmp_path, text, "s.yaml")) == [
        "s.yaml:8:17: fields.name.transform[0]: expected a function name (`- trim`) or a"
        " one-key mapping (`- pad: 8`), got 5",
        "s.yaml:8:20: fields.name.transform[1]: a step is a function name (`- trim`) or a"
        " one-key mapping (`- map: {values: {...}}`)",
    ]


def test_env_placeholders_do_not_break_loading(tmp_path: Path) -> None:
    # block style: in a flow mapping (`{...}`) a `${...}` must be quoted, as in any YAML
    text = GOOD.replace(
        "source: {connection: legacy, table: CUSTMAST}",
        "source:\n  connection: ${LEGACY:-legacy}\n  table: CUSTMAST",
    )
    assert load_spec(write(tmp_path, text)).source.connection == "${LEGACY:-legacy}"


# --- transform functions (a stand-in registry; the real one is tested further down) -------


class PadArgs(StrictModel):
    width: int = Field(gt=0)
    fill: str = " "


class MapArgs(StrictModel):
    values: dict[str, Any]
    default: Any = None


@dataclass(frozen=True)
class FakeFunction:
    args_model: type[BaseModel] | None


@pytest.fixture
def fake_functions(monkeypatch: pytest.MonkeyPatch) -> None:
    registry: Registry[FakeFunction] = Registry("transform function")
    registry.register("trim", FakeFunction(None))
    registry.register("strip", FakeFunction(None))
    registry.register("pad", FakeFunction(PadArgs))
    registry.register("map", FakeFunction(MapArgs))

    def parse_args(step: Step) -> BaseModel | None:
        model = registry.get(step.function).args_model
        args = dict(step.args)
        if model is None:
            if args:
                raise ValueError(f"{step.function} takes no arguments")
            return None
        if "_" in args:
            args[next(iter(model.model_fields))] = args.pop("_")
        return model.model_validate(args)

    module = types.ModuleType("ferryman.mappings.functions")
    module.FUNCTIONS = registry  # type: ignore[attr-defined]
    module.parse_args = parse_args  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "ferryman.mappings.functions", module)


FUNCTION_SPEC = """\
target: t
source: {connection: c, table: T}
key: [a]
fields:
  a:
    from: A
    transform:
      - strp
      - pad: -1
      - map: {valuez: {X: y}}
      - {function: pad, args: {width: 2, fil: 0}}
      - trim: {x: 1}
"""


@pytest.mark.usefixtures("fake_functions")
def test_unknown_function_and_bad_arguments_are_positioned(tmp_path: Path) -> None:
    assert issues_of(write(tmp_path, FUNCTION_SPEC, "f.yaml")) == [
        "f.yaml:8:9: fields.a.transform[0]: unknown transform function 'strp'."
        " Did you mean 'strip'?",
        "f.yaml:9:14: fields.a.transform[1].pad: must be greater than 0, got -1",
        "f.yaml:10:9: fields.a.transform[2].map: missing required argument 'values' of map",
        "f.yaml:10:15: fields.a.transform[2].map.valuez: unknown argument 'valuez' of map."
        " Did you mean 'values'?",
        "f.yaml:11:42: fields.a.transform[3].args.fil: unknown argument 'fil' of pad."
        " Did you mean 'fill'?",
        "f.yaml:12:9: fields.a.transform[4]: trim takes no arguments",
    ]


@pytest.mark.usefixtures("fake_functions")
def test_steps_are_checked_even_when_the_model_fails(tmp_path: Path) -> None:
    text = FUNCTION_SPEC.replace("key: [a]", "key: a").replace("      - pad: -1\n", "")
    lines = issues_of(write(tmp_path, text, "f.yaml"))
    assert lines[0] == "f.yaml:3:6: key: expected a list, got 'a'"
    assert lines[1].startswith("f.yaml:8:9: fields.a.transform[0]: unknown transform function")


def test_real_functions_registry(tmp_path: Path) -> None:
    functions = pytest.importorskip("ferryman.mappings.functions", reason="not written yet")
    if not hasattr(functions, "FUNCTIONS"):  # the package exists, its __init__ not yet
        pytest.skip("ferryman.mappings.functions has no FUNCTIONS registry yet")
    text = GOOD.replace("type: string(120)", "transform: [mapp, {map: {valuez: {A: a}}}]")
    lines = issues_of(write(tmp_path, text, "f.yaml"))
    assert lines[0].startswith("f.yaml:8:17: fields.name.transform[0]: unknown ")
    assert lines[0].endswith("'mapp'. Did you mean 'map'?")
    assert any(
        line.startswith("f.yaml:8:30: fields.name.transform[1].map.valuez: unknown argument")
        for line in lines
    ), lines


# --- the filter expression ----------------------------------------------------------------


class FakeExpressionError(Exception):
    def __init__(self, message: str, offset: int) -> None:
        super().__init__(message)
        self.message, self.offset = message, offset


@dataclass(frozen=True)
class FakeExpression:
    columns: list[str]


def _fake_parse(text: str) -> FakeExpression:
    if "??" in text:
        raise FakeExpressionError("unexpected '??'", text.index("??"))
    return FakeExpression([w for w in text.split() if w.isupper() and w.isidentifier()])


@pytest.fixture
def fake_expressions(monkeypatch: pytest.MonkeyPatch) -> None:
    module = types.ModuleType("ferryman.mappings.expressions")
    module.parse_expression = _fake_parse  # type: ignore[attr-defined]
    module.ExpressionError = FakeExpressionError  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "ferryman.mappings.expressions", module)


@pytest.mark.usefixtures("fake_expressions")
@pytest.mark.parametrize(
    ("filter_line", "column"),
    [
        ("filter: STATUS ?? 1", 16),  # plain scalar: start + offset
        ('filter: "STATUS ?? 1"', 17),  # quoted: one more for the quote
        ("filter: >-\n  STATUS ?? 1", 9),  # block scalar: where the scalar starts
    ],
)
def test_filter_error_is_positioned(tmp_path: Path, filter_line: str, column: int) -> None:
    path = write(tmp_path, GOOD + filter_line + "\n", "x.yaml")
    assert issues_of(path) == [
        f"x.yaml:11:{column}: filter: invalid filter expression: unexpected '??'"
    ]


def test_real_filter_expression_error(tmp_path: Path) -> None:
    expressions = pytest.importorskip(
        "ferryman.mappings.expressions", reason="ferryman.mappings.expressions not written yet"
    )
    text = "STATUS == 'A' and and ("
    with pytest.raises(expressions.ExpressionError) as err:
        expressions.parse_expression(text)
    path = write(tmp_path, GOOD + f"filter: {text}\n", "x.yaml")
    expected = f"x.yaml:11:{9 + err.value.offset}: filter: invalid filter expression:"
    assert issues_of(path) == [f"{expected} {err.value.message}"]


# --- source columns -------------------------------------------------------------------------


COLUMNS = ["CUSTNO", "CUSTNAME", "FIRST", "LAST", "STATUS"]


def test_source_columns_all_known(tmp_path: Path) -> None:
    spec = load_spec(write(tmp_path, GOOD))
    assert check_source_columns(spec, COLUMNS, "s.yaml") == []


def test_unknown_source_columns_did_you_mean(tmp_path: Path) -> None:
    text = GOOD.replace("CUSTNO,", "CUSTNOO,").replace("[FIRST, LAST]", "[FIRST, last]")
    spec = load_spec(write(tmp_path, text))
    assert [str(i) for i in check_source_columns(spec, COLUMNS, "s.yaml")] == [
        "s.yaml:5:23: fields.customer_id.from: unknown source column 'CUSTNOO' in CUSTMAST."
        " Did you mean 'CUSTNO'?",
        "s.yaml:9:24: fields.full.from[1]: unknown source column 'last' in CUSTMAST."
        " Did you mean 'LAST'? (column names are case-sensitive)",
    ]


@pytest.mark.usefixtures("fake_expressions")
def test_unknown_filter_column_points_into_the_expression(tmp_path: Path) -> None:
    spec = load_spec(write(tmp_path, GOOD + "filter: STATUS != 1 and REGOIN == 2\n"))
    assert [str(i) for i in check_source_columns(spec, COLUMNS + ["REGION"], "s.yaml")] == [
        "s.yaml:11:25: filter: unknown source column 'REGOIN' in CUSTMAST. Did you mean 'REGION'?",
    ]


def test_positions_are_remembered_or_passed(tmp_path: Path) -> None:
    path = write(tmp_path, GOOD.replace("CUSTNO,", "X,"))
    spec, positions = load_spec_with_positions(path, display_path="s.yaml")
    assert positions_of(spec) == (positions, "s.yaml")
    (issue,) = check_source_columns(spec, COLUMNS)  # display path and positions remembered
    assert (issue.file, issue.line, issue.column) == ("s.yaml", 5, 23)
    copy = MappingSpec.model_validate(spec.model_dump(by_alias=True))
    assert positions_of(copy) is None
    (issue,) = check_source_columns(copy, COLUMNS, "c.yaml")  # built in code: no positions
    assert (issue.file, issue.line, issue.column) == ("c.yaml", 1, 1)
    (issue,) = check_source_columns(copy, COLUMNS, "c.yaml", positions)
    assert (issue.line, issue.column) == (5, 23)


# --- a folder of specs ----------------------------------------------------------------------


def test_load_specs_reads_yaml_files_in_name_order(tmp_path: Path) -> None:
    specs = tmp_path / "specs"
    specs.mkdir()
    write(specs, GOOD.replace("customers", "b_table"), "b.yml")
    write(specs, GOOD.replace("customers", "a_table"), "a.yaml")
    write(specs, "not: a spec", "notes.txt")
    assert [s.target for s in load_specs(specs)] == ["a_table", "b_table"]


def test_load_specs_collects_issues_of_all_files(tmp_path: Path) -> None:
    specs = tmp_path / "specs"
    specs.mkdir()
    write(specs, GOOD, "a.yaml")
    write(specs, GOOD, "b.yaml")
    write(specs, GOOD.replace("key: [customer_id]", "key: []"), "c.yaml")
    write(specs, "target: [\n", "d.yaml")
    with pytest.raises(SpecError) as err:
        load_specs(specs, root=tmp_path)
    assert str(err.value).splitlines() == [
        "specs/b.yaml:1:9: target: target table 'customers' is already loaded by"
        " specs/a.yaml:1:9; one spec per target table: merge the two files or rename one target",
        "specs/c.yaml:3:6: key: needs at least 1 item, got 0",
        "specs/d.yaml:2:1: YAML syntax error: expected the node content, but found"
        " '<stream end>' (while parsing a flow node that starts at line 2, column 1)",
    ]
