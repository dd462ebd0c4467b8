"""What every connector is: a named kind, built from its connection options, closed after
use. Sources (`ferryman.connectors.base`) and targets (`ferryman.connectors.target`) build
on it."""

from __future__ import annotations

from abc import ABC
from typing import ClassVar, Self


class Connector(ABC):
    """Common base: a named kind, built from its connection options."""

    kind: ClassVar[str]
    """The registry name, e.g. "sql" or "csv"."""

    def close(self) -> None:  # noqa: B027 - optional hook, most connectors hold nothing
        """Release pooled connections or open files."""

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
