"""One app per test process for every module here: its shared stack is deployed once.

Each module adds a cohort of its own to it (about a second, against two and a
half for a whole new app), so the modules stay independent of each other.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.faults.model_cache import shared_model_cache


@dataclass(frozen=True)
class SharedApp:
    """Where the app's project lives and what it is called."""

    base: Path
    name: str


@pytest.fixture(scope="session")
def shared_app(moto_endpoint: str, tmp_path_factory: pytest.TempPathFactory) -> SharedApp:
    return SharedApp(tmp_path_factory.mktemp("faults-app"), f"f{uuid.uuid4().hex[:8]}")


@pytest.fixture(scope="module", autouse=True)
def parsed_models_once() -> Iterator[None]:
    """Each in-process command would parse botocore's models again; once is enough."""
    with shared_model_cache():
        yield
