"""Planting defects into the clean legacy tables, exactly and at most one per row.

Quarantine-causing defects go on disjoint rows drawn from a shuffled order, never on a row
another defect points at (the first occurrence of a duplicated key, the orders of a
quarantined customer, the lines of a quarantined order), so what must be quarantined is
known exactly. Cleanable traits (null markers, unknown status, mixed-case email) go only
on rows that carry no quarantine defect, so every one of them must reach the target.
"""

from __future__ import annotations

from decimal import Decimal
from random import Random

from demo import _values as v
from demo._tables import Row, make_customer, make_line

RATES: dict[str, dict[str, float]] = {
    "CUSTMAST": {
        "duplicate_key": 0.005,
        "impossible_date": 0.003,
        "invalid_email": 0.01,
        "bad_number": 0.001,
    },
    "ORDHDR": {"orphan_customer": 0.005, "impossible_date": 0.003},
    "ORDLIN": {"orphan_order": 0.003, "bad_quantity": 0.002},
    "PRODUCTS": {},
}
CLEANABLE_RATES = {
    "null_marker:EMAIL": 0.02,
    "null_marker:CRTDT": 0.01,
    "unknown_status:STAT": 0.002,
    "mixed_case:EMAIL": 0.10,
}
CUSTOMER_ROW_DEFECTS = ("impossible_date", "invalid_email", "bad_number")
"""Defects that quarantine a customer's only (or first) row, so its orders cascade."""


def quota(rate: float, rows: int) -> int:
    """How many rows get a defect: at least one, so small demos still show every kind."""
    return max(1, round(rate * rows))


def _deal(rng: Random, pool: list[int], kinds: dict[str, float], rows: int) -> dict[str, list[int]]:
    """Disjoint, shuffled slices of `pool` per kind (fewer when the pool runs out)."""
    order = list(pool)
    rng.shuffle(order)
    dealt, start = {}, 0
    for kind, rate in kinds.items():
        take = quota(rate, rows)
        dealt[kind] = sorted(order[start : start + take])
        start += take
    return dealt


def _gaps(used: list[int], needed: int, rng: Random) -> list[int]:
    """`needed` numbers that are not in `used`: holes in the sequence, else past its end."""
    taken = set(used)
    holes = [n for n in range(min(used, default=1), max(used, default=0)) if n not in taken]
    if len(holes) < needed:
        top = max(used, default=0)
        holes += range(top + 1, top + 1 + needed - len(holes))
    return sorted(rng.sample(holes, needed))


# --- CUSTMAST -----------------------------------------------------------------------------


def plant_customers(rng: Random, rows: list[Row]) -> list[Row]:
    """Plant customer defects in place; return the table with the duplicate rows inserted,
    each somewhere after the (clean) first occurrence of its CUSTNO."""
    dealt = _deal(rng, list(range(len(rows))), RATES["CUSTMAST"], len(rows))
    for i in dealt["impossible_date"]:
        rows[i].raw["CRTDT"] = v.impossible_date(rng, rows[i].date_format)
    for i in dealt["invalid_email"]:
        rows[i].raw["EMAIL"] = v.invalid_email(rng, rows[i].clean["FNAME"], rows[i].clean["LNAME"])
    for i in dealt["bad_number"]:
        rows[i].raw["CRLIM"] = v.bad_number(rng, Decimal(rows[i].clean["CRLIM"]))
        rows[i].marks.discard("thousands_separator:CRLIM")
    for kind in CUSTOMER_ROW_DEFECTS:
        for i in dealt[kind]:
            rows[i].defect = kind
    clean = [i for i, row in enumerate(rows) if row.defect is None]
    _plant_customer_cleanables(rng, rows, clean)
    return _insert_duplicates(rng, rows, dealt["duplicate_key"])


def _plant_customer_cleanables(rng: Random, rows: list[Row], clean: list[int]) -> None:
    n = len(rows)
    for i in _sample(rng, clean, quota(CLEANABLE_RATES["null_marker:EMAIL"], n)):
        rows[i].raw["EMAIL"] = rng.choice(("N/A", ""))
        rows[i].clean["EMAIL"] = None
        rows[i].marks.add("null_marker:EMAIL")
    for i in _sample(rng, clean, quota(CLEANABLE_RATES["null_marker:CRTDT"], n)):
        rows[i].raw["CRTDT"] = rng.choice(("0000-00-00", "", "N/A"))
        rows[i].clean["CRTDT"] = None
        rows[i].marks.discard(f"date_format:CRTDT:{rows[i].date_format}")
        rows[i].marks.add("null_marker:CRTDT")
    for i in _sample(rng, clean, quota(CLEANABLE_RATES["unknown_status:STAT"], n)):
        rows[i].raw["STAT"], rows[i].clean["STAT"] = v.UNKNOWN_STATUS
        rows[i].marks.add("unknown_status:STAT")
    with_email = [i for i in clean if rows[i].clean["EMAIL"] is not None]
    for i in _sample(rng, with_email, quota(CLEANABLE_RATES["mixed_case:EMAIL"], n)):
        rows[i].raw["EMAIL"] = v.mixed_case(rng, rows[i].raw["EMAIL"])
        rows[i].marks.add("mixed_case:EMAIL")


def _sample(rng: Random, pool: list[int], count: int) -> list[int]:
    return sorted(rng.sample(pool, min(count, len(pool))))


def _insert_duplicates(rng: Random, rows: list[Row], sources: list[int]) -> list[Row]:
    after: dict[int, list[Row]] = {}
    for i in sources:
        first = rows[i]
        second = make_customer(rng, int(first.key))
        while second.values("CUSTMAST") == first.values("CUSTMAST"):
            second = make_customer(rng, int(first.key))
        second.defect = "duplicate_key"
        after.setdefault(rng.randint(i, len(rows) - 1), []).append(second)
    table: list[Row] = []
    for i, row in enumerate(rows):
        table.append(row)
        table.extend(after.get(i, []))
    return table


# --- ORDHDR / ORDLIN ----------------------------------------------------------------------


def plant_orders(
    rng: Random, orders: list[Row], bad_customers: set[str], custnos: list[int]
) -> None:
    """Orphan customers and impossible dates, only on orders of clean customers."""
    pool = [i for i, o in enumerate(orders) if o.raw["CUSTNO"] not in bad_customers]
    dealt = _deal(rng, pool, RATES["ORDHDR"], len(orders))
    missing = _gaps(custnos, len(dealt["orphan_customer"]), rng)
    for i, custno in zip(dealt["orphan_customer"], missing, strict=True):
        orders[i].raw["CUSTNO"] = f"{custno:07d}"
    for i in dealt["impossible_date"]:
        orders[i].raw["ORDDT"] = v.impossible_date(rng, orders[i].date_format)
    for kind, indexes in dealt.items():
        for i in indexes:
            orders[i].defect = kind


def plant_lines(
    rng: Random, lines: list[Row], bad_orders: set[int], ordnos: list[int], products: list[Row]
) -> list[Row]:
    """Bad quantities on lines of clean orders; orphan lines (of order numbers that do not
    exist) inserted where their number would sort. Returns the final ORDLIN table."""
    pool = [i for i, line in enumerate(lines) if line.raw["ORDNO"] not in bad_orders]
    rates = RATES["ORDLIN"]
    dealt = _deal(rng, pool, {"bad_quantity": rates["bad_quantity"]}, len(lines))
    for i in dealt["bad_quantity"]:
        lines[i].raw["QTY"] = v.bad_quantity(rng, lines[i].clean["QTY"])
        lines[i].defect = "bad_quantity"
    orphans = []
    for ordno in _gaps(ordnos, quota(rates["orphan_order"], len(lines)), rng):
        orphan = make_line(rng, ordno, 1, products)
        orphan.defect = "orphan_order"
        orphans.append(orphan)
    return sorted(lines + orphans, key=lambda row: (row.raw["ORDNO"], row.raw["LINNO"]))
