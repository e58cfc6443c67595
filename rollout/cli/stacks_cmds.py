"""``rollout stacks up|preview`` and ``rollout iam-policy``.

``stacks up`` puts a release into a cohort's *idle* colour (the Pulumi Automation
API, or the local deployer with ``--local``) and records the stack outputs in the
ledger; traffic does not move. The rules (which colour, the pinned-colour guard,
recording the outputs) are :mod:`rollout.stacks.deploy`'s; ``--dry-run`` shows its
plan and changes nothing. ``iam-policy`` prints the least-privilege policy of the
role that runs rollouts for a cohort (``--cohort``), or of the one that publishes,
prunes and notifies (``--release``).
"""

from __future__ import annotations

import json
import sys
from typing import TYPE_CHECKING, Annotated, Any

import typer

from rollout.cli import app, context
from rollout.cli.output import JsonFlag, console, emit, err_console
from rollout.errors import BadInput
from rollout.vocabulary.colours import other_colour

if TYPE_CHECKING:
    from rollout.plans import PlanStep
    from rollout.stacks.base import DeployerKind, StackDeployer, StackPreview
    from rollout.stacks.deploy import DeployContext, DeployTarget

stacks_app = typer.Typer(
    help="Deploy a release into a cohort's idle colour (Pulumi Automation API, or --local).",
    no_args_is_help=True)
app.add_typer(stacks_app, name="stacks")

CohortOption = Annotated[str, typer.Option(help="Cohort whose stack to deploy.")]
VersionOption = Annotated[str, typer.Option(help="Release version to deploy, e.g. 1.5.0.")]
ColourOption = Annotated[str | None, typer.Option(
    help="Colour to deploy into (default: the idle one, per the ledger or liveColour).")]
LocalOption = Annotated[bool, typer.Option(
    "--local", help="Deploy through the local deployer into moto (AWS_ENDPOINT_URL) instead "
                    "of Pulumi: a rehearsal, not a real deployment.")]
DryRunFlag = Annotated[bool, typer.Option(
    "--dry-run", help="Show the steps `stacks up` would take; change nothing.")]


def _stream_to_stderr(line: str) -> None:
    """Pulumi's progress goes to stderr, so ``--json`` output on stdout stays parseable."""
    sys.stderr.write(line + "\n")
    sys.stderr.flush()


def _settled(cohort: str, version: str, colour: str | None,
             local: bool) -> tuple[DeployContext, StackDeployer, DeployTarget]:
    """The deployer first (a missing Pulumi CLI or [local] extra refuses before any read),
    then where the version goes."""
    from rollout.stacks.deploy import DeployContext, settle_target
    from rollout.stacks.providers import LOCAL, PULUMI, DeployerSetup, stack_deployer

    ctx = context.current()
    deploy_context = DeployContext(ctx.project_dir, ctx.clients, ctx.discovery_for)
    kind: DeployerKind = LOCAL if local else PULUMI
    deployer = stack_deployer(kind, DeployerSetup(
        ctx.project_dir, ctx.clients, on_output=_stream_to_stderr))
    return deploy_context, deployer, settle_target(deploy_context, cohort, version, colour)


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
       local: LocalOption = False, dry_run: DryRunFlag = False,
       as_json: JsonFlag = False) -> None:
    """Deploy VERSION into the idle colour of COHORT's stack and record the outputs.

    Needs the Pulumi CLI unless --local is given. Traffic does not move. Refused
    (exit 3) while tenants are pinned to that colour. A lambda or ecs cohort deploys
    the release's zip (at its manifest's S3 object version) or image digest: exit 2
    when the release has none, exit 1 when the zip no longer matches its manifest.
    """
    from rollout.plans import display, execute
    from rollout.stacks.deploy import deploy_plan

    deploy_context, deployer, target = _settled(cohort, version, colour, local)
    plan, outcome = deploy_plan(deploy_context, deployer, target)

    def step_line(step: PlanStep) -> None:
        if not as_json:
            console.print(f"{'would ' if dry_run else ''}{step.describe()}")

    if dry_run:
        if not as_json:
            console.print(f"dry run of `{plan.command}`: nothing was changed")
        display(plan, step_line)
        emit(plan.as_json(dry_run=True), as_json, lambda _: None)
        return
    execute(plan, step_line)
    emit({"cohort": cohort, "colour": target.colour, "liveColour": target.live,
          "version": target.version, "engine": deployer.kind, "outputs": outcome.outputs,
          **plan.as_json(dry_run=False)}, as_json, _show_up)


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
    """Show what `stacks up` would change in the stack, changing nothing."""
    from rollout.stacks.deploy import preview_deploy

    _, deployer, target = _settled(cohort, version, colour, local)
    emit(preview_deploy(deployer, target), as_json, _show_preview)


@app.command("iam-policy")
def iam_policy(cohort: Annotated[str | None, typer.Option(
                   help="Cohort the role rolls out.")] = None,
               release: Annotated[bool, typer.Option(
                   "--release", help="The release role's instead: publish, list, verify and "
                   "prune releases, send notices.")] = False,
               as_json: JsonFlag = False) -> None:
    """Print the least-privilege IAM policy of the role that rolls out COHORT (or, with
    --release, of the role that publishes, prunes and notifies)."""
    from rollout.routers.configured import CohortRouters
    from rollout.stacks.role_policy import release_role_policy, rollout_role_policy
    from rollout.vocabulary import resource_names

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
        router = CohortRouters.in_project(ctx.project_dir).router(ctx.clients, resources)
        document = rollout_role_policy(
            resources, account, resource_names.config_policy(resources.app, cohort),
            router=router).as_aws()
        role = f"rolls out {resources.app}/{cohort}"

    def show(data: dict[str, Any]) -> None:
        err_console.print(f"IAM policy for the role that {role} "
                          "(attach it with `aws iam put-role-policy`):")
        sys.stdout.write(json.dumps(data, indent=2) + "\n")

    emit(document, as_json, show)
