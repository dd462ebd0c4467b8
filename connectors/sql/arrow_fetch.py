"""Rows of a target table read back as Arrow, typed as ferryman wrote them.

Reconciliation re-hashes the rows a run wrote: it needs them as an Arrow table of the
schema that was written, every value as `SqlTarget.fetch_by_keys` followed by
`ferryman.flows.ledger.fingerprint.rows_to_arrow` would give it, so that they hash alike.

PostgreSQL: one `COPY (SELECT ...) TO STDOUT (FORMAT csv)`, parsed by pyarrow in C straight
into the schema's types, when every column is a pair of (Arrow type, column type) listed
in `_pg_reader` whose CSV text reads back as exactly the value psycopg would hand back.
The settings that spell that text are pinned for the statement (UTC, ISO dates,
shortest-exact floats, hex bytea) and restored after it. jsonb is brought to canonical
JSON text and bytea decoded per value, as the column types do. Any other pair, a connection
whose client encoding is not UTF-8, or a value pyarrow refuses (an infinite date, a numeric
with more decimals than the schema's) makes `pg_copy` return None: the caller then reads
through SQLAlchemy, as on every other engine, and `rows_to_table` turns the rows into Arrow
one column at a time with the coercions `rows_to_arrow` makes (MariaDB's booleans as 0/1).
"""

from __future__ import annotations

import io
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import pyarrow as pa
import pyarrow.csv as pacsv
from sqlalchemy.engine import Connection

from ferryman.connectors.arrow_values import typed_array
from ferryman.connectors.json_text import canonical_json
from ferryman.connectors.sql import pgcopy

# PostgreSQL type OIDs beyond pgcopy's
JSON, UUID, JSONB = 114, 2950, 3802
_INTEGERS = (pgcopy.INT2, pgcopy.INT4, pgcopy.INT8)
_TEXTS = (pgcopy.TEXT, pgcopy.VARCHAR, pgcopy.BPCHAR, UUID, JSON)

# Session settings that decide how COPY spells values, pinned for the statement.
_SETTINGS = {
    "TimeZone": "UTC",
    "DateStyle": "ISO, YMD",
    "extra_float_digits": "1",  # shortest text that reads back as the same double
    "bytea_output": "hex",
}


@dataclass(frozen=True)
class PgColumn:
    """How one column is selected and read: the SQL expression, the type pyarrow parses
    its CSV text as, and what then turns that into the schema's type (None: nothing)."""

    expression: str
    csv_type: pa.DataType
    finish: Callable[[pa.ChunkedArray], pa.ChunkedArray | pa.Array] | None = None


def pg_plan(schema: pa.Schema, oids: dict[str, int]) -> list[PgColumn] | None:
    """The columns of `schema`, read from a table whose columns have the type OIDs `oids`,
    or None when one of them has no exact CSV reading (see the module doc)."""
    plan = []
    for field in schema:
        oid = oids.get(field.name)
        reader = None if oid is None else _pg_reader(field.type, oid)
        if reader is None:
            return None
        csv_type, finish = reader
        plan.append(PgColumn(pgcopy.quote(field.name), csv_type, finish))
    return plan


Reader = tuple[pa.DataType, Callable[[pa.ChunkedArray], pa.ChunkedArray | pa.Array] | None]


def _text(t: pa.DataType) -> bool:
    return bool(pa.types.is_string(t) or pa.types.is_large_string(t))


def _microseconds(t: pa.DataType) -> bool:
    return bool(getattr(t, "unit", None) == "us")


# (Arrow type, PostgreSQL types) whose COPY CSV text pyarrow parses into exactly the value
# psycopg hands back; a value out of the Arrow type's range or precision (a bigint into
# int32, a third decimal, NaN, an infinite date) makes pyarrow refuse the whole text.
_AS_IS: list[tuple[Callable[[pa.DataType], bool], tuple[int, ...]]] = [
    (pa.types.is_integer, _INTEGERS),
    (pa.types.is_float64, (pgcopy.FLOAT4, pgcopy.FLOAT8)),
    (pa.types.is_boolean, (pgcopy.BOOL,)),
    (pa.types.is_decimal128, (pgcopy.NUMERIC,)),
    (_text, _TEXTS),
    (pa.types.is_date32, (pgcopy.DATE,)),
    (lambda t: pa.types.is_time64(t) and _microseconds(t), (pgcopy.TIME,)),
    (lambda t: pa.types.is_timestamp(t) and _microseconds(t) and t.tz is None, (pgcopy.TIMESTAMP,)),
]


def _pg_reader(t: pa.DataType, oid: int) -> Reader | None:
    """How a column of PostgreSQL type `oid` is read as Arrow type `t` exactly, if it can."""
    if any(kind(t) and oid in oids for kind, oids in _AS_IS):
        return t, None
    if _text(t) and oid == JSONB:  # jsonb keeps the value, not the text: as JsonText reads it
        return t, lambda column: _per_value(column, canonical_json, t)
    if pa.types.is_timestamp(t) and _microseconds(t) and t.tz and oid == pgcopy.TIMESTAMPTZ:
        utc = pa.timestamp("us", tz="UTC")  # the text is in UTC (`_SETTINGS`)
        return utc, None if t.tz == "UTC" else lambda column: column.cast(t)
    if (pa.types.is_binary(t) or pa.types.is_large_binary(t)) and oid == pgcopy.BYTEA:
        return pa.string(), lambda column: _per_value(column, _unhex, t)
    return None


def _per_value(column: pa.ChunkedArray, convert: Callable[[str], Any], t: pa.DataType) -> pa.Array:
    return pa.array([None if v is None else convert(v) for v in column.to_pylist()], type=t)


def _unhex(text: str) -> bytes:
    """bytea's hex output (`\\x0a1b...`) as bytes."""
    return bytes.fromhex(text[2:])


def pg_copy(
    conn: Connection, select: str, plan: Sequence[PgColumn], schema: pa.Schema
) -> pa.Table | None:
    """Run `select` (whose columns are `plan`'s expressions, in order) through COPY and
    parse its CSV into `schema`; None when the connection's encoding is not UTF-8 or
    pyarrow refuses a value (the caller reads the rows another way)."""
    dbapi = conn.connection.driver_connection
    assert dbapi is not None
    if dbapi.info.encoding != "utf-8":
        return None
    payload = io.BytesIO()
    with dbapi.cursor() as cur:
        names = list(_SETTINGS)
        cur.execute("SELECT " + ", ".join(f"current_setting('{n}')" for n in names))
        before = cur.fetchone()
        assert before is not None
        _set(cur, _SETTINGS)
        with cur.copy(f"COPY ({select}) TO STDOUT (FORMAT csv)") as copy:
            while data := copy.read():
                payload.write(data)
        # (after an error the transaction is aborted, and its settings go with it)
        _set(cur, dict(zip(names, before, strict=True)))
    if payload.tell() == 0:
        return schema.empty_table()
    return _parse(payload, plan, schema)


def _set(cur: Any, settings: dict[str, Any]) -> None:
    """Set these for the rest of the transaction only (`set_config(..., true)`)."""
    calls = ", ".join("set_config(%s, %s, true)" for _ in settings)
    cur.execute(f"SELECT {calls}", [x for kv in settings.items() for x in kv])


def _parse(payload: io.BytesIO, plan: Sequence[PgColumn], schema: pa.Schema) -> pa.Table | None:
    names = [f"c{i}" for i in range(len(plan))]
    try:
        parsed = pacsv.read_csv(
            io.BytesIO(payload.getbuffer()),
            read_options=pacsv.ReadOptions(column_names=names, block_size=1 << 24),
            # a NULL alone on its line is an empty line: it is a row all the same
            parse_options=pacsv.ParseOptions(newlines_in_values=True, ignore_empty_lines=False),
            convert_options=pacsv.ConvertOptions(
                column_types=dict(zip(names, (p.csv_type for p in plan), strict=True)),
                null_values=[""],  # COPY's NULL: an unquoted empty field; '' is quoted
                strings_can_be_null=True,
                quoted_strings_can_be_null=False,
                true_values=["t"],
                false_values=["f"],
            ),
        )
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return None  # a value out of the schema's range or precision: read it another way
    arrays = []
    for column, p in zip(parsed.columns, plan, strict=True):
        arrays.append(column if p.finish is None else p.finish(column))
    return pa.Table.from_arrays(arrays, schema=schema)


def rows_to_table(rows: Sequence[Sequence[Any]], schema: pa.Schema) -> pa.Table:
    """Rows (tuples of `schema`'s columns, as the SQLAlchemy table's types hand them back)
    as an Arrow table of `schema`, with the coercions of
    `ferryman.flows.ledger.fingerprint.rows_to_arrow`
    (kept alike: both decide how rows read back hash)."""
    columns: list[Sequence[Any]] = list(zip(*rows, strict=True)) if rows else [()] * len(schema)
    arrays = [typed_array(list(values), f.type) for values, f in zip(columns, schema, strict=True)]
    return pa.Table.from_arrays(arrays, schema=schema)
