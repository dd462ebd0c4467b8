"""Write batches to Parquet or CSV files for staging exports.

This is not a `ferryman.connectors.base.Target`: a folder of files has no transaction to share with
the ledger and quarantine tables, no keys to look up, and cannot hold the ledger itself.
It is a sink with the one guarantee a batch pipeline needs instead: **each batch is one
file named by its batch number**, written to a temporary name and renamed into place, so
a batch retried after a failure replaces its own file (never a duplicate, never a half
file), and a resumed run writes the files of the batches that follow.

    <path>/<table>/part-000000.parquet
    <path>/<table>/part-000001.parquet
"""

from __future__ import annotations

import codecs
import io
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from ferryman.connectors.base import ROW_POSITION
from ferryman.connectors.errors import TerminalError
from ferryman.connectors.files_target.options import FileTargetOptions


class FileTarget:
    """One folder per table, one file per batch."""

    kind = "files"

    def __init__(self, name: str, options: FileTargetOptions) -> None:
        self.name = name
        self.options = options
        self.root = Path(options.path)
        self.suffix = f".{options.format}"

    def describe(self) -> str:
        return f"{self.name} ({self.root}, {self.options.format})"

    def folder(self, table: str) -> Path:
        if not table or "/" in table or "\\" in table or table.startswith("."):
            raise TerminalError(f"{self.describe()}: {table!r} cannot be a folder name")
        return self.root / table

    def part(self, table: str, batch: int) -> Path:
        return self.folder(table) / f"part-{batch:06d}{self.suffix}"

    def write_batch(self, table: str, batch: int, data: pa.Table) -> Path:
        """Write `data` as batch `batch` of `table`, replacing that batch's file if a
        previous attempt wrote it. The source position column is not exported."""
        if ROW_POSITION in data.column_names:
            data = data.drop_columns([ROW_POSITION])
        target = self.part(table, batch)
        target.parent.mkdir(parents=True, exist_ok=True)
        temporary = target.with_name(f".{target.name}.tmp")
        try:
            if self.options.format == "parquet":
                codec = None if self.options.compression == "none" else self.options.compression
                pq.write_table(data, temporary, compression=codec)
            else:
                temporary.write_bytes(self._csv(data, table, batch))
            temporary.replace(target)
        except OSError as err:
            temporary.unlink(missing_ok=True)
            raise TerminalError(f"{self.describe()}: cannot write {target}: {err}") from err
        return target

    def _csv(self, data: pa.Table, table: str, batch: int) -> bytes:
        buffer = io.BytesIO()
        options = pacsv.WriteOptions(delimiter=self.options.delimiter, include_header=True)
        pacsv.write_csv(data, buffer, write_options=options)
        text = buffer.getvalue()
        if codecs.lookup(self.options.encoding).name == "utf-8":
            return text
        decoded = text.decode("utf-8")
        try:
            return decoded.encode(self.options.encoding)
        except UnicodeEncodeError as err:
            line = decoded.count("\n", 0, err.start)
            raise TerminalError(
                f"{self.describe()}: {table} batch {batch}, row {line} of the file:"
                f" {decoded[err.start : err.end]!r} cannot be written in"
                f" {self.options.encoding}; choose an encoding that holds it (utf-8)"
            ) from None

    def files(self, table: str) -> list[Path]:
        folder = self.folder(table)
        return sorted(folder.glob(f"part-*{self.suffix}")) if folder.is_dir() else []

    def count(self, table: str) -> int:
        """Rows written for `table` (from the Parquet footers, or by reading the CSVs)."""
        if self.options.format == "parquet":
            return sum(pq.ParquetFile(p).metadata.num_rows for p in self.files(table))
        read = pacsv.ReadOptions(encoding=self.options.encoding)
        parse = pacsv.ParseOptions(delimiter=self.options.delimiter)
        return sum(pacsv.read_csv(p, read, parse).num_rows for p in self.files(table))

    def clear(self, table: str) -> int:
        """Remove every batch file of `table` (before a fresh export); return how many."""
        removed = 0
        for p in self.files(table):
            p.unlink()
            removed += 1
        return removed

    def close(self) -> None:
        """Nothing is held open between batches."""
