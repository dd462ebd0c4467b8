"""The `ferryman` command in child processes, as a user runs it, and the environments they
run in.

Children given the session's Prefect API (`api_url`, from the `prefect_harness` fixture)
skip the seconds a temporary server takes to start; without one each starts its own.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

FAULT = "FERRYMAN_FAULT"
COMMAND = (sys.executable, "-m", "ferryman.flows.cli")


def child_env(
    api_url: str | None = None, fault: str | None = None, **variables: str
) -> dict[str, str]:
    """This process's environment with `variables`, the Prefect API to use, and the fault
    to inject (`flows/batch/faults.py`): none unless given."""
    env = {**os.environ, **variables}
    env.pop(FAULT, None)
    if api_url:
        env["PREFECT_API_URL"] = api_url
    if fault:
        env[FAULT] = fault
    return env


def demo_env(
    legacy_dir: Path, target_url: str, api_url: str | None = None, fault: str | None = None
) -> dict[str, str]:
    """The environment of the demo project (examples/crm) reading `legacy_dir`."""
    return child_env(
        api_url,
        fault,
        DEMO_LEGACY_URL=f"sqlite:///{legacy_dir / 'crm.db'}",
        DEMO_EXPORTS=str(legacy_dir / "exports"),
        DEMO_TARGET_URL=target_url,
    )


def ferryman(
    args: Sequence[str],
    cwd: Path,
    env: dict[str, str] | None = None,
    timeout: float = 300,
) -> subprocess.CompletedProcess[str]:
    """`ferryman ARGS` run to its end in `cwd`; `env` defaults to `child_env()`."""
    return subprocess.run(
        [*COMMAND, *args],
        cwd=cwd,
        env=child_env() if env is None else env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def start(
    args: Sequence[str], cwd: Path, env: dict[str, str] | None = None
) -> subprocess.Popen[str]:
    """`ferryman ARGS` started in `cwd` and left running."""
    return subprocess.Popen(
        [*COMMAND, *args],
        cwd=cwd,
        env=child_env() if env is None else env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def kill_after(proc: subprocess.Popen[str], seconds: float) -> bool:
    """SIGKILL `proc` after `seconds` unless it ended first; True if it was killed."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            proc.communicate()
            return False
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.communicate()
    return True


def wait_for(
    condition: Callable[[], bool],
    timeout: float,
    what: str,
    proc: subprocess.Popen[str] | None = None,
) -> None:
    """Return as soon as `condition()` holds; fail after `timeout` seconds, or as soon as
    `proc` (the process expected to make it hold) has ended, with its output."""
    deadline = time.monotonic() + timeout
    while not condition():
        if proc is not None and proc.poll() is not None:
            out, err = proc.communicate()
            raise AssertionError(
                f"{what}: the process ended first ({proc.returncode})\n{err[-3000:]}"
            )
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {timeout:g} s")
        time.sleep(0.05)
