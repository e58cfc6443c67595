"""``rollout stacks up|preview`` and ``rollout iam-policy``.

``stacks up`` puts a release into a cohort's *idle* colour (the Pulumi Automation
API, or the local engine with ``--local``) and records the stack outputs in the
ledger; traffic does not move. A colour that still serves pinned tenants is never
idle, whatever its weight: deploying into it would change their version unannounced.
``iam-policy`` prints the least-privilege policy of the role that runs rollouts for
a cohort (``--cohort``), or of the one that publishes, prunes and notifies (``--release``).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from rollout.aws_clients import AwsClients
from rollout.cli import app, context
from rollout.cli.output import JsonFlag, console, emit, err_console
from rollout.discovery import CohortResources, Discovery, SharedResources
from rollout.errors import BadInput
from rollout.gates.security import config_policy_name
from rollout.local.engine import LocalEngine
from rollout.model.stack import CohortStackConfig
from rollout.rollouts.executor import load_state
from rollout.rollouts.ledger import Ledger
from rollout.rollouts.pinned_colours import refuse_redeploy_of_pinned
from rollout.rollouts.state import RolloutState
from rollout.routers.alb import AlbRouter
from rollout.stacks.automation import AutomationDeployer
from rollout.stacks.base import StackDeployer, StackPreview
from rollout.stacks.local import LocalDeployer
from rollout.stacks.outputs_record import StackOutputsRecord, record_outputs
from rollout.stacks.role_policy import release_role_policy, rollout_role_policy
from rollout.stacks.target_colour import live_colour, target_colour
from rollout.vocabulary.colours import COLOURS, Colour, other_colour
from rollout.vocabulary.versions import checked_version

stacks_app = typer.Typer(
    help="Deploy a release into a cohort's idle colour (Pulumi Automation API, or --local).",
    no_args_is_help=True)
app.add_typer(stacks_app, name="stacks")

CohortOption = Annotated[str, typer.Option(help="Cohort whose stack to deploy.")]
VersionOption = Annotated[str, typer.Option(help="Release version to deploy, e.g. 1.5.0.")]
ColourOption = Annotated[str | None, typer.Option(
    help="Colour to deploy into (default: the idle one, per the ledger or liveColour).")]
LocalOption = Annotated[bool, typer.Option(
    "--local", help="Deploy through the local engine into moto (AWS_ENDPOINT_URL) instead of "
                    "Pulumi: a rehearsal, not a real deployment.")]


def _stream_to_stderr(line: str) -> None:
    """Pulumi's progress goes to stderr, so ``--json`` output on stdout stays parseable."""
    sys.stderr.write(line + "\n")
    sys.stderr.flush()


def _deployer(local: bool, project_dir: Path, clients: AwsClients) -> StackDeployer:
    if local:
        return LocalDeployer(project_dir, clients)
    return AutomationDeployer(project_dir, on_output=_stream_to_stderr)


def _checked_colour(colour: str | None) -> Colour | None:
    if colour is None:
        return None
    if colour not in COLOURS:
        raise BadInput(f"--colour must be blue or green, got {colour!r}")
    return colour


def _cohort_config(project_dir: Path, clients: AwsClients, cohort: str) -> CohortStackConfig:
    stack = LocalEngine(project_dir, clients).stack_file(cohort)
    config = stack.config.stack
    if not isinstance(config, CohortStackConfig):
        raise BadInput(f"{stack.path}: stack {cohort!r} is the shared stack, not a cohort; "
                       "`stacks up` deploys cohort stacks")
    return config


def _shared(discovery: Discovery) -> SharedResources | None:
    """The shared stack's resources, or None before it (and its ledger) exists."""
    try:
        return discovery.shared()
    except BadInput:
        return None


def _rollout_state(clients: AwsClients, shared: SharedResources | None,
                   cohort: str) -> RolloutState | None:
    """The cohort's rollout state, from the ledger in the shared stack's region."""
    if shared is None:
        return None
    ledger = Ledger(clients.for_region(shared.shared_region), shared.ledger_table)
    return load_state(ledger, cohort)


def _deployed_cohort(discovery: Discovery, cohort: str) -> CohortResources | None:
    """The cohort's deployed resources, or None before its first deploy (nothing is pinned)."""
    try:
        return discovery.cohort(cohort)
    except BadInput:
        return None


def _refuse_if_pinned(clients: AwsClients, deployed: CohortResources | None,
                      config: CohortStackConfig, state: RolloutState | None, colour: Colour,
                      version: str) -> None:
    """Blocked while tenants are pinned to ``colour``: deploying would change their version.

    Pins are read from the listener (in the cohort's region) and from the ledger;
    what each colour runs from the deployed stack first, then the ledger, then the
    stack config.
    """
    listener_pins = (AlbRouter(clients.for_region(deployed.region), deployed).pins()
                     if deployed is not None else {})
    versions: dict[Colour, str] = {**config.versions, **(state.versions if state else {}),
                                   **(deployed.versions if deployed else {})}
    refuse_redeploy_of_pinned(config.cohort, colour, versions, listener_pins,
                              state.pinned if state else {},
                              doing=f"deploying {version} into {colour}")


class _Plan:
    """What both ``up`` and ``preview`` settle before touching the stack."""

    def __init__(self, cohort: str, version: str, colour: str | None, local: bool) -> None:
        ctx = context.current()
        self.clients = ctx.clients
        self.deployer = _deployer(local, ctx.project_dir, self.clients)
        self.cohort = cohort
        self.version = checked_version(version, "--version")
        requested = _checked_colour(colour)
        config = _cohort_config(ctx.project_dir, self.clients, cohort)
        self.discovery = ctx.discovery_for(config.app)
        self.shared = _shared(self.discovery)
        state = _rollout_state(self.clients, self.shared, cohort)
        self.live: Colour = live_colour(state, config.live_colour)
        self.colour: Colour = target_colour(cohort, state, config.live_colour, requested)
        _refuse_if_pinned(self.clients, _deployed_cohort(self.discovery, cohort), config, state,
                          self.colour, self.version)
        self.app = config.app

    def ledger(self, outputs: dict[str, Any]) -> Ledger:
        """The ledger in the shared stack's region (the table named by the outputs, if any)."""
        shared = self.shared or self.discovery.shared()
        table = outputs.get("ledgerTable") or shared.ledger_table
        return Ledger(self.clients.for_region(shared.shared_region), table)


def _show_up(data: dict[str, Any]) -> None:
    outputs = data["outputs"]
    colour = data["colour"]
    console.print(f"stack {data['cohort']} ({data['engine']}): {colour} now runs "
                  f"{data['version']}; traffic is unchanged, {data['liveColour']} is still live")
    console.print(f"  versions: {json.dumps(outputs.get('versions', {}))}")
    console.print(f"  {colour} target group: {outputs.get('targetGroupArns', {}).get(colour)}")
    console.print(f"  listener: {outputs.get('listenerArn')}")
    console.print("  (all outputs: --json; they are recorded in the ledger)")
    console.print(f"next: rollout config copy --cohort {data['cohort']} "
                  f"--from {data['liveColour']} --to {colour}")


@stacks_app.command("up")
def up(cohort: CohortOption, version: VersionOption, colour: ColourOption = None,
       local: LocalOption = False, as_json: JsonFlag = False) -> None:
    """Deploy VERSION into the idle colour of COHORT's stack and record the outputs.

    Needs the Pulumi CLI unless --local is given. Traffic does not move. Refused
    (exit 3) while tenants are pinned to that colour.
    """
    plan = _Plan(cohort, version, colour, local)
    if not as_json:
        err_console.print(f"deploying {plan.version} into {plan.colour} of stack {cohort} "
                          f"({plan.deployer.engine}) ...")
    outputs = plan.deployer.deploy_version(cohort, plan.colour, plan.version)
    record_outputs(plan.ledger(outputs), StackOutputsRecord(
        cohort=cohort, colour=plan.colour, version=plan.version, engine=plan.deployer.engine,
        outputs=outputs))
    emit({"cohort": cohort, "colour": plan.colour, "liveColour": plan.live,
          "version": plan.version, "engine": plan.deployer.engine, "outputs": outputs},
         as_json, _show_up)


def _show_preview(preview: StackPreview) -> None:
    was = preview.current_version or "nothing"
    console.print(f"stack {preview.cohort} ({preview.engine}): {preview.colour} would go from "
                  f"{was} to {preview.version}; the live colour "
                  f"{other_colour(preview.colour)} is not touched")
    if preview.changes:
        console.print("changes: " + ", ".join(f"{op} {n}" for op, n in preview.changes.items()))
    if preview.note:
        console.print(preview.note)


@stacks_app.command("preview")
def preview(cohort: CohortOption, version: VersionOption, colour: ColourOption = None,
            local: LocalOption = False, as_json: JsonFlag = False) -> None:
    """Show what `stacks up` would change, changing nothing."""
    plan = _Plan(cohort, version, colour, local)
    emit(plan.deployer.preview(cohort, plan.colour, plan.version), as_json, _show_preview)


@app.command("iam-policy")
def iam_policy(cohort: Annotated[str | None, typer.Option(
                   help="Cohort the role rolls out.")] = None,
               release: Annotated[bool, typer.Option(
                   "--release", help="The release role's instead: publish, list, verify and "
                   "prune releases, send notices.")] = False,
               as_json: JsonFlag = False) -> None:
    """Print the least-privilege IAM policy of the role that rolls out COHORT (or, with
    --release, of the role that publishes, prunes and notifies)."""
    if (cohort is not None) == release:
        raise BadInput("iam-policy: give exactly one of --cohort C (the role that rolls out "
                       "cohort C) or --release (the role that publishes, prunes and notifies)")
    ctx = context.current()
    account = str(ctx.clients.client("sts").get_caller_identity()["Account"])
    if cohort is None:
        shared = ctx.shared
        document = release_role_policy(shared, account).as_aws()
        role = f"publishes, prunes and announces releases of {shared.app}"
    else:
        resources = ctx.cohort(cohort)
        document = rollout_role_policy(
            resources, account, config_policy_name(resources.app, cohort)).as_aws()
        role = f"rolls out {resources.app}/{cohort}"

    def show(data: dict[str, Any]) -> None:
        err_console.print(f"IAM policy for the role that {role} "
                          "(attach it with `aws iam put-role-policy`):")
        sys.stdout.write(json.dumps(data, indent=2) + "\n")

    emit(document, as_json, show)
