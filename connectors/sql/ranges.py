"""Key order, key ranges and resume tokens of the SQL source.

A keyed table is read in ascending key order with NULLs first (SQLite's and MariaDB's
order; PostgreSQL is told `NULLS FIRST`). A partitioned read splits the key space of its
first key column (the partition column) into half-open ranges, read one after the other:

    range 0            P IS NULL                (only when P may hold NULL)
    first value range  P < b1                   (no lower limit: nothing below the minimum
    ...                b_i <= P < b_(i+1)        is ever missed)
    last value range   P >= b_last              (no upper limit)

so every row falls in exactly one range, whatever the limits are, and the ranges in order
give the same row order as an unpartitioned read. A resume token holds the key column
names, the limits, the range and the last key read in it; every comparison is made by the
database, so collations and type rules are the engine's own on both sides of a boundary.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from ferryman import codec
from ferryman.connectors.errors import TerminalError


@dataclass(frozen=True, eq=False)
class KeyColumn:
    """One column of the read order: its name (or `__ferryman_rowid`), the expression to
    select, order and compare by, and where its value sits in a selected row."""

    name: str
    expr: sa.ColumnElement[Any]
    index: int
    nullable: bool


@dataclass(frozen=True)
class KeyRange:
    """One range of the partition column: the NULL range, or `lo <= P < hi` (None: no
    limit). The range of an unpartitioned read has no condition at all (`whole`)."""

    number: int
    nulls: bool = False
    lo: Any = None
    hi: Any = None
    whole: bool = False

    def conditions(self, column: KeyColumn) -> list[sa.ColumnElement[bool]]:
        if self.whole:
            return []
        if self.nulls:
            return [column.expr.is_(None)]
        out: list[sa.ColumnElement[bool]] = []
        if column.nullable:
            out.append(column.expr.is_not(None))
        if self.lo is not None:
            out.append(column.expr >= self.lo)
        if self.hi is not None:
            out.append(column.expr < self.hi)
        return out

    def describe(self, column: str) -> str:
        if self.whole:
            return "the whole table"
        if self.nulls:
            return f"{column} IS NULL"
        low = "" if self.lo is None else f"{self.lo!r} <= "
        high = "" if self.hi is None else f" < {self.hi!r}"
        return f"{low}{column}{high}" if (low or high) else f"{column} IS NOT NULL"


def plan_ranges(bounds: Sequence[Any] | None, null_range: bool) -> list[KeyRange]:
    """The ranges of a partitioned read (bounds ascending), or the one range of an
    unpartitioned read (bounds None)."""
    if bounds is None:
        return [KeyRange(0, whole=True)]
    out = [KeyRange(0, nulls=True)] if null_range else []
    limits: list[Any] = [None, *bounds, None]
    for lo, hi in zip(limits, limits[1:], strict=False):
        out.append(KeyRange(len(out), lo=lo, hi=hi))
    return out


def order_by(key: Sequence[KeyColumn], dialect: str) -> list[sa.ColumnElement[Any]]:
    """ORDER BY the key, ascending, NULLs first on every engine."""
    nulls_first_by_default = dialect in ("sqlite", "mysql", "mariadb", "mssql")
    return [
        k.expr.asc().nulls_first() if k.nullable and not nulls_first_by_default else k.expr.asc()
        for k in key
    ]


def after_key(key: Sequence[KeyColumn], last: Sequence[Any]) -> sa.ColumnElement[bool]:
    """Rows strictly after `last` in the key order (ascending, NULLs first).

    Written out as `k1 > l1 OR (k1 = l1 AND k2 > l2) OR ...` with NULL-aware comparisons
    (after NULL comes every value; only NULL equals NULL), so a NULL in a key (SQLite lets
    a TEXT primary key hold one) is neither skipped nor read twice.
    """
    terms: list[sa.ColumnElement[bool]] = []
    equal: list[sa.ColumnElement[bool]] = []
    for col, value in zip(key, last, strict=True):
        if value is None:
            greater, same = col.expr.is_not(None), col.expr.is_(None)
        else:
            greater, same = col.expr > value, col.expr == value
        terms.append(sa.and_(*equal, greater) if equal else greater)
        equal.append(same)
    return sa.or_(*terms)


def find_bounds(
    conn: Connection, table: sa.Table, column: KeyColumn, ranges: int, method: str
) -> list[Any]:
    """Ascending, distinct range limits (at most `ranges - 1`) for the partition column."""
    if ranges <= 1:
        return []
    if method == "min_max":
        return _min_max_bounds(conn, table, column, ranges)
    tile = sa.func.ntile(ranges).over(order_by=column.expr).label("tile")
    inner = (
        sa.select(column.expr.label("k"), tile)
        .select_from(table)
        .where(column.expr.is_not(None))
        .subquery()
    )
    query = sa.select(sa.func.min(inner.c.k)).group_by(inner.c.tile).order_by(inner.c.tile)
    firsts = [row[0] for row in conn.execute(query)][1:]
    return [v for i, v in enumerate(firsts) if i == 0 or v != firsts[i - 1]]


def _min_max_bounds(conn: Connection, table: sa.Table, column: KeyColumn, ranges: int) -> list[Any]:
    try:
        integer = column.expr.type.python_type is int
    except NotImplementedError:
        integer = False
    if not integer:
        raise TerminalError(
            f"table {table.name!r}: `partition: {{bounds: min_max}}` splits an integer range,"
            f" but {column.name!r} is {column.expr.type}; use `bounds: quantiles` (any type)"
            " or name an integer column in `partition.column`"
        )
    lo, hi = conn.execute(
        sa.select(sa.func.min(column.expr), sa.func.max(column.expr)).select_from(table)
    ).one()
    if lo is None:
        return []
    lo, width = int(lo), int(hi) - int(lo) + 1
    return sorted({lo + width * i // ranges for i in range(1, ranges)} - {lo})


# --- resume tokens: key values as JSON ---------------------------------------------------

_LEGACY_TAGS = {
    "decimal": codec.DECIMAL,
    "datetime": codec.DATETIME,
    "date": codec.DATE,
    "time": codec.TIME,
    "bytes": codec.BYTES,
    "uuid": codec.UUID,
    "float": codec.FLOAT,
}
"""How positions written before `ferryman.codec` spelt the types (`{"decimal": "1.5"}`): a
run started then still resumes. A key value is never a JSON document, so these cannot be
mistaken for one."""


def encode_value(value: Any) -> Any:
    """A key value as JSON that `decode_value` turns back into the same Python value."""
    if not isinstance(value, dict | list | tuple):  # a JSON document is no key
        with contextlib.suppress(codec.NotEncodable):
            return codec.encode(value)
    raise TerminalError(
        f"a key value of type {type(value).__name__} cannot be kept in a resume position;"
        " read this table by another key (`partition.column`) of a plain type"
        " (number, text, date, timestamp, bytes)"
    )


def decode_value(value: Any) -> Any:
    if isinstance(value, dict) and len(value) == 1:
        ((tag, text),) = value.items()
        if tag in _LEGACY_TAGS:
            return codec.decode({_LEGACY_TAGS[tag]: text})
    return codec.decode(value)
