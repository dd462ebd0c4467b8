"""`ferryman quarantine list|export`: what a run held back, and a file to fix it in.

`list` groups a run's quarantine rows by table and rule, with counts and a few examples,
and says which were replayed since (`replayed_in`, by which run, in what state).
`export` writes every column of `ferryman_quarantine` plus the source row's fields
flattened as `source.<FIELD>` columns (one line per reason a row was held back), to CSV or
Parquet, so a business user can correct the values in a spreadsheet; `ferryman quarantine
replay` (flows.replay) loads the corrected file.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd
import sqlalchemy as sa

from ferryman.flows.ledger.store import Ledger

SOURCE_PREFIX = "source."
FORMATS = ("csv", "parquet")


def latest_run_id(ledger: Ledger) -> str | None:
    """The newest run (not a rollback), or None when the target has no runs."""
    if not ledger.exists():
        return None
    runs = [r for r in ledger.list_runs(limit=50) if r.mode == "run"]
    return runs[0].run_id if runs else None


def overview(
    ledger: Ledger, run_id: str, table: str | None = None, examples: int = 3
) -> dict[str, Any]:
    """Per table: rows held back by rule, most frequent first, with a few examples."""
    q = ledger.quarantine
    where = q.c.run_id == run_id
    if table is not None:
        where &= q.c.table_name == table
    out: dict[str, Any] = {"run_id": run_id, "tables": {}}
    with ledger.connect() as conn:
        counts = conn.execute(
            sa.select(q.c.table_name, q.c.rule, sa.func.count().label("n"))
            .where(where)
            .group_by(q.c.table_name, q.c.rule)
            .order_by(q.c.table_name, sa.func.count().desc(), q.c.rule)
        ).all()
        for name, rule, n in counts:
            sample = conn.execute(
                sa.select(q.c.source_position, q.c.column_name, q.c.raw_value, q.c.message)
                .where(where & (q.c.table_name == name) & (q.c.rule == rule))
                .order_by(q.c.id)
                .limit(examples)
            ).all()
            reasons = out["tables"].setdefault(name, {"reasons": []})["reasons"]
            reasons.append(
                {
                    "rule": rule,
                    "count": int(n),
                    "examples": [
                        {"position": p, "column": c, "raw_value": v, "message": m}
                        for p, c, v, m in sample
                    ],
                }
            )
    for t in out["tables"].values():
        t["entries"] = sum(r["count"] for r in t["reasons"])
    _replays(ledger, run_id, where, out)
    return out


def _replays(ledger: Ledger, run_id: str, where: Any, out: dict[str, Any]) -> None:
    """Which of the run's entries were replayed, by which run (and its state now); and,
    for a replay, what it replayed."""
    record = ledger.replay_record(run_id)
    if record is not None:
        out["replay_of"] = {"run_id": record["replay_of"], "file": record["file"]}
    q = ledger.quarantine
    if "replayed_in" not in _present_columns(ledger):
        return  # a ledger from before replays, not installed again since
    with ledger.connect() as conn:
        counts = conn.execute(
            sa.select(q.c.table_name, q.c.replayed_in, sa.func.count())
            .where(where & q.c.replayed_in.is_not(None))
            .group_by(q.c.table_name, q.c.replayed_in)
            .order_by(q.c.table_name, q.c.replayed_in)
        ).all()
    for name, replay_id, n in counts:
        run = ledger.get_run(replay_id)
        state = run.state if run is not None else "unknown"
        replayed = out["tables"].setdefault(name, {"reasons": [], "entries": 0})
        replayed.setdefault("replayed", {})[replay_id] = {"entries": int(n), "state": state}


def _present_columns(ledger: Ledger) -> list[str]:
    """The quarantine table's columns that exist in the target (an older ledger lacks the
    newer nullable ones until a run installs them)."""
    with ledger.connect() as conn:
        have = {
            c["name"]
            for c in sa.inspect(conn).get_columns(ledger.quarantine.name, ledger.md.schema)
        }
    return [c.name for c in ledger.quarantine.columns if c.name in have]


def export(
    ledger: Ledger, run_id: str, out: Path, fmt: str = "csv", table: str | None = None
) -> int:
    """Write the run's quarantine rows to `out`; returns how many were written."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}; use csv or parquet")
    columns = _present_columns(ledger)
    q = ledger.quarantine
    query = sa.select(*[q.c[c] for c in columns]).where(q.c.run_id == run_id)
    if table is not None:
        query = query.where(q.c.table_name == table)
    with ledger.connect() as conn:
        rows = [dict(r._mapping) for r in conn.execute(query.order_by(q.c.id))]
    flat = [_flatten(r) for r in rows]
    extra = sorted({k for r in flat for k in r if k not in columns})
    frame = pd.DataFrame(flat, columns=[*columns, *extra])
    out.parent.mkdir(parents=True, exist_ok=True)
    if fmt == "csv":
        frame.to_csv(out, index=False)
    else:
        frame.to_parquet(out, index=False)
    return len(frame)


def _flatten(row: dict[str, Any]) -> dict[str, Any]:
    flat = dict(row)
    source = json.loads(row["source_row"]) if row.get("source_row") else None
    if isinstance(source, dict):
        for k, v in source.items():
            flat[SOURCE_PREFIX + str(k)] = None if v is None else str(v)
    return flat
