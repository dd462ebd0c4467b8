"""The batch as GX sees it: a pandas frame of the target columns, built from the Arrow
batch so that GX's verdicts are exact and its pandas code takes its fast paths."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

INTERNAL_PREFIX = "__ferryman_"
"""Columns of a mapped batch that are ferryman's (row position, row index), not GX's."""


# Expectations whose GX pandas code is vectorised on NumPy int64/float64 columns but loops
# in Python over Arrow-backed ones (`expect_column_values_to_be_between` maps a Python
# function over every value of an Arrow column: 40 ms per 50,000 rows), and whose verdicts
# are the same either way. A column read only by these goes to GX as NumPy when that
# loses nothing (see `to_frame`).
_NUMPY_SAFE = frozenset(
    {
        "expect_column_values_to_be_between",
        "expect_column_values_to_not_be_null",
        "expect_column_values_to_be_null",
        "expect_column_values_to_be_in_set",
        "expect_column_values_to_not_be_in_set",
        "expect_column_values_to_be_unique",
        "expect_column_min_to_be_between",
        "expect_column_max_to_be_between",
        "expect_column_mean_to_be_between",
        "expect_column_sum_to_be_between",
    }
)


def numpy_safe_columns(checks: Iterable[tuple[str, Any, Iterable[str]]]) -> frozenset[str]:
    """Columns that only `_NUMPY_SAFE` expectations read, given each check's (type,
    expectation, columns). GX's own classes only: a custom subclass may change what its
    parent does."""
    safe: set[str] = set()
    unsafe: set[str] = set()
    for type_, expectation, columns in checks:
        gx_own = type(expectation).__module__.startswith("great_expectations.")
        (safe if gx_own and type_ in _NUMPY_SAFE else unsafe).update(columns)
    return frozenset(safe - unsafe)


def to_frame(rows: pa.Table, numpy_columns: Iterable[str] = ()) -> pd.DataFrame:
    """The batch as GX sees it: target columns only, Arrow-backed dtypes, index 0..n-1.

    Arrow dtypes keep ints with nulls as ints and dates as dates (GX 1.24 compares date32
    and timestamp columns with date bounds correctly). One exception, found by testing
    GX 1.24 on pandas 3: on an Arrow decimal column `expect_column_values_to_be_in_set`
    and `..._not_be_in_set` raise ("Rescaling Decimal value would cause data loss" when
    the set holds integers), and as Python `Decimal` objects mean/stdev/sum fail on nulls.
    Decimals therefore go to GX as float64, which is what GX compares them with anyway (it
    parses `min_value`/`max_value` into floats); beyond 15 significant digits comparisons
    are approximate. Rejects quote the exact decimal from the batch, never the float.

    Speed: numeric columns named in `numpy_columns` (read only by expectations that GX
    vectorises on NumPy, see `_NUMPY_SAFE`) go to GX as NumPy int64/float64 instead, when
    nothing is lost: integers without nulls; floats (and decimals) without NaN values, their
    nulls becoming NaN, which GX takes for null as it does Arrow's nulls.
    """
    keep = [name for name in rows.column_names if not name.startswith(INTERNAL_PREFIX)]
    table = rows.select(keep)
    wanted = set(numpy_columns)
    plain: dict[str, Any] = {}
    for i, field in enumerate(table.schema):
        column = table.column(i)
        if pa.types.is_decimal(field.type):
            column = pc.cast(column, pa.float64())
            table = table.set_column(i, field.name, column)
        if field.name in wanted:
            as_numpy = _as_numpy(column)
            if as_numpy is not None:
                plain[field.name] = as_numpy
    frame = table.to_pandas(types_mapper=pd.ArrowDtype)
    for name, values in plain.items():
        frame[name] = values
    return frame


def _as_numpy(column: pa.ChunkedArray) -> Any:
    """The column as a NumPy int64/float64 array when that keeps every verdict, else None."""
    kind = column.type
    if pa.types.is_integer(kind) and column.null_count == 0:
        return column.cast(pa.int64()).to_numpy()
    if pa.types.is_floating(kind) and not pc.any(pc.is_nan(column)).as_py():
        return column.cast(pa.float64()).to_numpy()  # nulls become NaN
    return None
