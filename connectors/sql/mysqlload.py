"""MariaDB/MySQL bulk load: `LOAD DATA LOCAL INFILE` of a tab-separated file built from
Arrow columns in C, inside the caller's transaction.

The file uses `LOAD DATA`'s own escapes (FIELDS TERMINATED BY '\\t' ESCAPED BY '\\\\',
LINES TERMINATED BY '\\n'): NULL is `\\N`, and a backslash, tab, newline, carriage return
or NUL inside a value is escaped, so '' stays '' and the text `\\N` stays text. Binary
columns travel as hex and are decoded by `UNHEX` on the server; zoned timestamps as their
UTC wall time (what the INSERT path writes too).

`LOAD DATA LOCAL` turns bad values into warnings (it cannot stop the client mid-file):
a value cut to fit, a string too long, a duplicate key skipped. So the statement's
warnings are read back and any warning, or any row count other than the batch's, fails
the batch: its transaction is rolled back by the caller.

PyMySQL sends a file whenever the server asks for one while `local_infile` is on, so the
target turns it on only for the length of its own LOAD DATA statement (`allow_files`).
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import sqlalchemy as sa

from ferryman.connectors.errors import TerminalError

_ESCAPES = (("\\", "\\\\"), ("\t", "\\t"), ("\n", "\\n"), ("\r", "\\r"), ("\0", "\\0"))
SHOWN = 5


def tsv(data: pa.Table) -> pa.Buffer:
    """`data` as LOAD DATA's tab-separated text (UTF-8), one line per row."""
    if data.num_rows == 0:
        return pa.py_buffer(b"")
    fields = [_text(data.column(i)) for i in range(data.num_columns)]
    lines = pc.binary_join_element_wise(*fields, "\t")
    # a newline after every line: join each line with an empty string, "\n" between
    ended = pc.binary_join_element_wise(lines, "", "\n").cast(pa.large_string())
    ended = ended.combine_chunks() if isinstance(ended, pa.ChunkedArray) else ended
    offsets = np.frombuffer(ended.buffers()[1], dtype=np.int64)
    start, end = int(offsets[ended.offset]), int(offsets[ended.offset + len(ended)])
    return ended.buffers()[2].slice(start, end - start)


def _text(column: pa.ChunkedArray) -> pa.ChunkedArray:
    """One column as escaped text, `\\N` for NULL."""
    t = column.type
    if pa.types.is_binary(t) or pa.types.is_large_binary(t) or pa.types.is_fixed_size_binary(t):
        text = _hex(column)
    elif pa.types.is_boolean(t):
        text = pc.cast(pc.cast(column, pa.int8()), pa.string())
    elif pa.types.is_timestamp(t) and t.tz is not None:
        text = pc.cast(pc.cast(column, pa.timestamp(t.unit)), pa.string())
    elif pa.types.is_string(t) or pa.types.is_large_string(t):
        text = column
        for raw, escaped in _ESCAPES:
            text = pc.replace_substring(text, raw, escaped)
    else:
        text = pc.cast(column, pa.string())
    return pc.fill_null(text.cast(pa.string()), "\\N")


def _hex(column: pa.ChunkedArray) -> pa.Array:
    """Bytes as upper-case hex text (NULL stays NULL)."""
    values = column.to_pylist()
    return pa.array([None if v is None else bytes(v).hex() for v in values], pa.string())


def binary_columns(data: pa.Table) -> set[str]:
    return {
        f.name
        for f in data.schema
        if pa.types.is_binary(f.type)
        or pa.types.is_large_binary(f.type)
        or pa.types.is_fixed_size_binary(f.type)
    }


def statement(table: str, columns: list[str], binary: set[str]) -> str:
    """LOAD DATA LOCAL INFILE %s INTO TABLE ...: the file name is the one parameter."""
    targets, sets = [], []
    for i, c in enumerate(columns):
        if c in binary:
            targets.append(f"@v{i}")
            sets.append(f"{quote(c)} = UNHEX(@v{i})")
        else:
            targets.append(quote(c))
    sql = (
        f"LOAD DATA LOCAL INFILE %s INTO TABLE {quote(table)} CHARACTER SET utf8mb4"
        " FIELDS TERMINATED BY '\\t' ESCAPED BY '\\\\' LINES TERMINATED BY '\\n'"
        f" ({', '.join(targets)})"
    )
    if sets:
        sql += " SET " + ", ".join(sets)
    return sql


def quote(name: str) -> str:
    return "`" + name.replace("`", "``") + "`"


@contextmanager
def allow_files(dbapi: Any) -> Iterator[None]:
    """Let the PyMySQL connection send a local file for the length of one statement."""
    dbapi._local_infile = True
    try:
        yield
    finally:
        dbapi._local_infile = False


def load(dbapi: Any, table: str, data: pa.Table) -> int:
    """LOAD DATA LOCAL the rows of `data` into `table` on the PyMySQL connection `dbapi`
    (inside its open transaction); raises TerminalError on any warning or a row count
    other than `data`'s, so the caller's transaction is rolled back."""
    payload = tsv(data)
    fd, path = tempfile.mkstemp(prefix="ferryman-load-", suffix=".tsv")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(payload)
        sql = statement(table, data.column_names, binary_columns(data))
        with dbapi.cursor() as cur:
            with allow_files(dbapi):
                cur.execute(sql, (path,))
            loaded = cur.rowcount
            cur.execute(f"SHOW WARNINGS LIMIT {SHOWN}")
            warnings = list(cur.fetchall())
            count = _warning_count(cur) if warnings else 0
    finally:
        Path(path).unlink()
    if warnings or loaded != data.num_rows:
        raise TerminalError(_message(table, data.num_rows, loaded, count, warnings))
    return loaded


def _warning_count(cur: Any) -> int:
    cur.execute("SHOW COUNT(*) WARNINGS")
    row = cur.fetchone()
    return int(row[0]) if row else 0


def _message(
    table: str, rows: int, loaded: int, count: int, warnings: list[tuple[Any, ...]]
) -> str:
    shown = "; ".join(f"{w[0]} {w[1]}: {w[2]}" for w in warnings)
    more = f" (first {len(warnings)} of {count})" if count > len(warnings) else ""
    return (
        f"LOAD DATA into {table}: {loaded} of {rows} rows loaded with {count} warning(s)"
        f"{more}: {shown}. The batch was rolled back; nothing of it is in the table. A value"
        " does not fit its column (too long, out of range, wrong type, duplicate key):"
        " fix the mapping's type or the column, then resume the run."
    )


def executemany(dbapi: Any, table: str, data: pa.Table) -> int:
    """Multi-row INSERTs by PyMySQL's executemany (it packs rows into statements of up to
    1 MB), values adapted by PyMySQL itself: for a server without `local_infile`."""
    columns = ", ".join(quote(c) for c in data.column_names)
    marks = ", ".join(["%s"] * data.num_columns)
    rows = list(zip(*[data.column(i).to_pylist() for i in range(data.num_columns)], strict=True))
    with dbapi.cursor() as cur:
        cur.executemany(f"INSERT INTO {quote(table)} ({columns}) VALUES ({marks})", rows)
    return data.num_rows


def local_files_on_demand(engine: sa.Engine) -> None:
    """Connect with PyMySQL's `local_infile` (the server only accepts LOAD DATA LOCAL
    from a client that said so when connecting), then switch it off until a LOAD DATA of
    the target's own switches it on for that statement (`allow_files`)."""

    @sa.event.listens_for(engine, "do_connect")
    def _ask(dialect: Any, record: Any, cargs: Any, cparams: dict[str, Any]) -> None:
        cparams["local_infile"] = True

    @sa.event.listens_for(engine, "connect")
    def _close(dbapi: Any, record: Any) -> None:
        dbapi._local_infile = False
