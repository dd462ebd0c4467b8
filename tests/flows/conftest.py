"""Fixtures for flow tests: a Prefect test harness, generated legacy data, and a copy of the
demo project pointed at a test database."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from demo.generate import generate
from tests.conftest import Database

ROOT = Path(__file__).resolve().parents[2]
DEMO_PROJECT = ROOT / "examples" / "crm"


@pytest.fixture(scope="session")
def prefect_harness() -> Iterator[str]:
    """One temporary Prefect API for the whole session (starting one costs seconds); yields
    its URL, which child processes use instead of starting their own."""
    from prefect.settings import PREFECT_API_URL
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=120):
        yield str(PREFECT_API_URL.value())


@pytest.fixture(scope="session")
def legacy(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    """A small legacy CRM (400 customers), generated once per session."""
    import json

    out = tmp_path_factory.mktemp("legacy")
    generate(out, customers=400, seed=11)
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    return out, manifest


@pytest.fixture(scope="session")
def small_legacy(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    """A smaller legacy CRM (120 customers) for tests that run many processes."""
    import json

    out = tmp_path_factory.mktemp("small_legacy")
    generate(out, customers=120, seed=5)
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    return out, manifest


def copy_demo_project(dest: Path) -> Path:
    """The demo project (ferryman.yaml, specs, suites) copied to `dest`."""
    shutil.copytree(DEMO_PROJECT, dest, ignore=shutil.ignore_patterns(".demo"), dirs_exist_ok=True)
    return dest


@pytest.fixture
def demo_project(
    tmp_path: Path, legacy: tuple[Path, dict[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> Path:
    """The demo project reading the session's legacy data; the target is set per test."""
    legacy_dir, _ = legacy
    project = copy_demo_project(tmp_path / "project")
    monkeypatch.setenv("DEMO_LEGACY_URL", f"sqlite:///{legacy_dir / 'crm.db'}")
    monkeypatch.setenv("DEMO_EXPORTS", str(legacy_dir / "exports"))
    return project


def point_at(monkeypatch: pytest.MonkeyPatch, db: Database) -> None:
    monkeypatch.setenv("DEMO_TARGET_URL", db.url)
