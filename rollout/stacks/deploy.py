"""Deploying a release into a cohort's idle colour: the rules ``stacks up|preview`` follow.

Before anything is deployed, :func:`settle_target` decides where the version goes,
the same way for every deployer: the cohort's stack config (validated, with
``file:line`` errors), the ledger's rollout state (it knows about promotions the
stack config never heard of), never the live colour, never during an active
rollout, and never a colour that still serves pinned tenants, whatever its weight
(deploying into it would change their version unannounced: :class:`Blocked`).
It also settles *what* goes there: for a lambda or ecs cohort, the release's zip (at
the S3 object version its manifest recorded, its sha256 checked against the bytes
S3 serves for that version) or image digest; an external cohort's own compute needs
no artefact, so it deploys the version alone, as it always has.

:func:`deploy_plan` is what ``stacks up`` then does, as a :class:`~rollout.plans.Plan`
of two steps: deploy the version into the colour, record the stack outputs in the
ledger (``STACK#<cohort>``). ``--dry-run`` displays that plan; the real run executes
the same one.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rollout.artefacts.colour_artefacts import colour_artefact
from rollout.artefacts.store import ArtefactStore
from rollout.aws_clients import AwsClients
from rollout.discovery import CohortResources, Discovery, SharedResources
from rollout.errors import BadInput
from rollout.model.stack import CohortStackConfig, ColourArtefact
from rollout.plans import Plan
from rollout.rollouts.executor import load_state
from rollout.rollouts.ledger import Ledger
from rollout.rollouts.pinned_colours import refuse_redeploy_of_pinned
from rollout.rollouts.state import RolloutState
from rollout.routers.configured import CohortRouters
from rollout.stacks.base import StackDeployer, StackPreview
from rollout.stacks.outputs_record import StackOutputsRecord, record_outputs
from rollout.stacks.stack_file import cohort_stack_config
from rollout.stacks.target_colour import live_colour, target_colour
from rollout.vocabulary.colours import COLOURS, Colour
from rollout.vocabulary.ledger_keys import stack_pk
from rollout.vocabulary.versions import checked_version

UP_COMMAND = "stacks up"


def checked_colour(colour: str | None) -> Colour | None:
    """``--colour`` as given: None (the idle one), or blue or green."""
    if colour is None:
        return None
    if colour not in COLOURS:
        raise BadInput(f"--colour must be blue or green, got {colour!r}")
    return colour


@dataclass(frozen=True)
class DeployTarget:
    """Where a version goes, settled before the stack is touched.

    ``shared`` is None before the shared stack (and its ledger) exists; ``artefact``
    is None for an external cohort (its own compute registers targets).
    """

    cohort: str
    app: str
    version: str
    colour: Colour
    live: Colour
    shared: SharedResources | None
    artefact: ColourArtefact | None = None


@dataclass
class DeployContext:
    """What settling needs: the project, clients, and the discovery of a stack config's app."""

    project_dir: Path
    clients: AwsClients
    discovery_for: Callable[[str], Discovery]


def _shared(discovery: Discovery) -> SharedResources | None:
    """The shared stack's resources, or None before it (and its ledger) exists."""
    try:
        return discovery.shared()
    except BadInput:
        return None


def _deployed_cohort(discovery: Discovery, cohort: str) -> CohortResources | None:
    """The cohort's deployed resources, or None before its first deploy (nothing is pinned)."""
    try:
        return discovery.cohort(cohort)
    except BadInput:
        return None


def _rollout_state(clients: AwsClients, shared: SharedResources | None,
                   cohort: str) -> RolloutState | None:
    """The cohort's rollout state, from the ledger in the shared stack's region."""
    if shared is None:
        return None
    return load_state(Ledger(clients.for_region(shared.shared_region), shared.ledger_table), cohort)


def _refuse_if_pinned(clients: AwsClients, routers: CohortRouters,
                      deployed: CohortResources | None,
                      config: CohortStackConfig, state: RolloutState | None, colour: Colour,
                      version: str) -> None:
    """Blocked while tenants are pinned to ``colour``: deploying would change their version.

    Pins are read from the cohort's router (in the cohort's region) and from the
    ledger; what each colour runs from the deployed stack first, then the ledger,
    then the stack config.
    """
    router_pins = (routers.router(clients.for_region(deployed.region), deployed).pins()
                   if deployed is not None else {})
    versions: dict[Colour, str] = {**config.versions, **(state.versions if state else {}),
                                   **(deployed.versions if deployed else {})}
    refuse_redeploy_of_pinned(config.cohort, colour, versions, router_pins,
                              state.pinned if state else {},
                              doing=f"deploying {version} into {colour}")


def _release_artefact(clients: AwsClients, shared: SharedResources | None,
                      config: CohortStackConfig, version: str) -> ColourArtefact | None:
    """What a colour of ``config``'s cohort runs of release ``version``, its zip checked.

    None for an external cohort. :class:`BadInput` when the release is not published
    or lacks the artefact of the cohort's compute kind; :class:`RolloutFailed` when
    the zip's bytes no longer match the manifest.
    """
    kind = config.compute.kind
    if kind == "external":
        return None
    if shared is None:
        raise BadInput(f"cohort {config.cohort} runs {kind} compute from the artefact store, "
                       f"but the shared stack of {config.app} is not deployed: deploy it, "
                       f"then publish {version} with `rollout release publish`")
    store = ArtefactStore.of(clients.for_region(shared.shared_region), shared)
    artefact = colour_artefact(store.require(version), kind)
    if artefact.zip is not None:
        store.check_zip(artefact.zip)
    return artefact


def settle_target(context: DeployContext, cohort: str, version: str,
                  colour: str | None) -> DeployTarget:
    """Where ``version`` goes in ``cohort``, and what it deploys there.

    :class:`BadInput` or :class:`Blocked` when nowhere, :class:`RolloutFailed` when the
    release's zip no longer matches its manifest; nothing is deployed either way.
    """
    checked = checked_version(version, "--version")
    requested = checked_colour(colour)
    config = cohort_stack_config(context.project_dir, cohort, context.clients.region)
    discovery = context.discovery_for(config.app)
    shared = _shared(discovery)
    state = _rollout_state(context.clients, shared, cohort)
    target = target_colour(cohort, state, config.live_colour, requested)
    _refuse_if_pinned(context.clients, CohortRouters.in_project(context.project_dir),
                      _deployed_cohort(discovery, cohort), config, state,
                      target, checked)
    return DeployTarget(cohort=cohort, app=config.app, version=checked, colour=target,
                        live=live_colour(state, config.live_colour), shared=shared,
                        artefact=_release_artefact(context.clients, shared, config, checked))


def what_runs(version: str, artefact: ColourArtefact | None) -> str:
    """The version, and the zip object version or image a colour deploys of it."""
    if artefact is not None and artefact.zip is not None:
        zipped = artefact.zip
        name = zipped.key.rpartition("/")[2]
        return (f"{version} ({name} object version {zipped.object_version}, "
                f"sha256 {zipped.sha256[:12]}…)")
    if artefact is not None and artefact.image is not None:
        return f"{version} (image {artefact.image})"
    return version


def artefact_facts(artefact: ColourArtefact | None) -> dict[str, object]:
    """The zip (key, object version, sha256) or image a deploy step deploys, for ``--json``."""
    if artefact is None:
        return {}
    facts: dict[str, object] = {}
    if artefact.zip is not None:
        facts["zip"] = artefact.zip.model_dump(mode="json", by_alias=True)
    if artefact.image is not None:
        facts["image"] = artefact.image
    return facts


@dataclass
class DeployOutcome:
    """The stack outputs the deploy step got, for the steps after it."""

    outputs: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class DeployVersion:
    """Deploy the version into the target colour (traffic does not move)."""

    deployer: StackDeployer
    target: DeployTarget
    outcome: DeployOutcome

    @property
    def kind(self) -> str:
        return "deploy-version"

    def describe(self) -> str:
        target = self.target
        return (f"deploy {what_runs(target.version, target.artefact)} into {target.colour} "
                f"of {target.cohort} ({self.deployer.kind})")

    def facts(self) -> Mapping[str, object]:
        return {"cohort": self.target.cohort, "colour": self.target.colour,
                "version": self.target.version, "deployer": self.deployer.kind,
                **artefact_facts(self.target.artefact)}

    def apply(self) -> None:
        target = self.target
        self.outcome.outputs = self.deployer.deploy_version(
            target.cohort, target.colour, target.version, artefact=target.artefact)


@dataclass(frozen=True)
class RecordOutputs:
    """Record what was deployed, and the stack outputs, in the ledger of the shared stack."""

    deployer: StackDeployer
    target: DeployTarget
    outcome: DeployOutcome
    discovery: Discovery
    clients: AwsClients

    @property
    def kind(self) -> str:
        return "record-outputs"

    def describe(self) -> str:
        return f"record the outputs of {self.target.cohort} in the ledger"

    def facts(self) -> Mapping[str, object]:
        return {"cohort": self.target.cohort, "record": stack_pk(self.target.cohort)}

    def ledger(self) -> Ledger:
        """The ledger in the shared stack's region (the table named by the outputs, if any)."""
        shared = self.target.shared or self.discovery.shared()
        table = self.outcome.outputs.get("ledgerTable") or shared.ledger_table
        return Ledger(self.clients.for_region(shared.shared_region), table)

    def apply(self) -> None:
        target = self.target
        record_outputs(self.ledger(), StackOutputsRecord(
            cohort=target.cohort, colour=target.colour, version=target.version,
            engine=self.deployer.kind, outputs=self.outcome.outputs))


def deploy_plan(context: DeployContext, deployer: StackDeployer,
                target: DeployTarget) -> tuple[Plan, DeployOutcome]:
    """``stacks up`` as a plan, and where its deploy step leaves the stack outputs."""
    outcome = DeployOutcome()
    discovery = context.discovery_for(target.app)
    return Plan(UP_COMMAND, (
        DeployVersion(deployer, target, outcome),
        RecordOutputs(deployer, target, outcome, discovery, context.clients),
    )), outcome


def preview_deploy(deployer: StackDeployer, target: DeployTarget) -> StackPreview:
    """What ``stacks up`` would change in the stack, changing nothing."""
    return deployer.preview(target.cohort, target.colour, target.version,
                            artefact=target.artefact)
