"""Reading a fixed quarantine export (`ferryman quarantine export`, then edited by someone)
for `ferryman quarantine replay`: every line with where it sits in the file, its table, the
source position it was quarantined at, and its `source.<FIELD>` cells.

A CSV cell is text; an empty cell is NULL. A Parquet cell keeps whatever type it has. Other
columns of the export (rule, message, source_row, ...) are read but not used: only the
`source.<FIELD>` cells are fixes.
"""

from __future__ import annotations

import csv
import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ferryman.flows.ops.quarantine import SOURCE_PREFIX
from ferryman.flows.project.session import UsageError

REQUIRED = ("table_name", "source_position")
"""Columns without which a line cannot be traced back to the row it fixes."""

MAX_PROBLEMS = 20


@dataclass(frozen=True)
class FixLine:
    """One line of the fixed file."""

    where: str
    """`fix.csv:7` (the line the record starts on) or `fix.parquet row 6`."""
    table: str
    position: str
    run_id: str | None
    cells: dict[str, Any]
    """Source field -> the cell's value (None for an empty cell)."""


@dataclass(frozen=True)
class FixFile:
    path: Path
    sha256: str
    fields: list[str]
    """The source fields the file has a `source.<FIELD>` column for, in file order."""
    lines: list[FixLine]


def read_fix_file(path: Path) -> FixFile:
    """Read and check the shape of a fixed export; raises UsageError (exit 2)."""
    if not path.is_file():
        raise UsageError(f"{path}: no such file. Pass the fixed export with --file")
    suffix = path.suffix.lower()
    if suffix == ".csv":
        header, records = _read_csv(path)
    elif suffix == ".parquet":
        header, records = _read_parquet(path)
    else:
        raise UsageError(
            f"{path}: unknown file type {suffix or '(none)'!r}; replay reads the .csv or"
            " .parquet file that `ferryman quarantine export` wrote"
        )
    _check_header(path, header)
    fields = [c.removeprefix(SOURCE_PREFIX) for c in header if c.startswith(SOURCE_PREFIX)]
    lines = []
    problems = []
    for where, record in records:
        table, position = as_text(record.get("table_name")), as_text(record.get("source_position"))
        if table is None or position is None:
            problems.append(
                f"{where}: table_name or source_position is empty; every line must come from"
                " the export (a row that was never quarantined cannot be replayed)"
            )
            continue
        cells = {f: _cell(record.get(SOURCE_PREFIX + f)) for f in fields}
        lines.append(FixLine(where, table, position, as_text(record.get("run_id")), cells))
    if problems:
        raise UsageError(problems_message(path, problems))
    if not lines:
        raise UsageError(f"{path} holds no rows: there is nothing to replay")
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    return FixFile(path, digest, fields, lines)


def _read_csv(path: Path) -> tuple[list[str], list[tuple[str, dict[str, Any]]]]:
    records: list[tuple[str, dict[str, Any]]] = []
    problems: list[str] = []
    try:
        with path.open(encoding="utf-8-sig", newline="") as f:
            reader = csv.reader(f)
            header = next(reader, None)
            if not header:
                raise UsageError(f"{path} is empty: there is nothing to replay")
            start = reader.line_num + 1
            for values in reader:
                where, start = f"{path.name}:{start}", reader.line_num + 1
                if not any(values):
                    continue  # a blank line
                if len(values) != len(header):
                    problems.append(
                        f"{where}: {len(values)} field(s), the header has {len(header)};"
                        " a cell with a comma or a line break must be quoted"
                    )
                    continue
                records.append((where, dict(zip(header, values, strict=True))))
    except UnicodeDecodeError as err:
        raise UsageError(
            f"{path} is not UTF-8 text (byte {err.start}); the export is UTF-8. Save it from"
            " the spreadsheet as 'CSV UTF-8', not plain 'CSV'"
        ) from None
    except csv.Error as err:
        raise UsageError(f"{path}: not readable as CSV: {err}") from None
    if problems:
        raise UsageError(problems_message(path, problems))
    return header, records


def _read_parquet(path: Path) -> tuple[list[str], list[tuple[str, dict[str, Any]]]]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        table = pq.read_table(path)
    except (pa.ArrowException, OSError) as err:
        raise UsageError(f"{path}: not readable as Parquet: {err}") from None
    rows = table.to_pylist()
    return table.column_names, [(f"{path.name} row {i + 1}", r) for i, r in enumerate(rows)]


def _check_header(path: Path, header: list[str]) -> None:
    missing = [c for c in REQUIRED if c not in header]
    if missing:
        hint = ""
        if len(header) == 1 and ";" in header[0]:
            hint = " (the file is separated by ';': save it with ',' separators)"
        raise UsageError(
            f"{path} lacks the column(s) {', '.join(missing)}{hint}. Replay needs a file"
            " written by `ferryman quarantine export RUN --out FILE` with its table_name,"
            " source_position and source.<FIELD> columns kept; fix only the source.<FIELD>"
            " cells"
        )
    if not any(c.startswith(SOURCE_PREFIX) for c in header):
        raise UsageError(
            f"{path} has no source.<FIELD> columns, so it holds no fixes: export again"
            " and correct the values in the source.<FIELD> columns"
        )


def as_text(value: Any) -> str | None:
    """A cell as text; None when it is empty."""
    if value is None:
        return None
    text = str(value)
    return text if text != "" else None


def _cell(value: Any) -> Any:
    """An empty cell is NULL; anything else stays as the file has it."""
    return None if value is None or value == "" else value


def problems_message(path: Path, problems: list[str]) -> str:
    shown = "\n".join(problems[:MAX_PROBLEMS])
    more = len(problems) - MAX_PROBLEMS
    tail = f"\n... and {more} more" if more > 0 else ""
    return f"{path}: {len(problems)} problem(s); nothing was replayed:\n{shown}{tail}"
