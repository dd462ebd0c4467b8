"""`ferryman_dry_runs`: the one table a dry run writes to, outside its own transaction, and
only if the project lets it (`dry_run: {history: false}` or `--no-history` switch it off).

Each entry holds the target's state before the dry run, so when a dry run is killed, the
next ferryman command on that target finds its entry (its process is gone), checks the
target against that state, puts moved sequence counters back when nothing else changed,
and records the outcome for `ferryman status`.
"""

from __future__ import annotations

import json
import os
import socket
from typing import Any

import sqlalchemy as sa

from ferryman.connectors.base import Target
from ferryman.flows.dryrun.target_state import (
    HISTORY_TABLE,
    TargetState,
    capture,
    differences,
    moved_counters,
    restore_counters,
)
from ferryman.flows.ledger.locks import process_alive
from ferryman.flows.ledger.store import _long_text, _now

RUNNING = "running"


class DryRunHistory:
    def __init__(self, target: Target) -> None:
        self.target = target
        self.table = sa.Table(
            HISTORY_TABLE,
            sa.MetaData(schema=target.schema),
            sa.Column("run_id", sa.String(40), primary_key=True),
            sa.Column("project", sa.String(200), nullable=False),
            sa.Column("state", sa.String(32), nullable=False),
            sa.Column("host", sa.String(200), nullable=False),
            sa.Column("pid", sa.Integer, nullable=False),
            sa.Column("started_at", sa.DateTime, nullable=False),
            sa.Column("finished_at", sa.DateTime),
            sa.Column("tables", sa.Text, nullable=False),
            sa.Column("before_state", _long_text(), nullable=False),
            sa.Column("outcome", sa.Text),
            sa.Column("summary", _long_text()),
        )

    def exists(self) -> bool:
        with self.target.connect() as conn:
            return self.target.has_table(conn, HISTORY_TABLE)

    def start(self, run_id: str, project: str, tables: list[str], before: TargetState) -> None:
        with self.target.begin() as conn:
            self.table.create(conn, checkfirst=True)
            conn.execute(
                self.table.insert().values(
                    run_id=run_id,
                    project=project,
                    state=RUNNING,
                    host=socket.gethostname(),
                    pid=os.getpid(),
                    started_at=_now(),
                    tables=json.dumps(tables),
                    before_state=json.dumps(before.to_json()),
                )
            )

    def finish(self, run_id: str, state: str, outcome: str, summary: dict[str, Any]) -> None:
        with self.target.begin() as conn:
            conn.execute(
                self.table.update()
                .where(self.table.c.run_id == run_id)
                .values(
                    state=state,
                    outcome=outcome,
                    finished_at=_now(),
                    summary=json.dumps(summary, default=str),
                )
            )

    def entries(self, limit: int = 20) -> list[dict[str, Any]]:
        if not self.exists():
            return []
        t = self.table
        with self.target.connect() as conn:
            rows = conn.execute(
                sa.select(
                    t.c.run_id, t.c.state, t.c.started_at, t.c.finished_at, t.c.tables, t.c.outcome
                )
                .order_by(t.c.started_at.desc())
                .limit(limit)
            ).all()
        return [
            {
                "run_id": r.run_id,
                "state": r.state,
                "started_at": r.started_at,
                "finished_at": r.finished_at,
                "tables": json.loads(r.tables),
                "outcome": r.outcome,
            }
            for r in rows
        ]

    def recover(self) -> list[str]:
        """Settle the entries of dry runs whose process died on this host; returns what was
        found, one message per entry."""
        if not self.exists():
            return []
        t = self.table
        host = socket.gethostname()
        with self.target.connect() as conn:
            rows = conn.execute(
                sa.select(t.c.run_id, t.c.pid, t.c.before_state).where(
                    (t.c.state == RUNNING) & (t.c.host == host)
                )
            ).all()
        messages = []
        for row in rows:
            if process_alive(row.pid):
                continue
            state, outcome = self._settle(TargetState.from_json(json.loads(row.before_state)))
            with self.target.begin() as conn:
                conn.execute(
                    t.update()
                    .where((t.c.run_id == row.run_id) & (t.c.state == RUNNING))
                    .values(state=state, outcome=outcome, finished_at=_now())
                )
            messages.append(f"dry run {row.run_id} was interrupted: {outcome}")
        return messages

    def _settle(self, before: TargetState) -> tuple[str, str]:
        after = capture(self.target, before.tables)
        changed = differences(before, after)
        if changed:
            return "interrupted", (
                "the target differs from before the dry run (" + "; ".join(changed[:5]) + ")."
                " A dry run's writes are never committed, so another process probably wrote"
                " since; check with `ferryman status`"
            )
        moved = moved_counters(before, after)
        if not moved:
            return "interrupted", "target verified unchanged (its transaction was rolled back)"
        failed = restore_counters(self.target, moved)
        names = ", ".join(sorted(moved))
        if failed:
            return "interrupted", (
                f"target rows verified unchanged; counters {names} had moved and could not all"
                f" be put back: {'; '.join(failed)}"
            )
        return "interrupted", f"target verified unchanged; counters {names} put back"
