"""Every import of ferryman's layers goes through the one installed package.

pytest puts the repository root on sys.path (tests/ is a package), so a bare
`import flows` would still work here while failing, or worse importing a user's own
`flows/`, once installed. This test keeps that from creeping back, and checks the layer
order of DESIGN.md: core <- connectors <- mappings <- validations <- flows.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LAYERS = ["connectors", "mappings", "validations", "flows"]
CODE = ["ferryman", *LAYERS, "tests", "bench", "demo"]


def _python_files() -> list[Path]:
    return sorted(p for top in CODE for p in (ROOT / top).rglob("*.py"))


def _imports(path: Path) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            found.append((node.lineno, node.module))
    return found


def test_no_bare_import_of_a_layer() -> None:
    bare = [
        f"{path.relative_to(ROOT)}:{line}: import {name}"
        for path in _python_files()
        for line, name in _imports(path)
        if name.split(".")[0] in LAYERS
    ]
    assert bare == [], "import these as ferryman.<layer>:\n" + "\n".join(bare)


@pytest.mark.parametrize("layer", ["ferryman", *LAYERS])
def test_a_layer_imports_only_the_layers_before_it(layer: str) -> None:
    """`ferryman` here is the core folder: it imports no layer at all."""
    position = LAYERS.index(layer) + 1 if layer in LAYERS else 0
    later = {f"ferryman.{name}" for name in LAYERS[position:]}
    wrong = [
        f"{path.relative_to(ROOT)}:{line}: import {name}"
        for path in sorted((ROOT / layer).rglob("*.py"))
        for line, name in _imports(path)
        if any(name == m or name.startswith(m + ".") for m in later)
    ]
    assert wrong == [], f"{layer} must not import a later layer:\n" + "\n".join(wrong)
