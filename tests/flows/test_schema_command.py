"""`ferryman schema`: the packaged JSON Schema, copied where a project's specs find it; the
examples carry current copies and every one of their specs points at it."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from ferryman.flows.cli.app import app
from ferryman.mappings import schema

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = sorted(p for p in (ROOT / "examples").iterdir() if (p / "ferryman.yaml").is_file())
SPEC = f"""{schema.SCHEMA_LINE}
target: people
source: {{connection: legacy, file: PEOPLE.CSV}}
key: [id]
fields:
  id: {{from: ID, type: integer}}
"""


def _project(root: Path, specs: str = "mappings/specs") -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "ferryman.yaml").write_text(
        "name: p\nconnections:\n  legacy: {kind: csv, path: legacy}\n"
        "  target: {kind: sql, url: 'sqlite:///t.db'}\n"
        + (f"specs: {specs}\n" if specs != "mappings/specs" else ""),
        encoding="utf-8",
    )
    (root / specs).mkdir(parents=True)
    (root / specs / "people.yaml").write_text(SPEC, encoding="utf-8")
    return root


def _run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, ["schema", *args])
    return result.exit_code, result.stdout, result.stderr


def test_the_packaged_schema_is_the_current_one() -> None:
    assert schema.packaged() == schema.render(), "run `make schemas`"


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda p: p.name)
def test_examples_carry_a_current_copy_that_every_spec_points_at(example: Path) -> None:
    copy = example / "mappings" / schema.SCHEMA_FILE
    assert copy.read_text(encoding="utf-8") == schema.packaged(), "run `make schemas`"
    specs = sorted((example / "mappings" / "specs").glob("*.yaml"))
    assert specs
    for spec in specs:
        first = spec.read_text(encoding="utf-8").splitlines()[0]
        assert first == schema.SCHEMA_LINE, spec
    assert _run("--project", str(example), "--check")[0] == 0


def test_writes_the_copy_beside_the_specs_then_checks_it(tmp_path: Path) -> None:
    project = _project(tmp_path / "p")
    code, out, err = _run("--project", str(project))
    assert code == 0, err
    copy = project / "mappings" / "spec.schema.json"
    assert copy.read_text(encoding="utf-8") == schema.packaged()
    assert "wrote" in out
    assert err == ""  # the spec points at it: no hint
    code, out, _ = _run("--project", str(project), "--check")
    assert code == 0
    assert "is current" in out


def test_check_fails_on_a_stale_or_missing_copy_and_says_what_to_run(tmp_path: Path) -> None:
    project = _project(tmp_path / "p")
    code, _, err = _run("--project", str(project), "--check")
    assert code == 1
    assert "mappings/spec.schema.json is missing" in err
    assert f"run `ferryman schema --project {project}`" in err
    assert not (project / "mappings" / "spec.schema.json").exists()  # --check writes nothing
    (project / "mappings" / "spec.schema.json").write_text("{}\n", encoding="utf-8")
    code, _, err = _run("--project", str(project), "--check")
    assert code == 1
    assert "is out of date" in err


def test_follows_a_specs_folder_moved_in_ferryman_yaml(tmp_path: Path) -> None:
    project = _project(tmp_path / "p", specs="tables")
    assert _run("--project", str(project))[0] == 0
    assert (project / "spec.schema.json").is_file()  # ../spec.schema.json from tables/


def test_names_the_specs_that_do_not_point_at_it(tmp_path: Path) -> None:
    project = _project(tmp_path / "p")
    stray = project / "mappings" / "specs" / "other.yaml"
    stray.write_text(SPEC.replace(schema.SCHEMA_LINE, "# no schema line"), encoding="utf-8")
    code, _, err = _run("--project", str(project))
    assert code == 0
    assert "1 spec file(s) do not point at it:" in err
    assert "other.yaml" in err
    assert "people.yaml" not in err
    assert schema.SCHEMA_LINE in err


def test_no_project_is_one_line_and_writes_nothing(tmp_path: Path) -> None:
    code, _, err = _run("--project", str(tmp_path))
    assert code == 2
    assert err.splitlines() == [
        f"no ferryman.yaml in {tmp_path.resolve()}: run ferryman in the project folder,"
        " or pass --project DIR",
        "Nothing was written.",
    ]
    assert list(tmp_path.iterdir()) == []
