"""Registries of pluggable implementations (routers, gates, notifiers).

Each implementation lives in a file of its own inside its package and registers
itself with a decorator; :func:`load_package` imports every module of the
package, so adding an implementation means adding a file, not editing a switch.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable
from typing import Generic, TypeVar

from rollout.errors import BadInput

T = TypeVar("T")


class Registry(Generic[T]):
    """Named implementations of one protocol, found by importing a package."""

    def __init__(self, what: str, package: str) -> None:
        self._what = what
        self._package = package
        self._entries: dict[str, T] = {}
        self._loaded = False

    def register(self, name: str) -> Callable[[T], T]:
        def add(entry: T) -> T:
            self._entries[name] = entry
            return entry

        return add

    def _load(self) -> None:
        if not self._loaded:
            package = importlib.import_module(self._package)
            for module in pkgutil.iter_modules(package.__path__):
                importlib.import_module(f"{self._package}.{module.name}")
            self._loaded = True

    def names(self) -> list[str]:
        self._load()
        return sorted(self._entries)

    def get(self, name: str) -> T:
        self._load()
        try:
            return self._entries[name]
        except KeyError:
            raise BadInput(f"unknown {self._what} {name!r} "
                           f"(known: {', '.join(self.names())})") from None
