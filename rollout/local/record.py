"""The local deployer's record as a source of stack outputs, and what a role needs to read it.

The local deployer keeps each stack's outputs in the moto server it deployed into
(:mod:`rollout.local.state`). Discovery reads them there first, but only when the
clients talk to a local endpoint: on AWS there is no such record, and it is never
looked for. Registered under the name ``local`` (see :mod:`rollout.local.commands`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rollout.aws_clients import AwsClients
from rollout.discovery import CohortResources, Discovery
from rollout.local.endpoint import is_local
from rollout.local.state import STATE_BUCKET, LocalStateStore
from rollout.stacks.role_policy import RolePolicy
from rollout.vocabulary.tags import SHARED


class LocalRecordOutputs:
    """An :class:`~rollout.discovery.OutputsSource` over the local deployer's record."""

    def __init__(self, clients: AwsClients, app: str) -> None:
        self._store = LocalStateStore(clients, app)

    def stack_outputs(self, stack: str) -> dict[str, Any] | None:
        state = self._store.load(stack)
        return dict(state.outputs) if state is not None and state.outputs else None

    def cohorts(self) -> list[str]:
        return [stack for stack in self._store.stacks() if stack != SHARED]


def local_record_outputs(clients: AwsClients, app: str,
                         project_dir: Path | None = None) -> LocalRecordOutputs | None:
    """The record, when ``clients`` talk to a local endpoint; None otherwise."""
    return LocalRecordOutputs(clients, app) if is_local(clients) else None


def local_discovery(clients: AwsClients, app: str) -> Discovery:
    """Discovery of ``app`` in the moto server: the local record first, then tags."""
    return Discovery(clients, app, sources=[LocalRecordOutputs(clients, app)])


def local_record_policy(cohort: CohortResources) -> RolePolicy:
    """What a rollout against moto needs on top of the cohort role's policy.

    Against a local endpoint, discovery first reads the app's stack outputs from
    the local deployer's record bucket and lists the app's stacks there, falling
    back to tags when there are none; on AWS it never looks there, so a real role
    must not get this.
    """
    partition = cohort.listener_arn.split(":")[1]
    bucket_arn = f"arn:{partition}:s3:::{STATE_BUCKET}"
    return RolePolicy.model_validate({"statements": [
        {"sid": "LocalEngineStackOutputs", "actions": ["s3:GetObject"],
         "resources": [f"{bucket_arn}/{LocalStateStore.prefix(cohort.app)}*"]},
        {"sid": "LocalEngineStacks", "actions": ["s3:ListBucket"], "resources": [bucket_arn]},
    ]})
