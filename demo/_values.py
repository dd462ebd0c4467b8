"""Vocabulary and value formatting of the legacy CRM: how the old system wrote things.

Everything takes the caller's `random.Random`, never the global one, so that one seed gives
one byte-identical legacy system. Clean values (what a correct mapping must produce) are
kept beside the raw text by the table builders; nothing here parses raw text back.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence
from datetime import date, timedelta
from decimal import Decimal
from random import Random
from typing import TypeVar

T = TypeVar("T")

DATE_FORMATS: tuple[str, ...] = ("YYYYMMDD", "DD/MM/YYYY", "YYYY-MM-DD")
STRPTIME = {"YYYYMMDD": "%Y%m%d", "DD/MM/YYYY": "%d/%m/%Y", "YYYY-MM-DD": "%Y-%m-%d"}

STATUS = {"A": "active", "I": "inactive", "S": "suspended", "C": "closed"}
UNKNOWN_STATUS = ("Z", "unknown")
ORDER_STATUS = {"O": "open", "S": "shipped", "X": "cancelled", "H": "on_hold"}
CATEGORIES = {"HW": "hardware", "SW": "software", "SV": "service", "AC": "accessory"}

_STATUS_WEIGHTS = {"A": 70, "I": 15, "S": 5, "C": 10}
_ORDER_STATUS_WEIGHTS = {"O": 15, "S": 70, "X": 10, "H": 5}
_COUNTRY_WEIGHTS = {
    "US": 30, "GB": 12, "DE": 14, "FR": 12, "ES": 6, "IT": 6, "NL": 5,
    "BE": 3, "CH": 3, "AT": 3, "IE": 2, "PT": 2, "SE": 1, "CA": 1,
}  # fmt: skip

# A few names fill their fixed-width column exactly, so not every row is padded.
FIRST_NAMES = (
    "John", "Mary", "James", "Patricia", "Robert", "Jennifer", "Michael", "Linda",
    "David", "Elizabeth", "José", "François", "Zoë", "Björn", "Jürgen", "Anaïs",
    "Søren", "Ines", "Marco", "Chloé", "Sean", "Aoife", "Lars", "Marie-Christine",
    "Anne-Catherine", "Pieter", "Lucía", "Matthias", "Émile", "Greta",
)  # fmt: skip
LAST_NAMES = (
    "Smith", "Johnson", "Müller", "García", "Dubois", "Rossi", "Jansen", "O'Brien",
    "Schmidt", "Martin", "Fernández", "Bernard", "Peeters", "Lefèvre", "Weiß",
    "Murphy", "Andersson", "Kowalski", "Novak", "Vandenberghe-Lambert", "Nguyen",
    "Brown", "Wilson", "Taylor", "Hoffmann", "Moreau", "Costa", "Svensson",
)  # fmt: skip
FNAME_WIDTH = 15
LNAME_WIDTH = 20
_DOMAINS = ("example.com", "example.org", "example.net", "mail.example.de", "post.example.fr")

# Product descriptions: cp1252-only characters (é ü ß € ’ –), commas, inch marks.
PRODUCT_NOUNS = {
    "HW": (
        'Écran 27" IPS', "Câble réseau Cat6, 5 m", "Clavier AZERTY – sans fil",
        "Tastatur QWERTZ, Büro", "Präzisionswaage 0,01 g", "Serveur rack 1U",
        "Lötstation – 80 W", "Maus für Linkshänder", "Disque dur 2 To",
    ),
    "SW": (
        "Buchhaltung Pro – Lizenz", "Logiciel de paie, 1 an", "Antivirus Café Edition",
        "Office Suite Größe M", "Müller’s Lagerverwaltung", "CRM Mise à jour",
    ),
    "SV": (
        "Installation sur site (€/h)", "Wartung – 12 Monate", "Schulung für Anwender",
        "Support prémium 24/7", "Einrichtung & Übergabe", "Conseil, demi-journée",
    ),
    "AC": (
        'Sacoche ordinateur 15"', "Câble USB-C – 2 m", "Adapter für Europa, 3er",
        "Tapis de souris ‘Café’", "Netzteil 65 W – Ersatz", "Fußstütze, verstellbar",
    ),
}  # fmt: skip
PRODUCT_QUALIFIERS = ("", "", "", " (lot de 5)", ", weiß", " – édition 2019", " 2€ Rabatt", " XL")
_PRODUCT_PRICE_RANGE = {"HW": (15, 1999), "SW": (49, 2999), "SV": (80, 2500), "AC": (5, 199)}
_CENTS = ("00", "50", "90", "99")


def pick(rng: Random, items: Sequence[T]) -> T:
    """`rng.choice`, twice as fast: one C-level `random()` call instead of a bit-rejection
    loop. Tens of thousands of rows draw several values each, so this is the hot path."""
    return items[int(rng.random() * len(items))]


def between(rng: Random, low: int, high: int) -> int:
    """`rng.randint(low, high)` (both ends included), through `pick`'s fast path."""
    return low + int(rng.random() * (high - low + 1))


def _urn(weights: dict[str, int]) -> tuple[str, ...]:
    """Each key repeated by its weight: one `pick` draws in proportion (and is several
    times faster than `rng.choices`, which matters at 60,000 orders)."""
    return tuple(key for key, weight in weights.items() for _ in range(weight))


_STATUS_URN = _urn(_STATUS_WEIGHTS)
_ORDER_STATUS_URN = _urn(_ORDER_STATUS_WEIGHTS)
_COUNTRY_URN = _urn(_COUNTRY_WEIGHTS)


def status(rng: Random) -> str:
    return pick(rng, _STATUS_URN)


def order_status(rng: Random) -> str:
    return pick(rng, _ORDER_STATUS_URN)


def country(rng: Random) -> str:
    return pick(rng, _COUNTRY_URN)


def random_date(rng: Random, first: date, last: date) -> date:
    return first + timedelta(days=between(rng, 0, (last - first).days))


def format_date(d: date, fmt: str) -> str:
    return _render_date(d.year, d.month, d.day, fmt)


def _render_date(year: int, month: int, day: int, fmt: str) -> str:
    if fmt == "YYYYMMDD":
        return f"{year:04d}{month:02d}{day:02d}"
    if fmt == "DD/MM/YYYY":
        return f"{day:02d}/{month:02d}/{year:04d}"
    return f"{year:04d}-{month:02d}-{day:02d}"


def impossible_date(rng: Random, fmt: str) -> str:
    """A date the old system accepted but the calendar does not: Feb 30, Apr 31, month 13,
    Feb 29 of a common year. Written in `fmt`, the row's own format."""
    year = between(rng, 2000, 2023)
    kind = rng.randrange(4)
    if kind == 0:
        month, day = 2, pick(rng, (30, 31))
    elif kind == 1:
        month, day = pick(rng, (4, 6, 9, 11)), 31
    elif kind == 2:
        month, day = 13, between(rng, 1, 28)
    else:
        year = pick(rng, [y for y in range(2001, 2024) if y % 4])
        month, day = 2, 29
    return _render_date(year, month, day, fmt)


def money(amount: Decimal) -> str:
    """The legacy money text: '12,500.00', '800.00'."""
    return f"{amount:,.2f}"


def decimal_text(amount: Decimal) -> str:
    """The clean decimal a mapping must produce: '12500.00'."""
    return f"{amount:.2f}"


def credit_limit(rng: Random) -> Decimal:
    """A quarter of customers get a small limit (50 to 950), the rest 1,000 to 50,000."""
    if rng.random() < 0.25:
        return Decimal(between(rng, 1, 19) * 50)
    return Decimal(between(rng, 2, 100) * 500)


def product_price(rng: Random, categ: str) -> Decimal:
    low, high = _PRODUCT_PRICE_RANGE[categ]
    return Decimal(f"{between(rng, low, high)}.{pick(rng, _CENTS)}")


def bad_number(rng: Random, amount: Decimal) -> str:
    """Credit-limit text no number parser should accept."""
    european = money(amount).replace(",", "_").replace(".", ",").replace("_", ".")
    return pick(rng, (f"{european}x", "ABC", "#VALUE!", money(amount).replace("0", "O", 1)))


def bad_quantity(rng: Random, qty: int) -> str:
    """Quantity text that is not an integer: a word, or a letter O typed for a zero."""
    return pick(rng, ("ABC", f"{qty}O", f"O{qty}"))


def _ascii(text: str) -> str:
    folded = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    return "".join(c for c in folded.lower() if c.isalnum() or c == "-")


def email(rng: Random, first: str, last: str) -> str:
    """A valid, lower-case `local@domain.tld`."""
    suffix = str(between(rng, 1, 99)) if rng.random() < 0.4 else ""
    return f"{_ascii(first)}.{_ascii(last)}{suffix}@{pick(rng, _DOMAINS)}"


def mixed_case(rng: Random, address: str) -> str:
    """The same address as a human typed it: 'John.Doe@Example.Com' or all upper case."""
    return address.title() if rng.random() < 0.7 else address.upper()


def invalid_email(rng: Random, first: str, last: str) -> str:
    """An address no email rule accepts (lower case, so it is not also 'mixed case')."""
    good = email(rng, first, last)
    local, domain = good.split("@")
    return pick(
        rng,
        (
            f"{local}@",  # no domain
            f"{local}.{domain}",  # no at sign
            f"{_ascii(first)} {_ascii(last)}@{domain}",  # a space
            f"{local}@{domain.split('.')[0]}",  # no top-level domain
            f"{local}@@{domain}",  # two at signs
        ),
    )
