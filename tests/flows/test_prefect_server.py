"""ferryman deployed for real: a Prefect server, `prefect deploy` from a user's project
folder, a process worker started in that folder, a `migrate` run into PostgreSQL.

The project lives outside the repository (tmp_path) and has its own `flows/` and
`validations/` Python packages: the worker puts the project folder first on the flow run's
PYTHONPATH, so a ferryman that imported a top-level `flows` would load the project's.
The target URL reaches the flow only through the worker's environment (`${FM_TARGET_URL}`
in ferryman.yaml, no default). A second run, pointed at a folder without ferryman.yaml,
fails with the one-line message and no traceback in the run's logs.

Every process started here carries a marker in its environment; the finalizer stops each
of them by pid (server, worker, and any flow run a failed test left behind).
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from ferryman.flows.project.environment import quiet_environment
from tests.conftest import Database
from tests.helpers.user_project import write_user_project

pytestmark = [pytest.mark.slow, pytest.mark.postgres]

ROOT = Path(__file__).resolve().parents[2]
PREFECT = str(Path(sys.executable).with_name("prefect"))
MARKER = "FERRYMAN_TEST_PREFECT_SERVER"
TERMINAL = {"COMPLETED", "FAILED", "CRASHED", "CANCELLED"}


@dataclass
class Server:
    api: str
    env: dict[str, str]
    """The environment of every prefect command of this test (its API, its home)."""
    logs: Path
    marker: str


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _start(cmd: list[str], cwd: Path, env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("wb") as out:
        return subprocess.Popen(
            cmd, cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )


def _marked_pids(marker: str) -> list[int]:
    """Processes whose environment carries this test's marker: the ones it started."""
    needle = f"{MARKER}={marker}".encode()
    pids = []
    for proc in Path("/proc").glob("[0-9]*"):
        try:
            if needle in (proc / "environ").read_bytes().split(b"\0"):
                pids.append(int(proc.name))
        except OSError:
            continue
    return pids


def _stop(procs: list[subprocess.Popen[bytes]], marker: str) -> None:
    for proc in procs:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGINT)
    deadline = time.monotonic() + 10
    for proc in procs:
        try:
            proc.wait(max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    for pid in _marked_pids(marker):  # flow runs live in process groups of their own
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


def _tail(path: Path, lines: int = 60) -> str:
    text = path.read_text(errors="replace") if path.is_file() else ""
    return "\n".join(text.splitlines()[-lines:])


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[Server, list[subprocess.Popen[bytes]]]]:
    """`prefect server start` on a free port, sqlite in a temporary PREFECT_HOME; yields
    it with the list of processes to stop at the end (the worker joins it)."""
    marker = uuid.uuid4().hex
    port = _free_port()
    api = f"http://127.0.0.1:{port}/api"
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    env.pop("PYTHONPATH", None)
    quiet_environment(env)
    env.update({"PREFECT_HOME": str(tmp_path / "prefect-home"), MARKER: marker})
    logs = tmp_path / "logs"
    logs.mkdir()
    procs = [
        _start(
            [PREFECT, "server", "start", "--host", "127.0.0.1", "--port", str(port)],
            tmp_path,
            env,
            logs / "server.log",
        )
    ]
    try:
        deadline = time.monotonic() + 90
        while True:
            assert procs[0].poll() is None, f"server exited:\n{_tail(logs / 'server.log')}"
            try:
                if httpx.get(f"{api}/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, (
                f"no server after 90 s:\n{_tail(logs / 'server.log')}"
            )
            time.sleep(0.3)
        yield Server(api, {**env, "PREFECT_API_URL": api}, logs, marker), procs
    finally:
        _stop(procs, marker)


def _project(root: Path) -> Path:
    """A user's project: a CSV source, one spec with one suite, a target from ${FM_TARGET_URL},
    and Python packages of its own named flows and validations."""
    return write_user_project(
        root,
        "deployed",
        "${FM_TARGET_URL}",
        "raise ImportError('the project\\'s {package} package was imported by ferryman')\n",
    )


def _prefect(args: list[str], cwd: Path, env: dict[str, str]) -> str:
    proc = subprocess.run(
        [PREFECT, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=120, check=False
    )
    assert proc.returncode == 0, f"prefect {' '.join(args)}:\n{proc.stdout}\n{proc.stderr}"
    return proc.stdout


def _api(client: httpx.Client, method: str, url: str, **kwargs: Any) -> Any:
    """One API call, retried like Prefect's own client does: a busy sqlite server answers
    503 (database locked) now and then."""
    for attempt in range(10):
        try:
            response = client.request(method, url, **kwargs)
        except httpx.TransportError:
            if attempt == 9:
                raise
        else:
            if response.status_code not in (429, 502, 503, 504) or attempt == 9:
                return response.raise_for_status().json()
        time.sleep(0.5 * (attempt + 1))
    raise AssertionError("unreachable")


def _run_deployment(api: str, name: str, **body: Any) -> dict[str, Any]:
    """Create a flow run of deployment `name` and wait until it ends; returns the run."""
    with httpx.Client(base_url=api, timeout=10) as client:
        deployment = _api(client, "GET", f"/deployments/name/{name}")
        create = f"/deployments/{deployment['id']}/create_flow_run"
        run_id = _api(client, "POST", create, json=body)["id"]
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            flow_run: dict[str, Any] = _api(client, "GET", f"/flow_runs/{run_id}")
            if flow_run["state"]["type"] in TERMINAL:
                return flow_run
            time.sleep(0.5)
    raise AssertionError(f"flow run {run_id} did not end within 120 s: {flow_run['state']}")


def _logs(api: str, run_id: str, until: str) -> list[str]:
    """The run's log messages, once one containing `until` arrived (logs ship apart)."""
    messages: list[str] = []
    query = {"logs": {"flow_run_id": {"any_": [run_id]}}, "sort": "TIMESTAMP_ASC"}
    with httpx.Client(base_url=api, timeout=10) as client:
        for _ in range(40):
            messages = [log["message"] for log in _api(client, "POST", "/logs/filter", json=query)]
            if any(until in m for m in messages):
                break
            time.sleep(0.25)
    return messages


def test_deploy_from_a_project_folder_and_migrate_on_a_worker(
    postgres_db: Database,  # first: skip (or fail) before starting a server
    server: tuple[Server, list[subprocess.Popen[bytes]]],
    tmp_path: Path,
) -> None:
    srv, procs = server
    project = _project(tmp_path / "my-migration")
    _prefect(["work-pool", "create", "ferryman", "--type", "process"], project, srv.env)
    worker_env = {
        **srv.env,
        "PWD": str(project),  # as the shell of `cd my-migration && prefect worker start`
        "FM_TARGET_URL": postgres_db.url,
        "PREFECT_WORKER_QUERY_SECONDS": "1",
    }
    worker_log = srv.logs / "worker.log"
    procs.append(
        _start([PREFECT, "worker", "start", "--pool", "ferryman"], project, worker_env, worker_log)
    )
    deploy = ["--no-prompt", "deploy", "--all", "--prefect-file", str(ROOT / "prefect.yaml")]
    out = _prefect(deploy, project, srv.env)
    assert "migrate/migrate" in out

    run = _run_deployment(srv.api, "migrate/migrate")
    assert run["state"]["type"] == "COMPLETED", (
        f"{run['state']}\n{_logs(srv.api, run['id'], 'Finished')}\n{_tail(worker_log)}"
    )
    with postgres_db.engine.connect() as conn:
        rows = conn.execute(sa.text("SELECT person_id, name FROM people ORDER BY 1")).all()
    assert [tuple(r) for r in rows] == [(1, "Ada"), (2, "Grace"), (3, "Linus")]
    assert list((project / "reports").glob("*.json")), "the report goes to the project folder"

    # A worker whose project folder holds no ferryman.yaml: one line, no traceback.
    empty = tmp_path / "not-a-project"
    empty.mkdir()
    env = {"FERRYMAN_PROJECT_DIR": str(empty)}
    run = _run_deployment(srv.api, "migrate/migrate", job_variables={"env": env})
    assert run["state"]["type"] == "FAILED", run["state"]
    expected = (
        f"no ferryman.yaml in {empty.resolve()} ($FERRYMAN_PROJECT_DIR): start the Prefect"
        " worker in the project folder, or set FERRYMAN_PROJECT_DIR=/path/to/project in the"
        " worker's environment"
    )
    assert run["state"]["message"].endswith(expected), run["state"]["message"]
    logs = _logs(srv.api, run["id"], "Finished in state Failed")
    errors = [m for m in logs if "ProjectNotFound" in m]
    assert errors, logs
    assert not [m for m in logs if "Traceback" in m], logs
