"""Values a database handed back, as Arrow arrays of the types ferryman wrote."""

from __future__ import annotations

from typing import Any

import pyarrow as pa
import pyarrow.compute as pc


def typed_array(values: list[Any], t: pa.DataType) -> pa.Array:
    """`values` as an Arrow array of type `t`; engines hand back their own spellings
    (MariaDB's booleans are 0/1, SQLite may keep a number in any column): coerce those."""
    try:
        return pa.array(values, type=t)
    except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError, ValueError):
        if pa.types.is_boolean(t):
            return pa.array([None if v is None else bool(v) for v in values])
        return pc.cast(pa.array(values), t, safe=False)
