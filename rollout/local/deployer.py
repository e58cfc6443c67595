"""The local deployer: runs the infra program for one stack into the moto server at hand.

A test double of ``pulumi up`` (:class:`LocalDeployer`, the ``local``
:class:`~rollout.stacks.base.StackDeployer`): the same program, the same stack
config and the same version override as the Automation API path, so a pipeline can
be rehearsed end to end against moto.

Validates the stack's ``Pulumi.<stack>.yaml`` first (a bad file is a
:class:`BadInput` naming file, line and field, with nothing created), deploys the
``shared`` stack first when a cohort references it and it is not there yet, then
runs the program in a fresh child process (see :mod:`rollout.local.child_process`).

Before anything is sent, every service the deployer uses must be local in every
region it will deploy into (see :mod:`rollout.local.endpoint`); its own requests go
through guarded clients, as do the child's.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rollout.aws_clients import AwsClients
from rollout.errors import BadInput
from rollout.local.child_process import StartMethod, run_stack
from rollout.local.endpoint import check_local, local_deployer_clients
from rollout.local.messages import StackRequest
from rollout.local.state import LocalStateStore
from rollout.model.stack import CohortStackConfig, ColourArtefact, ZipArtefact
from rollout.stacks.base import DeployerKind, StackPreview
from rollout.stacks.stack_file import StackFile, known_stacks, parse_stack_config, read_stack_file
from rollout.vocabulary.colours import Colour

STAND_IN_TARGET = "10.0.0.10"
"""The address of the target standing in for your compute in an ``external`` colour."""


@dataclass
class DeployResult:
    """What one ``local up`` of one stack did."""

    stack: str
    created: list[str] = field(default_factory=list)
    reused: list[str] = field(default_factory=list)
    outputs: dict[str, Any] = field(default_factory=dict)


def deep_merge(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    """``base`` with ``extra`` laid over it, nested mappings merged key by key.

    A ``None`` in ``extra`` removes the key: a colour deployed without an artefact
    must not keep the artefact of the version it ran before.
    """
    merged = dict(base)
    for key, value in extra.items():
        if value is None:
            merged.pop(key, None)
        elif isinstance(value, dict):
            below = merged.get(key)
            merged[key] = deep_merge(below if isinstance(below, dict) else {}, value)
        else:
            merged[key] = value
    return merged


def colour_overrides(colour: Colour, version: str,
                     artefact: ColourArtefact | None) -> dict[str, Any]:
    """The stack config changes that put ``version`` and its artefact into ``colour``."""
    dumped = (None if artefact is None
              else artefact.model_dump(mode="json", by_alias=True, exclude_none=True))
    return {"versions": {colour: version}, "artefacts": {colour: dumped}}


class LocalDeployer:
    """Deploys stacks of the project in ``project_dir`` into the moto server at hand.

    ``start_method`` picks how each stack's process starts (see
    :mod:`rollout.local.child_process`); the default is the fastest available.
    ``clients`` only lend their region to stacks whose config names none: the
    deployer sends its requests through guarded clients of its own
    (:func:`~rollout.local.endpoint.local_deployer_clients`), built from the same
    environment.
    """

    kind: DeployerKind = "local"

    def __init__(self, project_dir: Path, clients: AwsClients | None = None, *,
                 start_method: StartMethod | None = None) -> None:
        self.project_dir = project_dir
        self.clients = clients or AwsClients()
        self.start_method = start_method
        self._local: AwsClients | None = None

    @property
    def local_clients(self) -> AwsClients:
        """The deployer's guarded clients (made on first use, from the environment then)."""
        if self._local is None:
            self._local = local_deployer_clients(self.clients.region)
        return self._local

    def known_stacks(self) -> list[str]:
        return known_stacks(self.project_dir)

    def stack_file(self, stack: str, path: Path | None = None) -> StackFile:
        """Read and validate a stack's config file; :class:`BadInput` on any problem."""
        return read_stack_file(self.project_dir, stack, self.clients.region, path)

    def up(self, stack: str, *, path: Path | None = None,
           overrides: dict[str, Any] | None = None) -> list[DeployResult]:
        """Deploy ``stack`` (and the shared stack it needs first); return what each did.

        ``overrides`` are laid over the stack config (e.g. ``{"versions": {"green":
        "1.5.0"}}``) and remembered, so a later ``up`` without them keeps them.
        """
        stack_file = self.preflight(stack, path)
        store = self.store(stack_file.config.stack.app)
        previous = store.load(stack)
        overrides = deep_merge(previous.overrides if previous else {}, overrides or {})
        raw = deep_merge(stack_file.raw, overrides)
        parse_stack_config(raw, f"{stack_file.path} (with overrides {overrides})", {})
        results: list[DeployResult] = []
        cohort = stack_file.config.stack
        if isinstance(cohort, CohortStackConfig):
            shared = cohort.shared_stack.rsplit("/", 1)[-1]
            if store.load(shared) is None:
                results.extend(self.up(shared))
        results.append(self._deploy(stack, raw, stack_file.region, overrides))
        return results

    def deploy_version(self, cohort: str, colour: Colour, version: str, *,
                       artefact: ColourArtefact | None = None) -> dict[str, Any]:
        """:meth:`up` with ``colour``'s version (and its artefact, or none) set; the outputs."""
        results = self.up(cohort, overrides=colour_overrides(colour, version, artefact))
        return dict(results[-1].outputs)

    def deploy_portal(self, stack_name: str, portal_zip: ZipArtefact) -> dict[str, Any]:
        """:meth:`up` of the shared stack with ``portal.zip`` set (other portal settings
        are the stack file's); the outputs."""
        dumped = portal_zip.model_dump(mode="json", by_alias=True)
        results = self.up(stack_name, overrides={"portal": {"zip": dumped}})
        return dict(results[-1].outputs)

    def preview(self, cohort: str, colour: Colour, version: str, *,
                artefact: ColourArtefact | None = None) -> StackPreview:
        """From the local record: a version change retags that colour's target group only.

        ``artefact`` is accepted for the protocol's sake; the count is of target groups.
        """
        stack_file = self.stack_file(cohort)
        state = self.store(stack_file.config.stack.app).load(cohort)
        if state is None or not state.outputs:
            return StackPreview(cohort=cohort, colour=colour, version=version,
                                current_version=None, engine=self.kind,
                                note="not deployed yet: up creates the whole stack")
        current = state.outputs.get("versions", {}).get(colour)
        total = len(state.resources)
        changes = {"same": total} if current == version else {"update": 1, "same": total - 1}
        return StackPreview(cohort=cohort, colour=colour, version=version,
                            current_version=current, engine=self.kind, changes=changes)

    def store(self, app: str) -> LocalStateStore:
        return LocalStateStore(self.local_clients, app)

    def preflight(self, stack: str, path: Path | None = None) -> StackFile:
        """Everything :meth:`up` checks before touching AWS: the file, and that AWS is moto.

        Checked in each region the deploy uses: the stack's, and the shared stack's
        that a cohort's deploy may deploy first.
        """
        stack_file = self.stack_file(stack, path)
        check_local(self.local_clients, [file.region for file in self.deployed_with(stack_file)])
        return stack_file

    def deployed_with(self, stack_file: StackFile) -> list[StackFile]:
        """``stack_file`` and, for a cohort, its shared stack's file when there is a valid one.

        The stacks an :meth:`up` of it may deploy (a broken or missing shared file
        only matters when the shared stack really has to be deployed, and is
        reported then).
        """
        cohort = stack_file.config.stack
        if not isinstance(cohort, CohortStackConfig):
            return [stack_file]
        try:
            return [stack_file, self.stack_file(cohort.shared_stack.rsplit("/", 1)[-1])]
        except BadInput:
            return [stack_file]

    def _deploy(self, stack: str, raw: dict[str, Any], region: str,
                overrides: dict[str, Any]) -> DeployResult:
        environment = {**os.environ, "AWS_REGION": region, "PULUMI_SKIP_UPDATE_CHECK": "true"}
        request = StackRequest(stack, raw, region, overrides, environment)
        summary = run_stack(request, self.start_method)
        if summary.outputs.get("computeKind") == "external":
            self._stand_in_for_your_compute(summary.outputs, region)
        return DeployResult(stack, summary.created, summary.reused, summary.outputs)

    def _stand_in_for_your_compute(self, outputs: dict[str, Any], region: str) -> None:
        """An ``external`` colour's targets are your compute's to register; locally one
        stand-in target (port 8080, reported healthy by moto) takes their place in each
        empty target group, so a rehearsal can move traffic. Deregister it to rehearse a
        colour with nothing to serve."""
        elbv2 = self.local_clients.for_region(region).client("elbv2")
        for arn in (outputs.get("targetGroupArns") or {}).values():
            if not elbv2.describe_target_health(TargetGroupArn=arn)["TargetHealthDescriptions"]:
                elbv2.register_targets(TargetGroupArn=arn,
                                       Targets=[{"Id": STAND_IN_TARGET, "Port": 8080}])
