"""``rollout stacks up|preview|portal`` and ``rollout iam-policy``.

``stacks up`` puts a release into a cohort's *idle* colour (the Pulumi Automation
API, or the local deployer with ``--local``) and records the stack outputs in the
ledger; traffic does not move. The rules (which colour, the pinned-colour guard,
recording the outputs) are :mod:`rollout.stacks.deploy`'s; ``--dry-run`` shows its
plan and changes nothing. ``stacks portal`` publishes the preferences page into the
shared stack (:mod:`rollout.stacks.portal_deploy`). ``iam-policy`` prints the
least-privilege policy of the role that runs rollouts for a cohort (``--cohort``), or
of the one that publishes, prunes and notifies (``--release``).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from rollout.cli import app, context
from rollout.cli.output import JsonFlag, console, emit, err_console
from rollout.cli.portal_cmds import OfferedNotes
from rollout.errors import BadInput
from rollout.vocabulary.colours import other_colour

if TYPE_CHECKING:
    from rollout.plans import Plan, PlanStep
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


def _deployer(local: bool) -> StackDeployer:
    """The Pulumi deployer, or with ``local`` moto's: a missing Pulumi CLI or [local]
    extra refuses here, before anything is read."""
    from rollout.stacks.providers import LOCAL, PULUMI, DeployerSetup, stack_deployer

    ctx = context.current()
    kind: DeployerKind = LOCAL if local else PULUMI
    return stack_deployer(kind, DeployerSetup(ctx.project_dir, ctx.clients,
                                              on_output=_stream_to_stderr))


def _settled(cohort: str, version: str, colour: str | None,
             local: bool) -> tuple[DeployContext, StackDeployer, DeployTarget]:
    """The deployer first (a missing Pulumi CLI or [local] extra refuses before any read),
    then where the version goes."""
    from rollout.stacks.deploy import DeployContext, settle_target

    ctx = context.current()
    deploy_context = DeployContext(ctx.project_dir, ctx.clients, ctx.discovery_for)
    deployer = _deployer(local)
    return deploy_context, deployer, settle_target(deploy_context, cohort, version, colour)


def _ran(plan: Plan, dry_run: bool, as_json: bool) -> bool:
    """Execute ``plan`` (or with ``dry_run`` display it and print its JSON), each step's
    line on the way unless ``as_json``; whether it was executed."""
    from rollout.plans import display, execute

    def step_line(step: PlanStep) -> None:
        if not as_json:
            console.print(f"{'would ' if dry_run else ''}{step.describe()}")

    if dry_run:
        if not as_json:
            console.print(f"dry run of `{plan.command}`: nothing was changed")
        display(plan, step_line)
        emit(plan.as_json(dry_run=True), as_json, lambda _: None)
        return False
    execute(plan, step_line)
    return True


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
    from rollout.stacks.deploy import deploy_plan

    deploy_context, deployer, target = _settled(cohort, version, colour, local)
    plan, outcome = deploy_plan(deploy_context, deployer, target)
    if not _ran(plan, dry_run, as_json):
        return
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


def _show_portal(data: dict[str, Any]) -> None:
    console.print(f"the preferences page of {data['app']} runs at {data['url']}")
    console.print(f"  set `defaults.portal_url: {data['url']}` in {data['tenants']} so the "
                  "links in notices open it")
    console.print("  publish again when the tenants file or the offered notes change")


@stacks_app.command("portal")
def portal(
    tenants: Annotated[Path, typer.Option(
        "--tenants", help="The tenants file the page decides from (goes into its zip).")],
    notes: OfferedNotes,
    stack: Annotated[str, typer.Option("--stack", help="The shared stack.")] = "shared",
    local: LocalOption = False, dry_run: DryRunFlag = False, as_json: JsonFlag = False,
) -> None:
    """Publish the preferences page: build its zip, store it, deploy it into the shared stack.

    Needs the Pulumi CLI unless --local is given. The tenants file and notes are
    checked before anything is sent (exit 2). Prints the page's URL: name it as
    defaults.portal_url in the tenants file.
    """
    import tempfile

    from rollout.model.stack import PortalSettings
    from rollout.portal.bundle import build_portal_zip
    from rollout.stacks.portal_deploy import portal_plan, shared_stack_settings

    ctx = context.current()
    settings = shared_stack_settings(ctx.project_dir, stack, ctx.clients.region)
    deployer = _deployer(local)
    with tempfile.TemporaryDirectory(prefix="rollout-portal-") as work:
        bundle = build_portal_zip(tenants, notes, Path(work), architecture=(
            settings.portal or PortalSettings()).architecture)
        shared = ctx.shared
        plan, outcome = portal_plan(ctx.clients_for(shared), shared, deployer, stack, bundle)
        if not _ran(plan, dry_run, as_json):
            return
    emit({"app": shared.app, "stack": stack, "url": outcome.outputs.get("portalUrl"),
          "function": outcome.outputs.get("portalFunction"), "tenants": str(tenants),
          "objectVersion": outcome.object_version, **plan.as_json(dry_run=False)},
         as_json, _show_portal)


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
