"""Running `ferryman` in child processes that can be killed, and comparing targets.

Children talk to the test session's Prefect API (PREFECT_API_URL), so each one skips the
seconds a temporary server takes to start.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from ferryman.flows.ledger.fingerprint import canonical

ROOT = Path(__file__).resolve().parents[2]
DEMO_TABLES = ("customers", "orders", "products", "order_lines")


def child_env(
    legacy_dir: Path, target_url: str, api_url: str | None, fault: str | None = None
) -> dict[str, str]:
    env = {
        **os.environ,
        "DEMO_LEGACY_URL": f"sqlite:///{legacy_dir / 'crm.db'}",
        "DEMO_EXPORTS": str(legacy_dir / "exports"),
        "DEMO_TARGET_URL": target_url,
    }
    if api_url:
        env["PREFECT_API_URL"] = api_url
    env.pop("FERRYMAN_FAULT", None)
    if fault:
        env["FERRYMAN_FAULT"] = fault
    return env


def ferryman(
    args: list[str], env: dict[str, str], cwd: Path, timeout: float = 300
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "ferryman.flows.cli", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def start(args: list[str], env: dict[str, str], cwd: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "ferryman.flows.cli", *args],
        cwd=cwd,
        env=env,
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


def table_rows(engine: sa.Engine, table: str) -> Counter[tuple[Any, ...]] | None:
    """Every row of `table` as a multiset of canonical tuples (None if no such table)."""
    if not sa.inspect(engine).has_table(table):
        return None
    # raw SQL: the engine's own storage values, with no type conversion in between
    with engine.connect() as conn:
        result = conn.execute(sa.text(f"SELECT * FROM {table}"))
        return Counter(tuple(canonical(v) for v in r) for r in result)


def target_state(
    engine: sa.Engine, tables: tuple[str, ...] = DEMO_TABLES
) -> dict[str, Counter[tuple[Any, ...]] | None]:
    return {t: table_rows(engine, t) for t in tables}


def quarantine_state(engine: sa.Engine, run_id: str) -> Counter[tuple[Any, ...]]:
    with engine.connect() as conn:
        rows = conn.execute(
            sa.text(
                "SELECT table_name, source_position, column_name, rule"
                " FROM ferryman_quarantine WHERE run_id = :r"
            ),
            {"r": run_id},
        ).all()
    return Counter(tuple(r) for r in rows)


def only_run_id(engine: sa.Engine) -> str:
    with engine.connect() as conn:
        ids = conn.execute(sa.text("SELECT run_id FROM ferryman_runs ORDER BY started_at")).all()
    assert len(ids) >= 1
    return str(ids[-1][0])


def install_ledger(url: str) -> None:
    """Create (or upgrade) the control tables of the target at `url`, as any run does."""
    from ferryman.connectors.kinds import CONNECTORS
    from ferryman.flows.ledger.store import Ledger

    target = CONNECTORS.get("sql").build_target("target", {"url": url})
    try:
        Ledger(target).install()
    finally:
        target.close()
