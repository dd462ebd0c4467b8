"""Explicit, loud registries: built-ins first, then an entry-point group, then a
did-you-mean error. A duplicate name raises; nothing is silently overwritten.

One `Registry` instance exists per plugin kind (connectors here, transform functions in
`ferryman.mappings.functions`). Registries are filled by explicit calls, never by import
side effects.
"""

from __future__ import annotations

from importlib.metadata import entry_points
from typing import Generic, TypeVar

from ferryman.suggest import did_you_mean

T = TypeVar("T")


class RegistryError(LookupError):
    """A name is unknown, or registered twice."""


class Registry(Generic[T]):
    """Name -> plugin, with built-ins registered explicitly and entry points loaded lazily."""

    def __init__(self, kind: str, entry_point_group: str | None = None) -> None:
        self.kind = kind
        self.entry_point_group = entry_point_group
        self._items: dict[str, T] = {}
        self._entry_points_loaded = entry_point_group is None

    def register(self, name: str, item: T) -> T:
        if name in self._items:
            raise RegistryError(
                f"{self.kind} {name!r} is registered twice; rename one of them"
                " (plugins must not overwrite each other)"
            )
        self._items[name] = item
        return item

    def _load_entry_points(self) -> None:
        if self._entry_points_loaded or self.entry_point_group is None:
            return
        self._entry_points_loaded = True
        for ep in entry_points(group=self.entry_point_group):
            self.register(ep.name, ep.load())

    def get(self, name: str) -> T:
        if name in self._items:
            return self._items[name]
        self._load_entry_points()
        if name in self._items:
            return self._items[name]
        raise RegistryError(f"unknown {self.kind} {name!r}.{did_you_mean(name, self.names())}")

    def names(self) -> list[str]:
        self._load_entry_points()
        return sorted(self._items)

    def __contains__(self, name: object) -> bool:
        self._load_entry_points()
        return name in self._items
