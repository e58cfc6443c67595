"""Registries of pluggable implementations (routers, gates, notifiers, deployers).

Each implementation registers itself with a decorator in the module that defines
it, so adding one means adding a file, not editing a switch. A registry knows how
to import the modules that register into it: every module of one package (the
routers, the gates), or whatever else it is given (the deployers load the modules
of an entry point). It imports them once, before the first lookup of a name that
nothing has registered yet.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable, Mapping
from typing import Generic, TypeVar

from rollout.errors import BadInput

T = TypeVar("T")


def package_modules(package: str) -> Callable[[], None]:
    """A loader that imports every module of ``package``."""

    def load() -> None:
        found = importlib.import_module(package)
        for module in pkgutil.iter_modules(found.__path__):
            importlib.import_module(f"{package}.{module.name}")

    return load


class Registry(Generic[T]):
    """Named implementations of one protocol.

    ``load`` is a package name (its every module is imported) or a loader; ``missing``
    says, for a name no loaded module registers, what the user should do instead of
    the usual "unknown ... (known: ...)" (install an extra, say).
    """

    def __init__(self, what: str, load: str | Callable[[], None],
                 missing: Mapping[str, str] | None = None) -> None:
        self._what = what
        self._load = package_modules(load) if isinstance(load, str) else load
        self._missing = dict(missing or {})
        self._entries: dict[str, T] = {}
        self._loaded = False

    def register(self, name: str) -> Callable[[T], T]:
        def add(entry: T) -> T:
            self._entries[name] = entry
            return entry

        return add

    def _load_once(self) -> None:
        if not self._loaded:
            self._load()
            self._loaded = True

    def names(self) -> list[str]:
        self._load_once()
        return sorted(self._entries)

    def find(self, name: str) -> T | None:
        """The entry registered as ``name``, or None when no module registers it."""
        if name not in self._entries:
            self._load_once()
        return self._entries.get(name)

    def get(self, name: str) -> T:
        """The entry registered as ``name``; :class:`BadInput` naming the known ones if none."""
        found = self.find(name)
        if found is not None:
            return found
        if name in self._missing:
            raise BadInput(self._missing[name])
        raise BadInput(f"unknown {self._what} {name!r} (known: {', '.join(self.names())})")
