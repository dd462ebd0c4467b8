"""Comparing targets: what a table holds (as a multiset of canonical rows), what a run
quarantined, which run was last. Running `ferryman` itself: `tests.helpers.cli`."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from ferryman.flows.ledger.fingerprint import canonical

ROOT = Path(__file__).resolve().parents[2]
DEMO_TABLES = ("customers", "orders", "products", "order_lines")


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
