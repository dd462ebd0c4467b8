"""Where a deployed flow finds its project: the pull step of `prefect.yaml`, and the one
line a run prints when there is no project where it looked.

A Prefect process worker starts every flow run in a fresh temporary folder. The pull step
`ferryman.flows.project.folder.enter_project` moves the run into the project folder (the
one holding `ferryman.yaml`), the first of:

1. `directory:` given to the step in `prefect.yaml` (rarely needed);
2. `$FERRYMAN_PROJECT_DIR` in the worker's environment (optional override: a worker
   started by systemd, in a container, or serving a project it was not started in);
3. the folder the worker was started in (`cd my-project && prefect worker start ...`),
   as the shell that started it recorded it in `$PWD`.

The step never fails a run itself: when the folder holds no `ferryman.yaml` (or does not
exist), the flow stops on its first line with one message saying where it looked and
what to do, which the Prefect UI shows as the run's state.
"""

from __future__ import annotations

import os
from pathlib import Path

from ferryman.flows.project.config import PROJECT_FILE

PROJECT_DIR_VAR = "FERRYMAN_PROJECT_DIR"


def project_folder(directory: str | None = None) -> tuple[Path, str]:
    """The folder a deployed flow should run in, and what named it (for messages)."""
    if directory:
        return Path(directory).expanduser(), "the pull step's `directory:` in prefect.yaml"
    if os.environ.get(PROJECT_DIR_VAR):
        return Path(os.environ[PROJECT_DIR_VAR]).expanduser(), f"${PROJECT_DIR_VAR}"
    if os.environ.get("PWD"):
        return Path(os.environ["PWD"]), "the folder the worker was started in"
    return Path.cwd(), "the working directory"


def enter_project(directory: str | None = None) -> dict[str, str]:
    """Prefect pull step: make the project folder the flow run's working directory.

    Returns `{"directory": <absolute folder>}` (Prefect records it as the run's working
    directory). A folder that does not exist is left for the flow to report."""
    folder, _ = project_folder(directory)
    if folder.is_dir():
        os.chdir(folder)
    return {"directory": str(Path.cwd())}


def not_a_project(root: Path) -> str:
    """What is missing, where ferryman looked, and what to do, in one line: for the
    command line, or for a flow run a Prefect worker started from a deployment."""
    where = root.resolve()
    what = (
        f"no {PROJECT_FILE} in {where}"
        if where.is_dir()
        else f"project folder {where} does not exist"
    )
    if not _deployed_flow_run():
        return f"{what}: run ferryman in the project folder, or pass --project DIR"
    folder, named_by = project_folder()
    if folder.is_dir() and folder.resolve() == where:
        what += f" ({named_by})"
    elif not folder.is_dir():
        what += f"; {folder} ({named_by}) does not exist"
    return (
        f"{what}: start the Prefect worker in the project folder, or set"
        f" {PROJECT_DIR_VAR}=/path/to/project in the worker's environment"
    )


def _deployed_flow_run() -> bool:
    """True inside a flow run of a deployment (a worker started it and prefect.yaml's pull
    step chose the folder); False for `ferryman run` and plain Python."""
    from prefect.context import FlowRunContext

    ctx = FlowRunContext.get()
    return bool(ctx and ctx.flow_run and ctx.flow_run.deployment_id)
