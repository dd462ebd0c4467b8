"""Column aggregates (count, null count, sum, min, max) of the rows a batch wrote, kept in
its ledger row, merged over the run and compared by reconciliation with the same figures
computed on the target's rows. Values are stored as `ferryman.codec` spells them, so Decimals
and dates survive the round trip exactly."""

from __future__ import annotations

import contextlib
import math
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from ferryman.codec import decode, encode

Aggregates = dict[str, dict[str, Any]]
STATS = ("count", "nulls", "sum", "min", "max")


def _summable(t: pa.DataType) -> bool:
    return pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_decimal(t)


def _orderable(t: pa.DataType) -> bool:
    return (
        _summable(t)
        or pa.types.is_string(t)
        or pa.types.is_large_string(t)
        or pa.types.is_temporal(t)
    )


def column_aggregates(table: pa.Table) -> Aggregates:
    """Per column: rows, nulls, and sum / min / max where the type has them."""
    out: Aggregates = {}
    for name in table.column_names:
        col = table.column(name)
        stats: dict[str, Any] = {"count": len(col), "nulls": col.null_count}
        if _summable(col.type):
            # A decimal sum past 38 digits cannot be had; min/max still say something.
            with contextlib.suppress(pa.ArrowInvalid, pa.ArrowNotImplementedError):
                stats["sum"] = encode(pc.sum(col).as_py())
        if _orderable(col.type) and len(col) > col.null_count:
            mm = pc.min_max(col)
            stats["min"], stats["max"] = encode(mm["min"].as_py()), encode(mm["max"].as_py())
        out[name] = stats
    return out


def merge(a: Aggregates, b: Aggregates) -> Aggregates:
    """The aggregates of two sets of rows from theirs."""
    out: Aggregates = {c: dict(s) for c, s in a.items()}
    for col, s in b.items():
        if col not in out:
            out[col] = dict(s)
            continue
        m = out[col]
        m["count"] = m.get("count", 0) + s.get("count", 0)
        m["nulls"] = m.get("nulls", 0) + s.get("nulls", 0)
        for stat, pick in (("sum", None), ("min", min), ("max", max)):
            x, y = decode(m.get(stat)), decode(s.get(stat))
            if x is None or y is None:
                value = x if y is None else y
            else:
                value = x + y if pick is None else pick(x, y)
            if value is None:
                m.pop(stat, None)
            else:
                m[stat] = encode(value)
    return out


def _same(x: Any, y: Any) -> bool:
    if isinstance(x, float) or isinstance(y, float):
        return x is not None and y is not None and math.isclose(x, y, rel_tol=1e-9)
    return bool(x == y)


def differences(table: str, loaded: Aggregates, target: Aggregates) -> list[str]:
    """Readable differences, one per column and statistic."""
    found = []
    for col, stats in loaded.items():
        now = target.get(col, {"count": 0, "nulls": 0})
        for stat in STATS:
            x, y = decode(stats.get(stat)), decode(now.get(stat))
            if not _same(x, y):
                found.append(f"{table}.{col} {stat}: loaded {x!r}, target {y!r}")
    return found
