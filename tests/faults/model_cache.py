"""Parse botocore's service models once per test process instead of once per command.

The ``rollout`` command builds a fresh boto3 session per invocation, and each
session reads and parses the JSON models of every service it touches: about
half a second a command. A real user pays that once per process; tests that run
hundreds of commands in one process (the fuzzer) would pay it hundreds of times.
Sharing one botocore data loader across sessions changes nothing but the
parsing: the models are the same files, read once.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import botocore.session
from botocore.loaders import Loader, create_loader


class _UniquePaths(list[str]):
    """boto3 appends its data directory to the loader on every session: once is enough."""

    def append(self, item: str) -> None:
        if item not in self:
            super().append(item)


@contextmanager
def shared_model_cache() -> Iterator[None]:
    """Every botocore session created inside the block shares one caching loader."""
    loaders: dict[Any, Loader] = {}

    def shared_loader(search_path_string: Any = None) -> Loader:
        if search_path_string not in loaders:
            loader = create_loader(search_path_string)
            loader._search_paths = _UniquePaths(loader.search_paths)  # type: ignore[attr-defined]
            loaders[search_path_string] = loader
        return loaders[search_path_string]

    original = botocore.session.create_loader
    botocore.session.create_loader = shared_loader
    try:
        yield
    finally:
        botocore.session.create_loader = original
