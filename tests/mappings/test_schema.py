"""The committed JSON Schema is current, and it accepts what the loader accepts."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from ferryman.mappings import schema

GOOD_SPEC: dict[str, Any] = {
    "target": "customers",
    "source": {"connection": "legacy", "table": "CUSTMAST"},
    "key": ["customer_id"],
    "fields": {
        "customer_id": {"from": "CUSTNO", "type": "integer"},
        "name": {
            "from": "CUSTNAME",
            "transform": [
                "trim",
                {"pad": 8},
                {"map": {"values": {"A": "active"}, "default": "unknown"}},
                {"function": "title", "args": {}},
            ],
        },
    },
}


def test_committed_schema_is_current() -> None:
    assert schema.is_current(), "mappings/spec.schema.json is stale: run `make schemas`"


def test_check_fails_on_a_stale_file_and_says_what_to_do(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    stale = tmp_path / "spec.schema.json"
    stale.write_text("{}\n", encoding="utf-8")
    assert schema.main(["--check", "--path", str(stale)]) == 1
    assert "is out of date" in capsys.readouterr().err
    assert schema.main(["--check", "--path", str(tmp_path / "missing.json")]) == 1
    assert "run `make schemas`" in capsys.readouterr().err


def test_write_then_check(tmp_path: Path) -> None:
    target = tmp_path / "spec.schema.json"
    assert schema.main(["--write", "--path", str(target)]) == 0
    assert schema.main(["--check", "--path", str(target)]) == 0
    text = target.read_text(encoding="utf-8")
    assert text.endswith("}\n")
    assert text == schema.render()  # deterministic: twice the same text


def test_schema_has_identity_and_aliases() -> None:
    doc = schema.build_schema()
    assert doc["$id"] == schema.SCHEMA_ID
    assert doc["title"] == "ferryman mapping spec"
    assert "from" in doc["$defs"]["FieldSpec"]["properties"]  # the alias, not `from_`
    assert doc["$defs"]["FieldSpec"]["additionalProperties"] is False


def test_module_docstring_tells_editors_how_to_use_it() -> None:
    assert "# yaml-language-server: $schema=" in (schema.__doc__ or "")


@pytest.fixture(scope="module")
def validator() -> Any:
    jsonschema = pytest.importorskip("jsonschema")
    doc = json.loads(schema.SCHEMA_PATH.read_text(encoding="utf-8"))
    return jsonschema.Draft202012Validator(doc)


def test_schema_accepts_a_good_spec_with_step_shorthands(validator: Any) -> None:
    assert list(validator.iter_errors(GOOD_SPEC)) == []


@pytest.mark.parametrize(
    "change",
    [
        {"trasform": []},  # unknown key
        {"transform": [{"pad": 8, "map": {}}]},  # a step with two functions
        {"transform": [5]},  # a step that is neither a name nor a mapping
        {"required": "maybe"},
    ],
)
def test_schema_rejects_bad_fields(validator: Any, change: dict[str, Any]) -> None:
    spec = json.loads(json.dumps(GOOD_SPEC))
    spec["fields"]["customer_id"].update(change)
    assert list(validator.iter_errors(spec)) != []
