"""prefect.yaml names real flows of the installed package with parameters they accept; its
pull step finds the project folder; a run without a project says so in one line.

The real thing (a Prefect server, `prefect deploy`, a worker, a run into PostgreSQL) is
tests/flows/test_prefect_server.py."""

from __future__ import annotations

import importlib
import inspect
import logging
import os
import re
from pathlib import Path
from typing import Any

import pytest
import yaml  # PyYAML comes with Prefect
from prefect import Flow

from ferryman.flows import prefect_flows
from ferryman.flows.project import folder
from ferryman.flows.project.config import ProjectNotFound, load_project
from tests.helpers.cli import ferryman

ROOT = Path(__file__).resolve().parents[2]
DOC: dict[str, Any] = yaml.safe_load((ROOT / "prefect.yaml").read_text(encoding="utf-8"))


def _import(dotted: str, sep: str) -> Any:
    module, name = dotted.rsplit(sep, 1)
    return getattr(importlib.import_module(module), name)


@pytest.mark.parametrize("dep", DOC["deployments"], ids=lambda d: d["name"])
def test_every_deployment_points_at_a_flow_with_its_parameters(dep: dict[str, Any]) -> None:
    entrypoint = dep["entrypoint"]
    # A module of the installed package, not a file of this repository: a worker needs
    # ferryman installed, and a project's own flows/ folder cannot shadow it. Every flow
    # lives in ferryman.flows.prefect_flows.
    assert re.fullmatch(r"ferryman\.flows\.prefect_flows:\w+", entrypoint), entrypoint
    flow = _import(entrypoint, ":")
    assert isinstance(flow, Flow), dep["name"]
    accepted = set(inspect.signature(flow.fn).parameters)
    assert set(dep.get("parameters", {})) <= accepted, dep["name"]
    assert dep["work_pool"]["name"] == "ferryman"


def test_the_flows_that_matter_are_deployed() -> None:
    names = {dep["name"] for dep in DOC["deployments"]}
    assert {"migrate", "resume", "dry-run", "rollback", "replay"} <= names


def test_the_pull_step_is_ferrymans_and_needs_no_variable() -> None:
    """The old pull step required an undocumented $FERRYMAN_PROJECT_DIR; now it is an
    optional override and the default is the folder the worker was started in."""
    (step,) = DOC["pull"]
    (name, args) = next(iter(step.items()))
    assert _import(name, ".") is folder.enter_project
    assert not args  # no `{{ $VAR }}` that must be set
    assert "FERRYMAN_PROJECT_DIR" in (ROOT / "prefect.yaml").read_text(encoding="utf-8")


def test_pull_step_enters_the_folder_the_worker_was_started_in(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    project, elsewhere = tmp_path / "project", tmp_path / "flow-run-tmp"
    project.mkdir()
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)  # a process worker starts each run in a temporary folder
    monkeypatch.delenv(folder.PROJECT_DIR_VAR, raising=False)
    monkeypatch.setenv("PWD", str(project))  # what the worker's shell recorded
    assert folder.enter_project() == {"directory": str(project.resolve())}
    assert Path.cwd() == project.resolve()


def test_pull_step_prefers_ferryman_project_dir(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    project, started_in = tmp_path / "project", tmp_path / "home"
    project.mkdir()
    started_in.mkdir()
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PWD", str(started_in))
    monkeypatch.setenv(folder.PROJECT_DIR_VAR, str(project))
    assert folder.enter_project() == {"directory": str(project.resolve())}
    assert folder.enter_project(str(started_in)) == {"directory": str(started_in.resolve())}


def test_pull_step_leaves_a_missing_folder_for_the_flow_to_report(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv(folder.PROJECT_DIR_VAR, str(tmp_path / "typo"))
    assert folder.enter_project() == {"directory": str(tmp_path.resolve())}


def test_no_project_on_the_command_line_is_one_line(tmp_path: Path) -> None:
    proc = ferryman(["check"], env=dict(os.environ), cwd=tmp_path)
    assert proc.returncode == 2, proc.stderr
    first, *rest = proc.stderr.strip().splitlines()
    assert first == (
        f"no ferryman.yaml in {tmp_path.resolve()}: run ferryman in the project folder,"
        " or pass --project DIR"
    )
    assert rest == ["1 problem found; nothing was touched."]
    assert "Traceback" not in proc.stderr


def test_a_project_folder_that_does_not_exist(tmp_path: Path) -> None:
    with pytest.raises(ProjectNotFound, match=r"project folder .*/nowhere does not exist: run"):
        load_project(tmp_path / "nowhere")


def test_no_project_in_a_deployed_run_names_the_worker_and_the_variable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(folder, "_deployed_flow_run", lambda: True)
    monkeypatch.setenv("PWD", str(tmp_path))
    monkeypatch.delenv(folder.PROJECT_DIR_VAR, raising=False)
    message = folder.not_a_project(tmp_path)
    assert message == (
        f"no ferryman.yaml in {tmp_path.resolve()} (the folder the worker was started in):"
        " start the Prefect worker in the project folder, or set"
        " FERRYMAN_PROJECT_DIR=/path/to/project in the worker's environment"
    )
    monkeypatch.setenv(folder.PROJECT_DIR_VAR, str(tmp_path / "typo"))
    assert f"; {tmp_path / 'typo'} ($FERRYMAN_PROJECT_DIR) does not exist: start" in (
        folder.not_a_project(tmp_path)
    )


def _record(msg: str, exc: BaseException) -> logging.LogRecord:
    info = (type(exc), exc, exc.__traceback__)
    return logging.LogRecord("prefect.flow_runs", logging.ERROR, __file__, 1, msg, (), info)


def test_a_missing_project_leaves_one_line_in_the_flow_run_log() -> None:
    keep = prefect_flows._ExpectedOutcomeWithoutTraceback()
    flow_error = _record("Encountered exception during execution: %r", ProjectNotFound("x"))
    assert keep.filter(flow_error)
    assert flow_error.exc_info is None  # the message, without its traceback
    engine_error = _record(
        "Engine execution exited with unexpected exception", ProjectNotFound("x")
    )
    assert not keep.filter(engine_error)  # the same exception again: dropped
    bug = _record("Encountered exception during execution: %r", KeyError("x"))
    assert keep.filter(bug)
    assert bug.exc_info is not None  # a real bug keeps its traceback
