"""JSON Schema of mapping spec files, for editors: completion, hover help, red squiggles.

The schema ships inside the package (`ferryman/mappings/spec.schema.json`, package data).
`make schemas` (`python -m ferryman.mappings.schema --write`) regenerates it from the
pydantic model; `--check` fails when the committed file is stale (CI and the tests run
it). A project gets its own copy with `ferryman schema` (`mappings/spec.schema.json` in
the project, beside `mappings/specs/`); to use it, put this first line in a spec file
(path relative to the file):

    # yaml-language-server: $schema=../spec.schema.json

VS Code (with the Red Hat YAML extension), Neovim/Helix/Zed (yaml-language-server) and the
JetBrains IDEs all honour it. Or map the schema to `mappings/specs/*.yaml` once in the
editor's settings (VS Code: `"yaml.schemas": {"mappings/spec.schema.json":
"mappings/specs/*.yaml"}`).

The schema says less than the loader checks (function names, their arguments, filter
syntax and source columns are checked by `ferryman check`), but never rejects a valid file.
"""

from __future__ import annotations

import copy
import json
import sys
from importlib import resources
from pathlib import Path
from typing import Any

from ferryman.mappings.generated import write_or_check
from ferryman.mappings.model import MappingSpec

SCHEMA_FILE = "spec.schema.json"
SCHEMA_PATH = Path(__file__).with_name(SCHEMA_FILE)
SCHEMA_LINE = f"# yaml-language-server: $schema=../{SCHEMA_FILE}"
"""The first line of a spec file in `<project>/mappings/specs/` that finds the project's copy."""
SCHEMA_ID = "urn:ferryman:mapping-spec"
TYPE_EXAMPLES = [
    "integer", "bigint", "decimal(12,2)", "float", "boolean",
    "string", "string(80)", "date", "time", "timestamp", "timestamptz", "uuid", "json",
    "binary",
]  # fmt: skip


def build_schema() -> dict[str, Any]:
    """The schema as a dict: pydantic's, plus what pydantic cannot know about YAML shapes."""
    schema = MappingSpec.model_json_schema(by_alias=True)
    defs = schema.get("$defs", {})
    if "Step" in defs:
        defs["Step"] = _step_schema(defs["Step"])
    if "FieldSpec" in defs:
        defs["FieldSpec"]["properties"]["type"]["examples"] = TYPE_EXAMPLES
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": SCHEMA_ID,
        **schema,
        "title": "ferryman mapping spec",
    }


def _step_schema(explicit: dict[str, Any]) -> dict[str, Any]:
    """A step is written `- trim` or `- pad: 8` in YAML (see `Step._from_yaml`); the
    model's own schema only knows the long form `{function: ..., args: ...}`."""
    long_form = copy.deepcopy(explicit)
    long_form.pop("description", None)
    long_form.pop("title", None)
    return {
        "title": "Step",
        "description": explicit.get("description", ""),
        "anyOf": [
            {"type": "string", "description": "A function without arguments, e.g. `trim`."},
            {
                "type": "object",
                "minProperties": 1,
                "maxProperties": 1,
                "description": "`function: arguments`, e.g. `pad: 8` or"
                " `map: {values: {A: active}, default: unknown}`.",
            },
            long_form,
        ],
    }


def render() -> str:
    """The file's exact text: sorted keys (stable diffs), two-space indent, final newline."""
    return json.dumps(build_schema(), indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def packaged() -> str:
    """The schema as installed with ferryman (package data): what `ferryman schema` copies."""
    return (resources.files("ferryman.mappings") / SCHEMA_FILE).read_text(encoding="utf-8")


def is_current(path: Path = SCHEMA_PATH) -> bool:
    return path.is_file() and path.read_text(encoding="utf-8") == render()


def main(argv: list[str] | None = None) -> int:
    return write_or_check(
        argv,
        prog="python -m ferryman.mappings.schema",
        description=__doc__,
        default_path=SCHEMA_PATH,
        render=render,
        source="mappings/model.py",
        fix="`make schemas`",
    )


if __name__ == "__main__":
    sys.exit(main())
