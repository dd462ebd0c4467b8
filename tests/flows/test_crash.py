"""Crash harness: kill a real `ferryman` process with SIGKILL at chosen (and, with
--crash-points, random) moments, resume or re-run the rollback, and compare the target row
by row with an uninterrupted reference run. 0 rows lost, 0 duplicated."""

from __future__ import annotations

import random
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from ferryman.flows.ops.status import runs_overview
from tests.conftest import Database, fresh_db
from tests.flows import harness
from tests.flows.conftest import copy_demo_project
from tests.helpers import cli

pytestmark = pytest.mark.crash

BATCH = ["--batch-size", "150"]
_REFERENCE: dict[str, tuple[dict[str, Any], Counter[tuple[Any, ...]]]] = {}


def _reference(
    backend: str,
    legacy_dir: Path,
    api_url: str,
    project: Path,
    request: pytest.FixtureRequest,
    tmp_path: Path,
) -> tuple[dict[str, Any], Counter[tuple[Any, ...]]]:
    """The target after an uninterrupted run (computed once per engine per session)."""
    if backend not in _REFERENCE:
        with fresh_db(backend, request, tmp_path) as db:
            env = cli.demo_env(legacy_dir, db.url, api_url)
            res = cli.ferryman(["run", "--project", str(project), *BATCH], project, env)
            assert res.returncode == 0, res.stderr[-2000:]
            run_id = harness.only_run_id(db.engine)
            _REFERENCE[backend] = (
                harness.target_state(db.engine),
                harness.quarantine_state(db.engine, run_id),
            )
    return _REFERENCE[backend]


def _assert_same_as_reference(db: Database, reference: tuple[dict[str, Any], Counter[Any]]) -> None:
    state, quarantine = reference
    now = harness.target_state(db.engine)
    for table in harness.DEMO_TABLES:
        got, want = now[table], state[table]
        assert got is not None, f"{table} missing"
        assert want is not None
        lost, doubled = want - got, got - want
        assert not lost, f"{table}: {sum(lost.values())} row(s) lost, e.g. {list(lost)[:2]}"
        assert not doubled, f"{table}: {sum(doubled.values())} extra, e.g. {list(doubled)[:2]}"
    assert harness.quarantine_state(db.engine, harness.only_run_id(db.engine)) == quarantine


POINTS = [
    "before_commit:orders:1",  # a batch written but not committed
    "after_commit:order_lines:2",  # between batches
]


@pytest.mark.parametrize("fault", POINTS)
def test_killed_run_resumes_to_exactly_the_reference(
    any_db: Database,
    fault: str,
    small_legacy: tuple[Path, dict[str, Any]],
    prefect_harness: str,
    request: pytest.FixtureRequest,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    legacy_dir, _ = small_legacy
    project = copy_demo_project(tmp_path / "project")
    reference = _reference(any_db.backend, legacy_dir, prefect_harness, project, request, tmp_path)
    env = cli.demo_env(legacy_dir, any_db.url, prefect_harness, fault=fault)
    crashed = cli.ferryman(["run", "--project", str(project), *BATCH], project, env)
    assert crashed.returncode == -9, crashed.stderr[-2000:]  # killed, not failed
    run_id = harness.only_run_id(any_db.engine)
    for name, value in cli.demo_env(legacy_dir, any_db.url, None).items():
        if name.startswith("DEMO_"):
            monkeypatch.setenv(name, value)
    (overview,) = runs_overview(project)["runs"]  # what `ferryman status` shows
    assert overview["run_id"] == run_id
    assert overview["state"] == "running (process gone: resume or roll back)"
    resumed = cli.ferryman(
        ["resume", run_id, "--project", str(project), "--json"],
        project,
        cli.demo_env(legacy_dir, any_db.url, prefect_harness),
    )
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert "took over the lock" in resumed.stderr
    _assert_same_as_reference(any_db, reference)


def test_killed_rollback_resumes_and_restores_the_start_state(
    any_db: Database,
    small_legacy: tuple[Path, dict[str, Any]],
    prefect_harness: str,
    tmp_path: Path,
) -> None:
    legacy_dir, _ = small_legacy
    project = copy_demo_project(tmp_path / "project")
    env = cli.demo_env(legacy_dir, any_db.url, prefect_harness)
    assert cli.ferryman(["run", "--project", str(project), *BATCH], project, env).returncode == 0
    run_id = harness.only_run_id(any_db.engine)
    crash_env = cli.demo_env(
        legacy_dir, any_db.url, prefect_harness, fault="rollback_before_commit:orders:1"
    )
    crashed = cli.ferryman(["rollback", run_id, "--project", str(project)], project, crash_env)
    assert crashed.returncode == -9, crashed.stderr[-2000:]
    again = cli.ferryman(["rollback", run_id, "--project", str(project), "--json"], project, env)
    assert again.returncode == 0, again.stderr[-3000:]
    assert '"verified": true' in again.stdout
    # the run created the tables: rolled back, they are gone again, as before the run
    assert all(v is None for v in harness.target_state(any_db.engine).values())


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "crash_point" in metafunc.fixturenames:
        metafunc.parametrize("crash_point", range(metafunc.config.getoption("--crash-points")))


def test_random_kill_point(
    crash_point: int,
    small_legacy: tuple[Path, dict[str, Any]],
    prefect_harness: str,
    request: pytest.FixtureRequest,
    tmp_path: Path,
) -> None:
    """`make test-crash`: kill a run (and its resumes) at random moments, then compare."""
    legacy_dir, _ = small_legacy
    project = copy_demo_project(tmp_path / "project")
    rng = random.Random(20261126 + crash_point)
    backend = ("sqlite", "postgres", "mariadb")[crash_point % 3]
    reference = _reference(backend, legacy_dir, prefect_harness, project, request, tmp_path)
    with fresh_db(backend, request, tmp_path) as db:
        env = cli.demo_env(legacy_dir, db.url, prefect_harness)
        proc = cli.start(["run", "--project", str(project), *BATCH], project, env)
        cli.kill_after(proc, rng.uniform(2.0, 9.0))
        for _ in range(3):  # resume, killed again now and then
            if not _has_run(db):
                res = cli.ferryman(["run", "--project", str(project), *BATCH], project, env)
                assert res.returncode == 0, res.stderr[-2000:]
                break
            proc = cli.start(
                ["resume", harness.only_run_id(db.engine), "--project", str(project)], project, env
            )
            if not cli.kill_after(proc, rng.uniform(1.0, 12.0)):
                break
        _finish(db, env, project)
        _assert_same_as_reference(db, reference)


def _has_run(db: Database) -> bool:
    if not sa.inspect(db.engine).has_table("ferryman_runs"):
        return False
    with db.engine.connect() as conn:
        return bool(conn.execute(sa.text("SELECT COUNT(*) FROM ferryman_runs")).scalar())


def _finish(db: Database, env: dict[str, str], project: Path) -> None:
    with db.engine.connect() as conn:
        state = conn.execute(sa.text("SELECT state FROM ferryman_runs")).scalar()
    if state != "succeeded":
        res = cli.ferryman(
            ["resume", harness.only_run_id(db.engine), "--project", str(project)], project, env
        )
        assert res.returncode == 0, res.stderr[-2000:]
