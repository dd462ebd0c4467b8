"""Table locks in the target: one run (or rollback) at a time per table.

A lock is a row in `ferryman_locks` keyed by table name, so two runs racing for the same
table cannot both insert it: the database's primary key decides, exactly one wins. A lock
whose holder process is gone (same host, pid no longer alive) is stale and is taken over;
a lock held by a live process, or by another host, is refused with the holder's name.
"""

from __future__ import annotations

import datetime as dt
import os
import socket
from collections.abc import Sequence
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy import exc as sa_exc

from ferryman.flows.ledger.store import Ledger


class LockedError(Exception):
    """Another live run holds a table this run needs."""


def process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie (killed, not yet reaped by its parent) is gone for our purposes.
    try:
        return Path(f"/proc/{pid}/stat").read_text(encoding="ascii").split()[2] != "Z"
    except OSError:
        return True


class TableLocks:
    def __init__(self, ledger: Ledger) -> None:
        self.ledger = ledger
        self.host = socket.gethostname()
        self.pid = os.getpid()

    def acquire(self, run_id: str, tables: Sequence[str], purpose: str) -> list[str]:
        """Lock every table or none; returns the messages about stale locks taken over."""
        taken_over: list[str] = []
        locks = self.ledger.locks
        with self.ledger.begin() as conn:
            rows = conn.execute(sa.select(locks).where(locks.c.table_name.in_(tables))).all()
            for row in rows:
                if row.run_id == run_id and row.pid == self.pid and row.host == self.host:
                    continue
                if row.host == self.host and not process_alive(row.pid):
                    conn.execute(
                        sa.delete(locks).where(
                            (locks.c.table_name == row.table_name)
                            & (locks.c.run_id == row.run_id)
                            & (locks.c.pid == row.pid)
                        )
                    )
                    taken_over.append(
                        f"took over the lock on {row.table_name} left by {row.purpose} of run"
                        f" {row.run_id} (pid {row.pid} is gone)"
                    )
                    continue
                raise LockedError(
                    f"table {row.table_name} is locked by {row.purpose} of run {row.run_id}"
                    f" (pid {row.pid} on {row.host}, since {row.acquired_at:%Y-%m-%d %H:%M:%S}"
                    " UTC); wait for it to finish, or if that process is gone on another host,"
                    f" `ferryman unlock {row.table_name}`"
                )
            held = {r.table_name for r in rows if r.run_id == run_id and r.pid == self.pid}
            now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
            try:
                for table in tables:
                    if table not in held:
                        conn.execute(
                            locks.insert().values(
                                table_name=table,
                                run_id=run_id,
                                purpose=purpose,
                                host=self.host,
                                pid=self.pid,
                                acquired_at=now,
                            )
                        )
            except (sa_exc.IntegrityError, sa_exc.OperationalError):
                raise LockedError(
                    f"another run locked one of {', '.join(tables)} at the same moment;"
                    " `ferryman status` shows it"
                ) from None
        return taken_over

    def release(self, run_id: str) -> None:
        locks = self.ledger.locks
        with self.ledger.begin() as conn:
            conn.execute(
                sa.delete(locks).where((locks.c.run_id == run_id) & (locks.c.pid == self.pid))
            )

    def force_release(self, table: str) -> int:
        locks = self.ledger.locks
        with self.ledger.begin() as conn:
            res = conn.execute(sa.delete(locks).where(locks.c.table_name == table))
        return res.rowcount or 0
