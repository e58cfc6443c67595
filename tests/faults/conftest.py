"""One app per test process for every module here: its shared stack is deployed once.

Each module adds a cohort of its own to it (about a second, against two and a
half for a whole new app), so the modules stay independent of each other.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.faults.model_cache import shared_model_cache
from tests.faults.scenario import Scenario, build_scenario


@dataclass(frozen=True)
class SharedApp:
    """Where the app's project lives and what it is called."""

    base: Path
    name: str

    def scenario(self, cohort: str, tenants: Sequence[str], *, marker: str = "fault",
                 announce: bool = True) -> Scenario:
        """A cohort of this app, deployed, announced (unless told not to) and seeded."""
        return build_scenario(self.base, cohort, tenants, marker=marker, announce=announce,
                              app=self.name)


@pytest.fixture(scope="session")
def shared_app(moto_endpoint: str, tmp_path_factory: pytest.TempPathFactory) -> SharedApp:
    return SharedApp(tmp_path_factory.mktemp("faults-app"), f"f{uuid.uuid4().hex[:8]}")


@pytest.fixture(scope="module", autouse=True)
def parsed_models_once() -> Iterator[None]:
    """Each in-process command would parse botocore's models again; once is enough."""
    with shared_model_cache():
        yield


@pytest.fixture
def fresh(scenario: Scenario) -> Iterator[Scenario]:
    """The module's ``scenario`` back at the start line: its own tenants file again, the old
    colour live, and every tenant setting edited there."""
    scenario.write_tenants()
    scenario.reset()
    yield scenario
