"""Fault injection for the crash and lock tests: stop this process at a named point.

`FERRYMAN_FAULT=point:table:batch` (e.g. `before_commit:orders:2`) makes the process kill
itself with SIGKILL, with no chance to clean up, exactly when it reaches that point; `table`
or `batch` may be `*`. A fourth field `hold=FILE` holds it there instead: the process
creates FILE (holding its pid), then waits until FILE is removed, so a test knows the
process is at that point (holding its table locks, say) and decides when it goes on.
Unset (always, outside tests), `fault_point` is a dictionary lookup and nothing more. The
points: `before_commit` (a batch written but not committed), `after_commit` (between
batches), `rollback_before_commit`, `rollback_after_commit`.
"""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

_ENV = "FERRYMAN_FAULT"
HOLD_SECONDS = 600
"""A held process goes on by itself after this long (a test that died never lets go)."""


def fault_point(point: str, table: str, batch_no: int) -> None:
    spec = os.environ.get(_ENV)
    if not spec:
        return
    want_point, want_table, want_batch, action = (spec.split(":", 3) + ["*", "*", "kill"])[:4]
    if want_point != point:
        return
    if want_table not in ("*", table) or want_batch not in ("*", str(batch_no)):
        return
    if action.startswith("hold="):
        _hold(Path(action.removeprefix("hold=")))
        return
    os.kill(os.getpid(), signal.SIGKILL)


def _hold(signal_file: Path) -> None:
    signal_file.write_text(str(os.getpid()), encoding="ascii")
    deadline = time.monotonic() + HOLD_SECONDS
    while signal_file.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
