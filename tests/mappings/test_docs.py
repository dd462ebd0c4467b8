"""docs/functions.md is generated from the registry and its examples, and is current."""

from __future__ import annotations

from pathlib import Path

from ferryman.mappings import docs
from ferryman.mappings.functions import BUILTINS


def test_committed_page_is_current() -> None:
    assert docs.is_current(), (
        "docs/functions.md is stale: run `python -m ferryman.mappings.docs --write`"
    )


def test_every_function_has_a_section_with_its_example_output() -> None:
    page = docs.render()
    for fn in BUILTINS:
        assert f"## `{fn.name}`" in page
        assert fn.doc_example.step in page
    assert "| '12 Rue X, 75001 Paris' | '75001' |  |" in page
    assert "'no code' does not match the pattern" in page


def test_check_fails_on_a_stale_page(tmp_path: Path) -> None:
    stale = tmp_path / "functions.md"
    stale.write_text("old\n", encoding="utf-8")
    assert docs.main(["--check", "--path", str(stale)]) == 1
    assert docs.main(["--write", "--path", str(stale)]) == 0
    assert docs.main(["--check", "--path", str(stale)]) == 0
