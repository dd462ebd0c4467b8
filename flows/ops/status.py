"""`ferryman status`: what the ledger says about runs, read from the project's target."""

from __future__ import annotations

import socket
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from ferryman.flows.dryrun.history import DryRunHistory
from ferryman.flows.ledger.locks import process_alive
from ferryman.flows.ledger.store import Ledger, RunRecord
from ferryman.flows.project.config import load_project
from ferryman.flows.project.session import open_target, settle_dry_runs


def _ledger(project_dir: Path) -> tuple[Ledger, Any]:
    project = load_project(project_dir)
    target = open_target(project)
    target.ping()
    return Ledger(target), target


def runs_overview(project_dir: Path, limit: int = 20) -> dict[str, Any]:
    ledger, target = _ledger(project_dir)
    try:
        settle_dry_runs(target)
        runs = ledger.list_runs(limit) if ledger.exists() else []
        return {
            "runs": [_brief(r, ledger) for r in runs],
            "dry_runs": DryRunHistory(target).entries(limit),
        }
    finally:
        target.close()


def run_status(project_dir: Path, run_id: str) -> dict[str, Any]:
    ledger, target = _ledger(project_dir)
    try:
        run = ledger.get_run(run_id) if ledger.exists() else None
        if run is None:
            raise LookupError(
                f"no run {run_id!r} in {target.describe()}; `ferryman status` lists the runs"
            )
        doc: dict[str, Any] = dict(run.summary or {})
        doc.update(run_id=run.run_id, state=run.state, error=run.error)
        tables: dict[str, Any] = doc.setdefault("tables", {})
        # The ledger's batches are the truth for a run that died before writing its summary.
        for b in ledger.batches_of(run_id):
            t = tables.setdefault(
                b.table,
                {
                    "table": b.table,
                    "read": 0,
                    "loaded": 0,
                    "quarantined": 0,
                    "filtered": 0,
                    "batches": 0,
                    "seconds": 0.0,
                    "quarantine_rules": {},
                },
            )
            if run.summary is None:
                t["read"] += b.read
                t["loaded"] += b.loaded
                t["quarantined"] += b.quarantined
                t["filtered"] += b.filtered
                t["batches"] += 1
                t["seconds"] += b.seconds
        for t in tables.values():
            t["balanced"] = t["read"] == t["loaded"] + t["quarantined"] + t["filtered"]
        doc.setdefault("report", None)
        return doc
    finally:
        target.close()


def _orphaned(ledger: Ledger, run: RunRecord) -> bool:
    """A run still marked running whose locks are gone or held by a dead process."""
    with ledger.connect() as conn:
        holders = conn.execute(
            sa.select(ledger.locks.c.host, ledger.locks.c.pid).where(
                ledger.locks.c.run_id == run.run_id
            )
        ).all()
    if not holders:
        return True
    host = socket.gethostname()
    return all(h == host and not process_alive(pid) for h, pid in holders)


def _brief(r: RunRecord, ledger: Ledger) -> dict[str, Any]:
    tables = (r.summary or {}).get("tables", {})
    state = r.state
    if state in ("running", "rolling_back") and _orphaned(ledger, r):
        state = f"{state} (process gone: resume or roll back)"
    return {
        "run_id": r.run_id,
        "state": state,
        "mode": r.mode,
        "started_at": r.started_at,
        "finished_at": r.finished_at,
        "tables": r.tables,
        "loaded": sum(t.get("loaded", 0) for t in tables.values()),
        "quarantined": sum(t.get("quarantined", 0) for t in tables.values()),
    }
