"""Sources whose streams are the files of one folder (CSV, fixed width, DBF, EBCDIC, JSON
Lines, Parquet, Excel): one place that resolves a stream to its file, and says clearly
where it looked when the file is not there."""

from __future__ import annotations

from pathlib import Path

from connectors.base import Source
from connectors.errors import TerminalError


class FolderSource(Source):
    """A source reading files named by the stream from the folder `root`."""

    name: str
    root: Path

    def _path(self, stream: str) -> Path:
        path = self.root / stream
        if not path.is_file():
            raise TerminalError(
                f"connection {self.name!r}: file {stream!r} not found in {self.root};"
                " check `file:` in the spec and `path:` in ferryman.yaml"
            )
        return path
