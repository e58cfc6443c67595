"""Shared fixtures: a real moto server over HTTP, and fleets deployed by the local engine."""

from __future__ import annotations

import os
import textwrap
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import boto3
import pytest

from rollout.aws_clients import AwsClients
from rollout.discovery import CohortResources, Discovery, SharedResources
from rollout.local.engine import LocalEngine
from rollout.local.server import FAKE_CREDENTIALS, embedded_moto


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


def stack_yaml(app: str, cohort: str, tenants: list[str], *, blue: str = "1.4.2",
               green: str = "1.4.2", cidr_octet: int = 20) -> str:
    tenant_lines = "".join(
        f"\n      - id: {t}\n        host: {t}.{app}.example" for t in tenants) or " []"
    return textwrap.dedent(f"""\
        config:
          aws:region: eu-west-1
          tenant-rollout:stack:
            role: cohort
            app: {app}
            cohort: {cohort}
            sharedStack: organization/tenant-rollout/shared
            liveColour: blue
            versions:
              blue: {blue}
              green: {green}
            network:
              cidr: 10.{cidr_octet}.0.0/16
            tenants:""") + tenant_lines + "\n"


def shared_yaml(app: str) -> str:
    return textwrap.dedent(f"""\
        config:
          aws:region: eu-west-1
          tenant-rollout:stack:
            role: shared
            app: {app}
        """)


@dataclass
class Fleet:
    """An app deployed into moto by the local engine: its project dir and resources."""

    app: str
    project_dir: Path
    clients: AwsClients
    engine: LocalEngine
    cohorts: dict[str, CohortResources] = field(default_factory=dict)

    @property
    def shared(self) -> SharedResources:
        return Discovery(self.clients, self.app).shared()

    def refresh(self, cohort: str) -> CohortResources:
        self.cohorts[cohort] = Discovery(self.clients, self.app).cohort(cohort)
        return self.cohorts[cohort]

    def env(self) -> dict[str, str]:
        """Environment for running `rollout` in a subprocess against this fleet."""
        return {**os.environ, **FAKE_CREDENTIALS, "ROLLOUT_APP": self.app,
                "ROLLOUT_PROJECT_DIR": str(self.project_dir)}


def deploy_fleet(base: Path, cohorts: dict[str, list[str]], app: str | None = None,
                 versions: dict[str, str] | None = None) -> Fleet:
    """Write stack configs for ``cohorts`` (name → tenant ids) and deploy them into moto."""
    app = app or f"t{uuid.uuid4().hex[:8]}"
    project = base / app
    project.mkdir(parents=True, exist_ok=True)
    (project / "Pulumi.shared.yaml").write_text(shared_yaml(app))
    for index, (cohort, tenants) in enumerate(cohorts.items()):
        (project / f"Pulumi.{cohort}.yaml").write_text(
            stack_yaml(app, cohort, tenants, cidr_octet=20 + index, **(versions or {})))
    clients = AwsClients()
    engine = LocalEngine(project, clients)
    fleet = Fleet(app, project, clients, engine)
    for cohort in cohorts:
        engine.up(cohort)
        fleet.refresh(cohort)
    return fleet


@pytest.fixture(scope="module")
def fleet(moto_endpoint: str, tmp_path_factory: pytest.TempPathFactory) -> Fleet:
    """A fresh app per test module with cohorts canary (2 tenants) and wave1 (3 tenants)."""
    return deploy_fleet(tmp_path_factory.mktemp("fleet"), {
        "canary": ["aurora", "birch"],
        "wave1": ["cedar", "dune", "ember"],
    })


EXAMPLE_NOTES = Path(__file__).resolve().parents[1] / "examples" / "release.yaml"


def notes_for(folder: Path, version: str) -> Path:
    """The example release notes, rewritten for ``version``."""
    text = EXAMPLE_NOTES.read_text().replace("version: 1.5.0", f"version: {version}", 1)
    path = folder / f"release-{version}.yaml"
    path.write_text(text)
    return path


@pytest.fixture(scope="module")
def shared_only(moto_endpoint: str, tmp_path_factory: pytest.TempPathFactory) -> Fleet:
    """An app with just its shared stack: artefact bucket, ledger table, notices topic."""
    fleet = deploy_fleet(tmp_path_factory.mktemp("shared-only"), {})
    fleet.engine.up("shared")
    return fleet


def listener_weights(cohort: CohortResources) -> dict[str, int]:
    """What the cohort's ALB really routes by, read with plain boto3 in its own region."""
    listener = boto3.client("elbv2", region_name=cohort.region).describe_listeners(
        ListenerArns=[cohort.listener_arn])["Listeners"][0]
    groups = listener["DefaultActions"][0]["ForwardConfig"]["TargetGroups"]
    colour = {arn: c for c, arn in cohort.target_group_arns.items()}
    return {colour[g["TargetGroupArn"]]: int(g["Weight"]) for g in groups}
