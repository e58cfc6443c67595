"""Shared fixtures: a real moto server over HTTP, and fleets deployed by the local deployer."""

from __future__ import annotations

import gc
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from rollout.aws_clients import AwsClients
from rollout.local.fleets import Fleet, deploy_fleet, listener_weights, shared_yaml, stack_yaml
from rollout.local.server import embedded_moto
from tests.cli_runner import address

# The fleets live in rollout.local.fleets, which bench/ shares; tests import them from either.
__all__ = ["Fleet", "deploy_fleet", "listener_weights", "shared_yaml", "stack_yaml"]

YOUNG_OBJECTS_PER_COLLECTION = 20_000
"""Python's default, 700, sets the cycle collector off every few requests a test makes."""


def pytest_configure(config: pytest.Config) -> None:
    """A test process holds moto, boto3 and pydantic models, hundreds of thousands of
    objects, and allocates fast (each request is parsed on both sides, client and moto):
    at the default threshold the cycle collector took some 15% of an integration test
    process's CPU, at this one about 5%. Nothing here waits for a collection."""
    _, middle, oldest = gc.get_threshold()
    gc.set_threshold(YOUNG_OBJECTS_PER_COLLECTION, middle, oldest)


@pytest.fixture(scope="session", autouse=True)
def private_state_home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Security-command logs go under $XDG_STATE_HOME: a temporary one, not the user's."""
    home = tmp_path_factory.mktemp("state-home")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("XDG_STATE_HOME", str(home))
        yield home


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    """One moto server per test process, reached over HTTP through AWS_ENDPOINT_URL."""
    with embedded_moto() as endpoint:
        yield endpoint


@pytest.fixture
def aws(moto_endpoint: str) -> AwsClients:
    """Clients pointed at the moto server (the environment already points there)."""
    assert os.environ["AWS_ENDPOINT_URL"] == moto_endpoint
    return AwsClients()


@pytest.fixture(scope="module")
def fleet(moto_endpoint: str, tmp_path_factory: pytest.TempPathFactory) -> Fleet:
    """A fresh app per test module with cohorts canary (2 tenants) and wave1 (3 tenants)."""
    return deploy_fleet(tmp_path_factory.mktemp("fleet"), {
        "canary": ["aurora", "birch"],
        "wave1": ["cedar", "dune", "ember"],
    })


@pytest.fixture
def cli_env(fleet: Fleet, monkeypatch: pytest.MonkeyPatch) -> Fleet:
    """The module's ``fleet``, named in the environment for one test, as a CI job names it."""
    address(monkeypatch, fleet)
    return fleet


@pytest.fixture(scope="module")
def shared_only(moto_endpoint: str, tmp_path_factory: pytest.TempPathFactory) -> Fleet:
    """An app with just its shared stack: artefact bucket, ledger table, notices topic."""
    fleet = deploy_fleet(tmp_path_factory.mktemp("shared-only"), {})
    fleet.deployer.up("shared")
    return fleet
