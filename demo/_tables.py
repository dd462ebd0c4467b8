"""Clean rows of the legacy CRM, before any defect is planted.

Each `Row` carries the raw values as the old system stored them, the clean values a
correct mapping must produce from them (computed from the truth, not by parsing the raw
text back), and `marks`: the cleanable traits it has (`padded:FNAME`,
`date_format:CRTDT:YYYYMMDD`, ...), which the manifest counts.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from random import Random
from typing import Any

from demo import _values as v

COLUMNS: dict[str, tuple[str, ...]] = {
    "CUSTMAST": ("CUSTNO", "FNAME", "LNAME", "EMAIL", "STAT", "CRTDT", "CRLIM", "CNTRY"),
    "ORDHDR": ("ORDNO", "CUSTNO", "ORDDT", "ORDSTS", "TOTAMT"),
    "ORDLIN": ("ORDNO", "LINNO", "PRODCD", "QTY", "UNITPR"),
    "PRODUCTS": ("PRODCD", "DESCR", "PRICE", "CATEG"),
}
PRODUCT_COUNT = 200
FIRST_ORDNO = 100_000
_CUSTOMER_SINCE = (date(1995, 1, 1), date(2024, 12, 31))
_ORDERS_SINCE = (date(2015, 1, 1), date(2024, 12, 31))


@dataclass(slots=True)
class Row:
    """One source row: its key, raw values, expected clean values and cleanable marks."""

    key: Any
    """CUSTNO (str), ORDNO (int), [ORDNO, LINNO] or PRODCD (str): as the manifest lists it."""
    raw: dict[str, Any]
    clean: dict[str, Any]
    marks: set[str] = field(default_factory=set)
    date_format: str = ""
    price: Decimal = Decimal(0)
    """The true amount behind the row's main money column (products: PRICE)."""
    defect: str | None = None
    """The one quarantine-causing defect planted on this row, if any."""

    def values(self, table: str) -> tuple[Any, ...]:
        return tuple(self.raw[c] for c in COLUMNS[table])


def _money_marks(column: str, amount: Decimal) -> set[str]:
    return {f"thousands_separator:{column}"} if amount >= 1000 else set()


def build_products(rng: Random) -> list[Row]:
    """The product export; every description noun appears at least once (cycled)."""
    rows = []
    categs = list(v.PRODUCT_NOUNS)
    for i in range(PRODUCT_COUNT):
        categ = categs[i % len(categs)]
        nouns = v.PRODUCT_NOUNS[categ]
        descr = nouns[(i // len(categs)) % len(nouns)] + v.pick(rng, v.PRODUCT_QUALIFIERS)
        price = v.product_price(rng, categ)
        code = f"{categ}{10_000 + i * 7:05d}"
        marks = _money_marks("PRICE", price)
        if not descr.isascii():
            marks.add("cp1252_text:DESCR")
        if "," in descr or '"' in descr:
            marks.add("quoted:DESCR")
        raw = {"PRODCD": code, "DESCR": descr, "PRICE": v.money(price), "CATEG": categ}
        clean = {"DESCR": descr, "PRICE": v.decimal_text(price), "CATEG": v.CATEGORIES[categ]}
        rows.append(Row(code, raw, clean, marks, price=price))
    return rows


def customer_numbers(rng: Random, count: int) -> list[int]:
    """Ascending customer numbers with gaps (deleted customers), as real CRMs have."""
    numbers, current = [], 0
    for _ in range(count):
        current += 1 if rng.random() < 0.9 else v.between(rng, 2, 3)
        numbers.append(current)
    return numbers


def make_customer(rng: Random, custno: int) -> Row:
    first, last = v.pick(rng, v.FIRST_NAMES), v.pick(rng, v.LAST_NAMES)
    address = v.email(rng, first, last)
    stat = v.status(rng)
    created = v.random_date(rng, *_CUSTOMER_SINCE)
    fmt = v.pick(rng, v.DATE_FORMATS)
    limit = v.credit_limit(rng)
    cntry = v.country(rng)
    key = f"{custno:07d}"
    raw = {
        "CUSTNO": key,
        "FNAME": first.ljust(v.FNAME_WIDTH),
        "LNAME": last.ljust(v.LNAME_WIDTH),
        "EMAIL": address,
        "STAT": stat,
        "CRTDT": v.format_date(created, fmt),
        "CRLIM": v.money(limit),
        "CNTRY": cntry,
    }
    clean = {
        "FNAME": first,
        "LNAME": last,
        "EMAIL": address,
        "STAT": v.STATUS[stat],
        "CRTDT": created.isoformat(),
        "CRLIM": v.decimal_text(limit),
        "CNTRY": cntry,
    }
    marks = {f"date_format:CRTDT:{fmt}"} | _money_marks("CRLIM", limit)
    marks |= {f"padded:{c}" for c in ("FNAME", "LNAME") if raw[c] != raw[c].rstrip()}
    return Row(key, raw, clean, marks, fmt)


def build_customers(rng: Random, count: int) -> list[Row]:
    return [make_customer(rng, n) for n in customer_numbers(rng, count)]


@dataclass(frozen=True, slots=True)
class _Item:
    """A product as an order line sees it, formatted once (lines are the bulk of the data)."""

    code: str
    raw_price: str
    clean_price: str
    price: Decimal
    marks: frozenset[str]

    @classmethod
    def of(cls, product: Row) -> _Item:
        marks = {"thousands_separator:UNITPR"} if product.price >= 1000 else set()
        return cls(
            product.key,
            product.raw["PRICE"],
            product.clean["PRICE"],
            product.price,
            frozenset(marks),
        )


_QUANTITIES = (1, 1, 1, 2, 2, 3, 4, 5, 6, 10, 12, 24)


def _make_line(rng: Random, ordno: int, linno: int, item: _Item) -> tuple[Row, Decimal]:
    qty = v.pick(rng, _QUANTITIES)
    raw = {
        "ORDNO": ordno,
        "LINNO": linno,
        "PRODCD": item.code,
        "QTY": str(qty),
        "UNITPR": item.raw_price,
    }
    clean = {"PRODCD": item.code, "QTY": qty, "UNITPR": item.clean_price}
    return Row([ordno, linno], raw, clean, set(item.marks)), qty * item.price


def make_line(rng: Random, ordno: int, linno: int, products: list[Row]) -> Row:
    return _make_line(rng, ordno, linno, _Item.of(v.pick(rng, products)))[0]


def _make_order(rng: Random, ordno: int, custno: str, items: list[_Item]) -> tuple[Row, list[Row]]:
    lines, total = [], Decimal(0)
    for linno in range(1, v.between(rng, 1, 4) + 1):
        line, amount = _make_line(rng, ordno, linno, v.pick(rng, items))
        lines.append(line)
        total += amount
    ordered = v.random_date(rng, *_ORDERS_SINCE)
    fmt = v.pick(rng, v.DATE_FORMATS)
    sts = v.order_status(rng)
    raw = {
        "ORDNO": ordno,
        "CUSTNO": custno,
        "ORDDT": v.format_date(ordered, fmt),
        "ORDSTS": sts,
        "TOTAMT": v.money(total),
    }
    clean = {
        "ORDDT": ordered.isoformat(),
        "ORDSTS": v.ORDER_STATUS[sts],
        "TOTAMT": v.decimal_text(total),
    }
    marks = {f"date_format:ORDDT:{fmt}"} | _money_marks("TOTAMT", total)
    return Row(ordno, raw, clean, marks, fmt), lines


def build_orders(
    rng: Random, customers: list[Row], must_order: set[str], products: list[Row]
) -> tuple[list[Row], list[Row]]:
    """Orders (0 to 6 per customer, 3 on average) in random customer order, with ascending
    order numbers that have gaps; and their lines (1 to 4 per order). TOTAMT is the sum of
    the lines, as the old system computed it. Customers in `must_order` get at least one
    order, so that the cascade from a quarantined customer is always exercised."""
    slots: list[str] = []
    for customer in customers:
        count = v.between(rng, 0, 6)
        if count == 0 and customer.key in must_order:
            count = 1
        slots.extend([customer.key] * count)
    rng.shuffle(slots)
    items = [_Item.of(p) for p in products]
    orders, lines, ordno = [], [], FIRST_ORDNO
    for custno in slots:
        ordno += 1 if rng.random() < 0.92 else v.between(rng, 2, 4)
        order, order_lines = _make_order(rng, ordno, custno, items)
        orders.append(order)
        lines.extend(order_lines)
    return orders, lines
