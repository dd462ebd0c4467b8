"""Table locks: two runs on the same tables at once, exactly one proceeds; a lock left by a
killed process is detected and taken over; a live holder is named in the refusal."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr

from ferryman.connectors.sql.options import SqlOptions
from ferryman.connectors.sql.target import SqlTarget
from ferryman.flows.ledger.locks import LockedError, TableLocks
from ferryman.flows.ledger.store import Ledger
from tests.conftest import Database
from tests.flows import harness
from tests.flows.conftest import copy_demo_project

ROOT = Path(__file__).resolve().parents[2]

CONTENDER = """
import sys, time
from pydantic import SecretStr
from ferryman.connectors.sql.options import SqlOptions
from ferryman.connectors.sql.target import SqlTarget
from ferryman.flows.ledger.store import Ledger
from ferryman.flows.ledger.locks import LockedError, TableLocks
url, run_id, start_at, then = sys.argv[1], sys.argv[2], float(sys.argv[3]), sys.argv[4]
target = SqlTarget("t", SqlOptions(url=SecretStr(url)))
ledger = Ledger(target)
ledger.install()
while time.time() < start_at:
    time.sleep(0.001)
try:
    TableLocks(ledger).acquire(run_id, ["customers", "orders"], "run")
except LockedError as e:
    print("LOCKED", e, flush=True)
    sys.exit(0)
print("ACQUIRED", flush=True)
if then == "die":
    import os, signal
    os.kill(os.getpid(), signal.SIGKILL)
time.sleep(3)
"""


def _ledger(db: Database) -> Ledger:
    target = SqlTarget("t", SqlOptions(url=SecretStr(db.url)))
    ledger = Ledger(target)
    ledger.install()
    return ledger


def _contender(db: Database, run_id: str, start_at: float, then: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", CONTENDER, db.url, run_id, str(start_at), then],
        cwd=ROOT,
        env=dict(os.environ),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_two_runs_started_together_exactly_one_proceeds(any_db: Database) -> None:
    _ledger(any_db)  # control tables exist before the race, as after any earlier run
    start_at = time.time() + 4.0  # both interpreters are up by then
    procs = [_contender(any_db, f"run-{i}", start_at, "hold") for i in range(2)]
    outputs = [p.communicate(timeout=120)[0] for p in procs]
    acquired = [o for o in outputs if o.startswith("ACQUIRED")]
    locked = [o for o in outputs if o.startswith("LOCKED")]
    assert len(acquired) == 1, outputs
    assert len(locked) == 1, outputs


def test_a_live_holder_is_named_and_a_dead_one_is_taken_over(any_db: Database) -> None:
    ledger = _ledger(any_db)
    locks = TableLocks(ledger)
    locks.acquire("run-a", ["customers"], "run")
    with pytest.raises(LockedError, match=r"customers is locked by run of run run-a \(pid"):
        locks.acquire("run-b", ["customers", "orders"], "rollback")
    locks.release("run-a")
    dead = _contender(any_db, "run-dead", time.time(), "die")
    out, _ = dead.communicate(timeout=120)
    assert out.startswith("ACQUIRED")
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
    slow = harness.child_env(
        legacy_dir, sqlite_db.url, prefect_harness, fault="after_commit:customers:0:sleep12"
    )
    first = harness.start(["run", "--project", str(project)], slow, project)
    ledger = _ledger(sqlite_db)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:  # wait until the first run holds its locks
        with ledger.connect() as conn:
            if conn.execute(ledger.locks.select()).first() is not None:
                break
        time.sleep(0.2)
    env = harness.child_env(legacy_dir, sqlite_db.url, prefect_harness)
    second = harness.ferryman(["run", "--project", str(project)], env, project)
    assert second.returncode == 1, second.stderr[-2000:]
    assert "is locked by run of run" in second.stderr
    out, err = first.communicate(timeout=300)
    assert first.returncode == 0, err[-2000:]
