"""Table locks: two runs on the same tables at once, exactly one proceeds; a lock left by a
killed process is detected and taken over; a live holder is named in the refusal."""

from __future__ import annotations

import signal
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr

from ferryman.connectors.sql.options import SqlOptions
from ferryman.connectors.sql.target import SqlTarget
from ferryman.flows.ledger.locks import LockedError, TableLocks
from ferryman.flows.ledger.store import Ledger
from tests.conftest import Database
from tests.flows.conftest import copy_demo_project
from tests.helpers import cli

ROOT = Path(__file__).resolve().parents[2]

CONTENDER = """
import os, signal, sys
from pydantic import SecretStr
from ferryman.connectors.sql.options import SqlOptions
from ferryman.connectors.sql.target import SqlTarget
from ferryman.flows.ledger.store import Ledger
from ferryman.flows.ledger.locks import LockedError, TableLocks
url, run_id, then = sys.argv[1:]
target = SqlTarget("t", SqlOptions(url=SecretStr(url)))
ledger = Ledger(target)
ledger.install()
print("READY", flush=True)
sys.stdin.readline()  # the test's go: every contender is READY by then
try:
    TableLocks(ledger).acquire(run_id, ["customers", "orders"], "run")
except LockedError as e:
    print("LOCKED", e, flush=True)
    sys.exit(0)
print("ACQUIRED", flush=True)
if then == "die":
    os.kill(os.getpid(), signal.SIGKILL)
sys.stdin.readline()  # hold the locks until the test lets go (or closes stdin)
"""
SECONDS = 120
"""How long a contender may take to say what it is at before the test fails."""


def _ledger(db: Database) -> Ledger:
    target = SqlTarget("t", SqlOptions(url=SecretStr(db.url)))
    ledger = Ledger(target)
    ledger.install()
    return ledger


def _contender(db: Database, run_id: str, then: str = "hold") -> subprocess.Popen[str]:
    """A process that says READY, locks the tables at the test's word (`_go`), then holds
    them until the test lets go (`_release`), or dies holding them (then="die")."""
    return subprocess.Popen(
        [sys.executable, "-c", CONTENDER, db.url, run_id, then],
        cwd=ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _said(proc: subprocess.Popen[str]) -> str:
    """The next line `proc` prints, within SECONDS."""
    assert proc.stdout is not None
    with ThreadPoolExecutor(1) as pool:
        line = pool.submit(proc.stdout.readline)
        try:
            said = line.result(timeout=SECONDS)
        except TimeoutError:
            proc.kill()
            raise
    if not said:
        raise AssertionError(f"the contender ended ({proc.wait()}): {proc.communicate()[1]}")
    return said.strip()


def _go(*procs: subprocess.Popen[str]) -> None:
    """Once every one of `procs` is READY, tell them all to go, back to back."""
    assert [_said(p) for p in procs] == ["READY"] * len(procs)
    for proc in procs:
        assert proc.stdin is not None
        proc.stdin.write("go\n")
        proc.stdin.flush()


def _release(proc: subprocess.Popen[str]) -> None:
    proc.communicate(timeout=SECONDS)  # closes its stdin: it lets go and ends
    assert proc.returncode == 0


def test_two_runs_started_together_exactly_one_proceeds(any_db: Database) -> None:
    _ledger(any_db)  # control tables exist before the race, as after any earlier run
    procs = [_contender(any_db, f"run-{i}") for i in range(2)]  # both up, waiting
    _go(*procs)
    said = [_said(p) for p in procs]  # the winner holds until released: no late taker
    assert sorted(s.split()[0] for s in said) == ["ACQUIRED", "LOCKED"], said
    for proc in procs:
        _release(proc)


def test_a_live_holder_is_named_and_a_dead_one_is_taken_over(any_db: Database) -> None:
    ledger = _ledger(any_db)
    locks = TableLocks(ledger)
    locks.acquire("run-a", ["customers"], "run")
    with pytest.raises(LockedError, match=r"customers is locked by run of run run-a \(pid"):
        locks.acquire("run-b", ["customers", "orders"], "rollback")
    locks.release("run-a")
    dead = _contender(any_db, "run-dead", "die")
    _go(dead)
    assert _said(dead) == "ACQUIRED"
    assert dead.wait(timeout=SECONDS) == -signal.SIGKILL
    messages = locks.acquire("run-c", ["customers", "orders"], "run")
    assert any("left by run of run run-dead" in m and "is gone" in m for m in messages)
    locks.release("run-c")


def test_cli_run_is_refused_while_another_run_holds_the_tables(
    sqlite_db: Database,
    small_legacy: tuple[Path, dict[str, Any]],
    prefect_harness: str,
    tmp_path: Path,
) -> None:
    legacy_dir, _ = small_legacy
    project = copy_demo_project(tmp_path / "project")
    held = tmp_path / "held"  # the first run creates it once it holds its locks
    hold = f"after_commit:customers:0:hold={held}"
    first = cli.start(
        ["run", "--project", str(project)],
        project,
        cli.demo_env(legacy_dir, sqlite_db.url, prefect_harness, fault=hold),
    )
    cli.wait_for(held.exists, 300, "the first run holding its locks", first)
    env = cli.demo_env(legacy_dir, sqlite_db.url, prefect_harness)
    second = cli.ferryman(["run", "--project", str(project)], project, env)
    assert second.returncode == 1, second.stderr[-2000:]
    assert "is locked by run of run" in second.stderr
    held.unlink()  # the first run goes on
    out, err = first.communicate(timeout=300)
    assert first.returncode == 0, err[-2000:]
