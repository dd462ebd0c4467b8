from __future__ import annotations

import subprocess
import sys

import pytest
from pydantic import BaseModel

from ferryman.connectors.base import Source, Target
from ferryman.connectors.csv.options import CsvOptions
from ferryman.connectors.csv.source import CsvSource
from ferryman.connectors.kinds import BUILTINS, CONNECTORS, ConnectorKind, make_registry, resolve
from ferryman.connectors.registry import Registry, RegistryError
from ferryman.secrets import mask_text, mask_url
from ferryman.suggest import did_you_mean


def test_builtin_kinds_are_registered() -> None:
    assert {"sql", "csv"} <= set(CONNECTORS.names())


def test_unknown_kind_suggests_the_closest() -> None:
    with pytest.raises(
        RegistryError, match=r"unknown connector kind 'sqll'\. Did you mean 'sql'\?"
    ):
        CONNECTORS.get("sqll")


def test_unknown_kind_without_close_match_lists_known() -> None:
    known = ", ".join(make_registry().names())
    with pytest.raises(RegistryError) as info:
        make_registry().get("zzzzzz")
    assert str(info.value).endswith(f"Known: {known}.")
    assert "csv" in known
    assert "sql" in known


def test_duplicate_name_raises_instead_of_overwriting() -> None:
    reg: Registry[int] = Registry("thing")
    reg.register("a", 1)
    with pytest.raises(RegistryError, match="registered twice"):
        reg.register("a", 2)
    assert reg.get("a") == 1


def test_entry_points_are_loaded_after_builtins(monkeypatch: pytest.MonkeyPatch) -> None:
    class FakeEntryPoint:
        name = "fake"

        @staticmethod
        def load() -> ConnectorKind:
            return CONNECTORS.get("csv")

    monkeypatch.setattr(
        "ferryman.connectors.registry.entry_points", lambda group: [FakeEntryPoint()]
    )
    reg = make_registry()
    assert reg.get("fake").name == "csv"


@pytest.mark.parametrize("name", sorted(BUILTINS))
def test_every_builtin_names_classes_that_exist(name: str) -> None:
    kind = CONNECTORS.get(name)
    assert issubclass(kind.options_model(), BaseModel)
    assert kind.source is not None
    assert issubclass(resolve(kind.source), Source)
    assert kind.target is None or issubclass(resolve(kind.target), Target)
    assert kind.description


def test_importing_the_connectors_loads_no_connector_module() -> None:
    """Kinds name their classes; nothing (no driver) is imported until one is built."""
    code = (
        "import sys, ferryman.connectors as c; c.CONNECTORS.names();"
        " print(sorted(m for m in sys.modules if m.startswith('ferryman.connectors.')"
        " and m.count('.') > 2))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_a_plugin_kind_may_give_functions_instead_of_names() -> None:
    kind = ConnectorKind("mine", lambda: CsvOptions, lambda: CsvSource)
    assert kind.options_model() is CsvOptions
    assert isinstance(kind.build_source("files", {"path": "."}), CsvSource)
    with pytest.raises(ValueError, match="kind 'mine' cannot be written to"):
        kind.build_target("out", {"path": "."})


def test_did_you_mean_is_empty_for_nothing_close() -> None:
    assert did_you_mean("x", [f"name{i}" for i in range(50)]) == ""


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("postgresql://bob:s3cret@db:5432/x", "postgresql://bob:***@db:5432/x"),
        ("mysql+pymysql://root:@h/x", "mysql+pymysql://root:***@h/x"),
        (
            "postgresql://h/x?password=abc&sslmode=require",
            "postgresql://h/x?password=***&sslmode=require",
        ),
        ("sqlite:///tmp/x.db", "sqlite:///tmp/x.db"),
    ],
)
def test_mask_url(url: str, expected: str) -> None:
    assert mask_url(url) == expected


def test_mask_text_hides_known_secrets() -> None:
    assert "hunter2" not in mask_text("login failed for hunter2", ["hunter2"])
