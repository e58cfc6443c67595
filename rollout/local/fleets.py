"""Test fleets: apps written as stack configs and deployed into moto by the local deployer.

Shared by ``tests/`` and ``bench/``, so a benchmark measures the same fleet the tests
check. Everything is read back as an operator would: through discovery (the local
deployer's record first), or plain boto3 for what AWS really does.
"""

from __future__ import annotations

import json
import os
import textwrap
import threading
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rollout.aws_clients import AwsClients, new_session
from rollout.discovery import CohortResources, SharedResources
from rollout.local.deployer import LocalDeployer
from rollout.local.record import local_discovery
from rollout.local.server import FAKE_CREDENTIALS


def _stack_file(role: str, app: str, body: str = "") -> str:
    """A ``Pulumi.<stack>.yaml`` in eu-west-1 whose stack config starts with its role and app;
    ``body`` (the config's other keys, unindented) goes on below ``app``."""
    return textwrap.dedent(f"""\
        config:
          aws:region: eu-west-1
          tenant-rollout:stack:
            role: {role}
            app: {app}
        """) + textwrap.indent(body, " " * 4)


def stack_yaml(app: str, cohort: str, tenants: list[str], *, blue: str = "1.4.2",
               green: str = "1.4.2", cidr_octet: int = 20,
               compute: dict[str, object] | None = None) -> str:
    """``Pulumi.<cohort>.yaml`` of a cohort in eu-west-1, tenants at ``<id>.<app>.example``;
    ``compute`` is its ``compute:`` entry (default: none, so ``external``)."""
    tenant_lines = "".join(
        f"\n  - id: {t}\n    host: {t}.{app}.example" for t in tenants) or " []"
    compute_line = f"compute: {json.dumps(compute)}\n" if compute else ""
    return _stack_file("cohort", app, compute_line + textwrap.dedent(f"""\
        cohort: {cohort}
        sharedStack: organization/tenant-rollout/shared
        liveColour: blue
        versions:
          blue: {blue}
          green: {green}
        network:
          cidr: 10.{cidr_octet}.0.0/16
        tenants:""") + tenant_lines + "\n")


def shared_yaml(app: str) -> str:
    """``Pulumi.shared.yaml`` of ``app`` in eu-west-1."""
    return _stack_file("shared", app)


@dataclass
class Fleet:
    """An app deployed into moto by the local deployer: its project dir and resources."""

    app: str
    project_dir: Path
    clients: AwsClients
    deployer: LocalDeployer
    cohorts: dict[str, CohortResources] = field(default_factory=dict)

    @property
    def shared(self) -> SharedResources:
        return local_discovery(self.clients, self.app).shared()

    def refresh(self, cohort: str) -> CohortResources:
        self.cohorts[cohort] = local_discovery(self.clients, self.app).cohort(cohort)
        return self.cohorts[cohort]

    def env(self) -> dict[str, str]:
        """Environment for running `rollout` in a subprocess against this fleet."""
        return {**os.environ, **FAKE_CREDENTIALS, "ROLLOUT_APP": self.app,
                "ROLLOUT_PROJECT_DIR": str(self.project_dir)}


def deploy_fleet(base: Path, cohorts: dict[str, list[str]], app: str | None = None,
                 versions: dict[str, str] | None = None,
                 compute: dict[str, object] | None = None) -> Fleet:
    """Write stack configs for ``cohorts`` (name → tenant ids) and deploy them into moto.

    ``versions`` (``blue``, ``green``) are what every cohort's colours run, ``compute``
    every cohort's compute kind (default ``external``).
    """
    app = app or f"t{uuid.uuid4().hex[:8]}"
    project = base / app
    project.mkdir(parents=True, exist_ok=True)
    (project / "Pulumi.shared.yaml").write_text(shared_yaml(app))
    for index, (cohort, tenants) in enumerate(cohorts.items()):
        (project / f"Pulumi.{cohort}.yaml").write_text(
            stack_yaml(app, cohort, tenants, cidr_octet=20 + index, compute=compute,
                       **(versions or {})))
    clients = AwsClients()
    deployer = LocalDeployer(project, clients)
    fleet = Fleet(app, project, clients, deployer)
    for cohort in cohorts:
        deployer.up(cohort)
        fleet.refresh(cohort)
    return fleet


READER_SETTINGS = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN",
                   "AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_ELASTIC_LOAD_BALANCING_V2",
                   "AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE", "AWS_REGION",
                   "AWS_DEFAULT_REGION")
"""The environment that decides whom a plain boto3 client speaks for, and to where."""
_readers: dict[tuple[str, ...], Any] = {}
_readers_lock = threading.Lock()


def _elbv2_reader(region: str | None) -> Any:
    """An ELBv2 client in ``region`` (None: the environment's) for the credentials and
    endpoint the environment names now: a session of its own (boto3's default session
    keeps the first credentials it ever resolved, which may be another user's), made once
    for each such setting, as tests poll the weights many times a second."""
    key = (region or "", *(os.environ.get(name, "") for name in READER_SETTINGS))
    with _readers_lock:
        if key not in _readers:
            _readers[key] = new_session(region_name=region).client("elbv2")
        return _readers[key]


def listener_weights(cohort: CohortResources) -> dict[str, int]:
    """What the cohort's ALB really routes by, read with plain boto3 in its own region."""
    elbv2 = _elbv2_reader(cohort.region)
    listener = elbv2.describe_listeners(
        ListenerArns=[cohort.listener_arn])["Listeners"][0]
    groups = listener["DefaultActions"][0]["ForwardConfig"]["TargetGroups"]
    colour = {arn: c for c, arn in cohort.target_group_arns.items()}
    return {colour[g["TargetGroupArn"]]: int(g["Weight"]) for g in groups}
