"""Publishing the preferences page: its zip into the artefact store, then the shared stack up.

``rollout stacks portal`` builds the zip first (:mod:`rollout.portal.bundle`: every
file checked, nothing sent to AWS yet), then runs a :class:`~rollout.plans.Plan` of two
steps: store the zip under a key named by its sha256, written once (``If-None-Match``),
so a key never means other bytes and a second publish of the same zip stores nothing;
then deploy the shared stack with ``portal.zip`` naming that object version, as
``stacks up`` does a colour's artefact. ``--dry-run`` displays the same plan.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rollout.artefacts.store import ArtefactStore
from rollout.aws_clients import AwsClients
from rollout.discovery import SharedResources
from rollout.errors import BadInput, RolloutFailed
from rollout.model.stack import SharedStackConfig, ZipArtefact
from rollout.plans import Plan
from rollout.portal.bundle import PortalBundle
from rollout.stacks.base import StackDeployer
from rollout.stacks.stack_file import read_stack_file
from rollout.vocabulary.resource_names import portal_zip_key

PORTAL_COMMAND = "stacks portal"


def shared_stack_settings(project_dir: Path, stack: str, region: str) -> SharedStackConfig:
    """``stack``'s validated config, which must be the shared stack's."""
    found = read_stack_file(project_dir, stack, region)
    if not isinstance(found.config.stack, SharedStackConfig):
        raise BadInput(f"{found.path}: stack {stack!r} is a cohort's; the preferences page "
                       "goes into the shared stack (--stack)")
    return found.config.stack


@dataclass
class PortalOutcome:
    """What the steps learn for the ones after them: the stored object's version, the
    stack outputs."""

    object_version: str | None = None
    outputs: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class StorePortalZip:
    """Store the zip under its sha256's key once; if that key holds it already, use that."""

    clients: AwsClients
    shared: SharedResources
    bundle: PortalBundle
    outcome: PortalOutcome

    @property
    def key(self) -> str:
        return portal_zip_key(self.shared.app, self.bundle.sha256)

    @property
    def kind(self) -> str:
        return "store-portal-zip"

    def describe(self) -> str:
        return (f"store the preferences page's zip ({self.bundle.size} bytes, sha256 "
                f"{self.bundle.sha256[:12]}…) as s3://{self.shared.artefact_bucket}/{self.key}")

    def facts(self) -> Mapping[str, object]:
        return {"bucket": self.shared.artefact_bucket, "key": self.key,
                "sha256": self.bundle.sha256, "size": self.bundle.size,
                "releases": list(self.bundle.releases)}

    def apply(self) -> None:
        self.outcome.object_version = ArtefactStore.of(self.clients, self.shared).put_once(
            self.key, self.bundle.path.read_bytes(), self.bundle.sha256)


@dataclass(frozen=True)
class DeployPortal:
    """Deploy the shared stack with the page running the stored object version."""

    deployer: StackDeployer
    stack: str
    bundle: PortalBundle
    key: str
    outcome: PortalOutcome

    @property
    def kind(self) -> str:
        return "deploy-portal"

    def describe(self) -> str:
        return (f"deploy the preferences page into stack {self.stack} ({self.deployer.kind}), "
                f"offering {', '.join(self.bundle.releases)}")

    def facts(self) -> Mapping[str, object]:
        return {"stack": self.stack, "deployer": self.deployer.kind, "key": self.key}

    def apply(self) -> None:
        if self.outcome.object_version is None:
            raise RolloutFailed("the preferences page's zip was not stored; nothing deployed")
        self.outcome.outputs = self.deployer.deploy_portal(self.stack, ZipArtefact(
            key=self.key, object_version=self.outcome.object_version,
            sha256=self.bundle.sha256))


def portal_plan(clients: AwsClients, shared: SharedResources, deployer: StackDeployer,
                stack: str, bundle: PortalBundle) -> tuple[Plan, PortalOutcome]:
    """``stacks portal`` as a plan, and where its steps leave what they learn."""
    outcome = PortalOutcome()
    store = StorePortalZip(clients, shared, bundle, outcome)
    return Plan(PORTAL_COMMAND, (
        store, DeployPortal(deployer, stack, bundle, store.key, outcome))), outcome
