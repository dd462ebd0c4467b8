"""Fault injection for the crash tests: kill this process with SIGKILL at a named point.

`FERRYMAN_FAULT=point:table:batch` (e.g. `before_commit:orders:2`) makes the process kill
itself, with no chance to clean up, exactly when it reaches that point; `table` or `batch`
may be `*`. A fourth field `sleepN` pauses N seconds there instead (to hold a lock while
another run tries its luck). Unset (always, outside tests), `fault_point` is a dictionary lookup and
nothing more. The points: `before_commit` (a batch written but not committed),
`after_commit` (between batches), `rollback_before_commit`, `rollback_after_commit`.
"""

from __future__ import annotations

import os
import signal
import time

_ENV = "FERRYMAN_FAULT"


def fault_point(point: str, table: str, batch_no: int) -> None:
    spec = os.environ.get(_ENV)
    if not spec:
        return
    want_point, want_table, want_batch, action = (spec.split(":") + ["*", "*", "kill"])[:4]
    if want_point != point:
        return
    if want_table not in ("*", table) or want_batch not in ("*", str(batch_no)):
        return
    if action.startswith("sleep"):
        time.sleep(float(action[5:]))
        return
    os.kill(os.getpid(), signal.SIGKILL)
