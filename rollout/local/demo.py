"""``rollout demo``: the whole story on an embedded moto server, in plain words.

No AWS account and no Pulumi CLI: the infra program is deployed into moto by the
local deployer, and every later step talks to moto over HTTP exactly as it would
talk to AWS. Two liberties, both said out loud while the demo runs: the calendar
jumps to each cohort's planned slot (notice periods and busy seasons are judged
there), and bake times are one second instead of minutes. Traffic is read through
each cohort's configured router, as ``rollout status`` reads it.

The releases are real: zips of the example app (``examples/app``) built by
:func:`~rollout.local.app_bundle.build_app_zip` and published before any cohort
exists, and every colour is a Lambda function deployed from its release's zip, resolved
as ``rollout stacks up`` resolves it. What a colour runs is read back from moto (the
function version registered in its target group, the code Lambda holds), never from
the demo's own notes.

The requests are real too: while each cohort rolls out, its tenants call their app
through a local stand-in of the cohort's load balancer (:mod:`rollout.local.data_plane`),
each colour's zip running as a local process, so the gates judge what those requests
made. wave2's green runs a build of 1.5.0 with a defect baked in (a share of its
answers are 500s), the demo's stand-in for a bug only wave2's traffic finds; the demo
says so when it deploys it.
"""

from __future__ import annotations

import base64
import hashlib
import os
import secrets
import shlex
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from rich.console import Console
from rich.table import Table
from rich.text import Text

from rollout.artefacts.notes import load_notes
from rollout.artefacts.store import ArtefactStore
from rollout.aws_clients import AwsClients
from rollout.choices.book import ChoiceBook
from rollout.choices.links import links_for
from rollout.choices.overlay import with_choices
from rollout.cli.context import stack_regions
from rollout.cli.live_progress import render
from rollout.cli.report_cmds import write_page
from rollout.configcopy.copier import ConfigCopier
from rollout.discovery import CohortResources, Discovery
from rollout.errors import Blocked, RolloutFailed
from rollout.hooks.settings import CohortHooks, HookSettings
from rollout.local.app_bundle import build_app_zip
from rollout.local.data_plane.colour_processes import FunctionLaunch, StoredCode
from rollout.local.data_plane.function_process import deployed_function, serving_function
from rollout.local.demo_choice import Mailbox, choose_window
from rollout.local.demo_traffic import (
    RPS,
    ObservedRollout,
    TenantsCalling,
    observe,
    tenants_calling,
)
from rollout.local.deployer import LocalDeployer, colour_overrides, deep_merge
from rollout.local.record import local_discovery
from rollout.local.server import LOOPBACK, free_port, moto_in_child_process
from rollout.model.release import ReleaseNotes
from rollout.model.stack import ColourArtefact, ZipArtefact
from rollout.model.tenants import TenantsFile, load_tenants
from rollout.notify.campaign import send_notices
from rollout.notify.records import NoticeBook
from rollout.notify.render import describe_timeframe
from rollout.notify.sns import SnsNotifier
from rollout.plans import display, execute
from rollout.portal.bundle import build_portal_zip
from rollout.report.data import gather_report
from rollout.report.html import render_page
from rollout.rollouts.assembly import CohortSetup, RolloutOptions, build_rollout
from rollout.rollouts.command_plans import start_plan
from rollout.rollouts.executor import CohortRollout, RolloutSettings, TickReport, load_state
from rollout.rollouts.fleet_start import fleet_moves
from rollout.rollouts.fleet_status import CohortStatus, fleet_status
from rollout.rollouts.halts import Halt, HaltTarget, lift_halts, place_halt
from rollout.rollouts.ledger import Event, Ledger
from rollout.rollouts.progression import Advance, Promote
from rollout.rollouts.state import RolloutState, Status
from rollout.rollouts.strategy import StepPlan, parse_strategy
from rollout.schedule.plan import ReleasePlan
from rollout.schedule.planner import plan_release
from rollout.stacks.deploy import DeployContext, settle_target, what_runs
from rollout.stacks.portal_deploy import portal_plan
from rollout.stacks.stack_file import cohort_stack_config
from rollout.vocabulary.clock import utc_now
from rollout.vocabulary.colours import COLOURS, Colour
from rollout.vocabulary.resource_names import portal_zip_key
from rollout.vocabulary.versions import newest_first

RELEASE = "1.5.0"
COHORTS = ("canary", "wave1", "wave2")
DEMO_STRATEGY = {"canary": "canary:10:1s", "wave1": "linear:50:1s", "wave2": "linear:25:1s"}
FAILING_COHORT = "wave2"
HALTED_COHORT = "wave1"
"""The cohort whose start meets an operator's fleet-wide halt first."""
DEFECT = "errors:0.05"
"""Baked into the 1.5.0 build wave2's green runs: one answer in twenty is a 500."""
DEMO_MIN_SAMPLES = 20
"""Requests a traffic gate needs before it judges: a 1-second bake sees few of them."""
EDITING_TENANT = "harbor-media"
SMOKE_TENANT = "acme-internal"
CHOOSING_TENANT = "birch-labs"
CHOSEN_WINDOW = "Sun 02:00-06:00"
"""birch-labs' later window: it picks it from its notice, and the plan moves it there."""
LISTENER_ENV = "ROLLOUT_DEMO_LISTENER"
"""Where the demo tells canary's smoke-test hook the local listener's URL."""
SECRET_TENANT = "birch-labs"
ALARM = "api-5xx"
VERSION_VARIABLE = "ROLLOUT_VERSION"
"""The version every compute kind puts in a colour's environment (named in
``rollout.components.compute.base``, not imported here: that would load pulumi_aws)."""


class DemoResult(BaseModel):
    """What ``rollout demo --json`` prints: the fleet as the story left it.

    Each cohort's ``compute`` says, per colour, what runs there as moto reports it.
    """

    tenant_versions: dict[str, str]
    cohorts: dict[str, dict[str, Any]]
    rolled_back: dict[str, str]
    pinned: dict[str, str]
    report: str
    seconds: float
    traffic: dict[str, ObservedRollout] = Field(default_factory=dict)
    """Per cohort, what its tenants' real requests got while it rolled out."""
    refused_while_halted: dict[str, str] = Field(default_factory=dict)
    """Per cohort whose start an operator's fleet-wide halt refused: why, as it was said."""
    fleet_start: dict[str, str] = Field(default_factory=dict)
    """Per cohort, the move ``rollout fleet start`` would make at the end of the story."""


class ColourCode(BaseModel):
    """What one colour runs, read back from AWS: the function version registered in its
    target group, the version its environment names, and the zip Lambda holds for it.

    ``object_version`` is the S3 object version the stack deployed the function from
    (Lambda does not report it), shown only once its bytes are hashed again and match
    the ``sha256`` Lambda reports. All None when nothing is registered.
    """

    model_config = ConfigDict(frozen=True)

    function: str | None = None
    version: str | None = None
    object_version: str | None = None
    sha256: str | None = None


@dataclass
class Story:
    """The demo's shared state and its voice (silent with ``--json``)."""

    project_dir: Path
    report_path: Path
    console: Console
    quiet: bool
    clients: AwsClients = field(default_factory=AwsClients)
    rolled_back: dict[str, str] = field(default_factory=dict)
    pin_reasons: dict[str, str] = field(default_factory=dict)
    traffic: dict[str, ObservedRollout] = field(default_factory=dict)
    refused_while_halted: dict[str, str] = field(default_factory=dict)

    def say(self, text: str | Text = "") -> None:
        """One line as it is (styles come as a :class:`Text`): messages from gates, AWS and
        tenants' settings are in it, and a ``[/]`` in them must neither restyle nor crash."""
        if not self.quiet:
            self.console.print(text, markup=False)

    def chapter(self, title: str) -> None:
        self.say()
        self.say(Text(f"== {title}", style="bold cyan"))

    def show(self, renderable: Any) -> None:
        if not self.quiet:
            self.console.print(renderable, markup=False)


@dataclass
class DemoFleet:
    """The deployed app: where its resources are, its tenants, its ledger, its deployer."""

    app: str
    discovery: Discovery
    tenants: TenantsFile
    ledger: Ledger
    deployer: LocalDeployer
    defective: ColourArtefact | None = None
    """The 1.5.0 build with :data:`DEFECT` baked in, once published (wave2's green runs it)."""

    def setup(self, name: str) -> CohortSetup:
        """Cohort ``name`` as ``tenants.yaml`` configures it (its router, its gates)."""
        return CohortSetup(self.discovery.cohort(name), self.tenants, self.tenants.cohort(name))

    def weights(self, story: Story, resources: CohortResources) -> dict[Colour, int]:
        """The traffic split, as the cohort's configured router reads it."""
        setup = CohortSetup(resources, self.tenants, self.tenants.cohort(resources.cohort))
        return dict(setup.router(story.clients).read_weights())

    def deploy_context(self, story: Story) -> DeployContext:
        """What ``rollout stacks up`` settles a deploy with, over this fleet's discovery."""
        return DeployContext(story.project_dir, story.clients, lambda _app: self.discovery)

    def store(self, story: Story) -> ArtefactStore:
        return ArtefactStore.of(story.clients, self.discovery.shared())


def run_demo(project_dir: Path, report_path: Path, console: Console, quiet: bool) -> DemoResult:
    """Tell the whole story; return the final fleet."""
    started = utc_now()
    with moto_in_child_process() as endpoint:
        # One region for the whole story, the stacks' own: AWS_REGION may name another.
        clients = AwsClients().for_region(stack_regions(project_dir).get("shared"))
        story = Story(project_dir, report_path, console, quiet, clients)
        story.say(f"An embedded moto server is standing in for AWS at {endpoint}: "
                  "no AWS account and no Pulumi CLI are needed.")
        fleet = deploy_shared(story, demo_tenants(
            load_tenants(project_dir / "examples" / "tenants.yaml"), project_dir))
        publish_releases(story, fleet)
        deploy_cohorts(story, fleet)
        plan = prepare_release(story, fleet)
        refuse_without_notice(story, fleet)
        for name in COHORTS:
            roll_cohort(story, fleet, plan, name)
        statuses = fleet_status(story.clients, fleet.discovery, fleet.ledger, list(COHORTS))
        write_page(report_path, render_page(gather_report(
            story.clients, fleet.discovery, fleet.ledger, fleet.app, list(COHORTS))))
        result = summarise(story, fleet, statuses, started)
    return result


def demo_tenants(tenants: TenantsFile, project_dir: Path) -> TenantsFile:
    """``tenants.yaml`` as the demo runs it: gates that count requests judge from
    :data:`DEMO_MIN_SAMPLES` of them (the demo says so, as it says bakes are short), and
    canary smoke-tests green through its test route (:func:`smoke_hook`)."""
    cohorts = [cohort.model_copy(update={"gates": [
        {**gate, "min_samples": DEMO_MIN_SAMPLES} if gate.get("kind") in ("sla", "metric")
        else gate for gate in cohort.gates]}) for cohort in tenants.cohorts]
    cohorts = [cohort.model_copy(update={"hooks": smoke_hook(project_dir)})
               if cohort.name == "canary" else cohort for cohort in cohorts]
    return tenants.model_copy(update={"cohorts": cohorts})


@contextmanager
def listener_named(url: str) -> Iterator[None]:
    """The local listener's URL in :data:`LISTENER_ENV` while the block runs: the smoke
    hook inherits it (it opts the name in), as a real one would its load balancer's."""
    os.environ[LISTENER_ENV] = url
    try:
        yield
    finally:
        os.environ.pop(LISTENER_ENV, None)


def smoke_hook(project_dir: Path) -> CohortHooks:
    """The example app's smoke test (``examples/app/smoke.py``) as canary's
    ``after_test_traffic`` hook, calling the local listener named in :data:`LISTENER_ENV`."""
    script = project_dir.resolve() / "examples" / "app" / "smoke.py"
    command = shlex.join([sys.executable, str(script), "--tenant", SMOKE_TENANT,
                          "--url-from", LISTENER_ENV])
    return CohortHooks(after_test_traffic=[HookSettings(
        name="smoke", command=command, env=[LISTENER_ENV], timeout=30)])


def prepare_release(story: Story, fleet: DemoFleet) -> ReleasePlan:
    """Chapters 3 to 5: seed tenants' settings, plan and announce the release, and one
    tenant chooses another window from its notice. Every notice links to the preferences
    page, so its address is settled first: the loopback port its deployed code answers on."""
    seed_settings(story, fleet.discovery)
    show_plan(story, fleet.tenants)
    port = free_port()
    fleet.tenants = fleet.tenants.model_copy(update={"defaults": fleet.tenants.defaults.model_copy(
        update={"portal_url": f"http://{LOOPBACK}:{port}"})})
    mailbox = send_all_notices(story, fleet, fleet.discovery.shared().notices_topic_arn)
    page = publish_portal(story, fleet)
    with tempfile.TemporaryDirectory(prefix="rollout-demo-page-") as work, \
            serving_function(story.clients, page, Path(work), port=port):
        return choose_from_notice(story, fleet, mailbox)


def publish_portal(story: Story, fleet: DemoFleet) -> FunctionLaunch:
    """The preferences page into the shared stack, as ``rollout stacks portal --local``
    publishes it; the function it deployed, read back with its code checked."""
    examples = story.project_dir / "examples"
    shared = fleet.discovery.shared()
    with tempfile.TemporaryDirectory() as tmp:
        bundle = build_portal_zip(examples / "tenants.yaml", [examples / "release.yaml"],
                                  Path(tmp))
        plan, outcome = portal_plan(story.clients, shared, fleet.deployer, "shared", bundle)
        execute(plan)
    story.say("  the preferences page is published into the shared stack (`rollout stacks "
              "portal`): a Lambda function behind a public URL, from a zip of the page, the "
              "tenants file and the notes; here its deployed code answers on a loopback port "
              "in that URL's place")
    return deployed_function(story.clients, str(outcome.outputs["portalFunction"]), StoredCode(
        shared.artefact_bucket, portal_zip_key(shared.app, bundle.sha256),
        str(outcome.object_version), bundle.sha256))


def choose_from_notice(story: Story, fleet: DemoFleet, mailbox: Mailbox) -> ReleasePlan:
    """:data:`CHOOSING_TENANT` picks :data:`CHOSEN_WINDOW` on the page its notice links to;
    the plan, honouring the recorded choice as every command does, moves it."""
    before = plan_release(fleet.tenants, RELEASE, utc_now()).timeframes()[CHOOSING_TENANT]
    story.say(f"  {CHOOSING_TENANT}'s notice links to its preferences page (a signed link "
              f"for it and {RELEASE} alone, good once; never printed)")
    said = choose_window(mailbox.link_of(CHOOSING_TENANT), CHOSEN_WINDOW)
    story.say(f"  {CHOOSING_TENANT} opens it and picks its other window, {CHOSEN_WINDOW}; "
              f"the page answers: {said}")
    book = ChoiceBook(story.clients, fleet.discovery.shared().ledger_table, RELEASE)
    fleet.tenants = with_choices(fleet.tenants, book.choices())
    plan = plan_release(fleet.tenants, RELEASE, utc_now())
    after = plan.timeframes()[CHOOSING_TENANT]
    story.say(f"  the choice is in the ledger, and the plan moves {CHOOSING_TENANT}: from "
              f"{describe_timeframe(before)} to {describe_timeframe(after)}, a slot of its own; "
              "canary keeps its Saturday")
    return plan


def deploy_shared(story: Story, tenants: TenantsFile) -> DemoFleet:
    """The shared stack first: the artefact store the releases go into lives there."""
    story.chapter("1. Build the example app and publish its releases into the versioned "
                  "artefact store")
    deployer = LocalDeployer(story.project_dir, story.clients)
    app = deployer.stack_file("shared").config.stack.app
    deployer.up("shared")
    story.say(Text.assemble("  deployed stack ", ("shared", "bold"),
                            ": the artefact bucket (versioned), the ledger table, the notices "
                            "topic"))
    discovery = local_discovery(story.clients, app)
    ledger = Ledger(story.clients, discovery.shared().ledger_table)
    return DemoFleet(app, discovery, tenants, ledger, deployer)


def demo_versions(story: Story) -> list[str]:
    """The versions the cohorts' stack files run, and the new release: oldest first."""
    versions = {RELEASE}
    for name in COHORTS:
        versions |= set(cohort_stack_config(story.project_dir, name,
                                            story.clients.region).versions.values())
    return list(reversed(newest_first(sorted(versions))))


def earlier_notes(version: str) -> ReleaseNotes:
    """Notes for a release the fleet already runs (``examples/release.yaml`` is 1.5.0's)."""
    return ReleaseNotes(
        version=version, title=f"acme {version}, already running in the fleet",
        changes=["Published before this story starts: what the cohorts run today."],
        benefits=["A known-good version to roll back to."],
        risks=["None new: it is live already."], timeframe="Already live.",
        rollback_plan="Redeploy the previous version from the artefact store.")


def publish_releases(story: Story, fleet: DemoFleet) -> None:
    """Each version as a real zip of ``examples/app``, published with its notes."""
    notes = load_notes(story.project_dir / "examples" / "release.yaml", RELEASE)
    store = fleet.store(story)
    story.say("  the example app (examples/app) is built into one zip per version: the app, "
              "its dependencies, the version baked in")
    with tempfile.TemporaryDirectory() as tmp:
        for version in demo_versions(story):
            built = build_app_zip(version, Path(tmp), project_dir=story.project_dir)
            manifest = store.publish(notes if version == RELEASE else earlier_notes(version),
                                     [built])
            for item in manifest.files:
                story.say(f"  {version}: {item.name}, {item.size:,} bytes, sha256 "
                          f"{item.sha256[:12]}, S3 object version {item.version_id}")
        fleet.defective = upload_defective_build(story, fleet, Path(tmp))
    story.say(f"  {RELEASE} is the new release; the older ones stay in the store, so a "
              "rollback always has something to roll back to.")


def upload_defective_build(story: Story, fleet: DemoFleet, work: Path) -> ColourArtefact:
    """1.5.0 built with :data:`DEFECT` baked in, uploaded beside the releases (not as one:
    the release's own zip stays what canary and wave1 run)."""
    code = build_app_zip(RELEASE, work / "defective", project_dir=story.project_dir,
                         defect=DEFECT).read_bytes()
    key = f"rehearsal/{RELEASE}-with-defect/app.zip"
    made = story.clients.client("s3").put_object(
        Bucket=fleet.discovery.shared().artefact_bucket, Key=key, Body=code)
    story.say(f"  and a broken build of {RELEASE} ({DEFECT}: one answer in twenty is a 500), "
              f"kept at {key} for wave2: the demo's stand-in for a bug only wave2's traffic "
              "finds")
    return ColourArtefact(version=RELEASE, zip=ZipArtefact(
        key=key, object_version=made["VersionId"], sha256=hashlib.sha256(code).hexdigest()))


def deploy_cohorts(story: Story, fleet: DemoFleet) -> None:
    """Chapter 2: every cohort, both colours running its stack file's version from its zip."""
    story.chapter("2. Deploy each cohort's blue/green stack: every colour is a Lambda "
                  "function running its release's zip")
    context = fleet.deploy_context(story)
    for name in COHORTS:
        config = cohort_stack_config(story.project_dir, name, story.clients.region)
        overrides: dict[str, Any] = {}
        for colour in COLOURS:
            version = config.versions[colour]
            overrides = deep_merge(overrides, colour_overrides(
                colour, version, release_artefact(context, name, version)))
        fleet.deployer.up(name, overrides=overrides)
        story.say(Text.assemble("  deployed stack ", (name, "bold")))
    create_alarm(story)
    weights = {name: fleet.weights(story, fleet.discovery.cohort(name)) for name in COHORTS}
    story.say(f"  app {fleet.app}: each cohort has one load balancer splitting its traffic "
              "between a blue and a green colour")
    story.show(code_table("what each colour runs, as Lambda reports it",
                          running_code(story, fleet), weights))


def release_artefact(context: DeployContext, cohort: str, version: str) -> ColourArtefact | None:
    """What a colour of ``cohort`` runs of ``version``, resolved and re-hashed exactly as
    ``rollout stacks up`` does (the zip at the object version its manifest recorded).

    Settled for the idle colour, as ``stacks up`` would; a release's artefact is the same
    for either colour, so the first deploy gives it to both."""
    return settle_target(context, cohort, version, None).artefact


def deploy_release(story: Story, fleet: DemoFleet, name: str) -> None:
    """``rollout stacks up --local --cohort <name> --version 1.5.0``, into green."""
    target = settle_target(fleet.deploy_context(story), name, RELEASE, "green")
    artefact = target.artefact
    if name == FAILING_COHORT and fleet.defective is not None:
        artefact = fleet.defective
        story.say(Text(f"  {name}'s green gets the broken build of {RELEASE} ({DEFECT}) "
                       "instead of the release's zip", style="yellow"))
    fleet.deployer.deploy_version(name, target.colour, RELEASE, artefact=artefact)
    story.say(f"  {what_runs(RELEASE, artefact)} deployed into the idle green slot "
              "(`rollout stacks up --local`)")


def colour_code(story: Story, fleet: DemoFleet, cohort: CohortResources,
                colour: Colour) -> ColourCode:
    """What ``colour`` of ``cohort`` runs, read from its target group and from Lambda."""
    clients = story.clients.for_region(cohort.region)
    described = clients.client("elbv2").describe_target_health(
        TargetGroupArn=cohort.target_group_arns[colour])["TargetHealthDescriptions"]
    targets = sorted(str(found["Target"]["Id"]) for found in described)
    if not targets:
        return ColourCode()
    name, _, number = targets[0].split(":function:", 1)[1].partition(":")
    configuration = clients.client("lambda").get_function(
        FunctionName=name, Qualifier=number)["Configuration"]
    sha256 = base64.b64decode(configuration["CodeSha256"]).hex()
    version = configuration.get("Environment", {}).get("Variables", {}).get(VERSION_VARIABLE)
    recorded = cohort.compute.get(colour)
    object_version = recorded.code_object_version if recorded else None
    if recorded and recorded.code_key and object_version is not None:
        confirm_object_version(fleet.store(story), recorded.code_key, object_version, sha256)
    return ColourCode(function=", ".join(f"{name}:{t.rpartition(':')[2]}" for t in targets),
                      version=version, object_version=object_version, sha256=sha256)


def confirm_object_version(store: ArtefactStore, key: str, object_version: str,
                           sha256: str) -> None:
    """:class:`RolloutFailed` unless the zip the stack recorded (``key`` at
    ``object_version``) hashes to the ``sha256`` Lambda reports: the object version shown
    is the one the function runs."""
    try:
        store.check_zip(ZipArtefact(key=key, object_version=object_version, sha256=sha256))
    except RolloutFailed as differs:
        raise RolloutFailed(f"Lambda runs code with sha256 {sha256[:12]}, but the object "
                            f"version its stack recorded holds other bytes: {differs}") from None


def running_code(story: Story, fleet: DemoFleet) -> dict[str, dict[Colour, ColourCode]]:
    """What every colour of every cohort runs now."""
    return {name: {colour: colour_code(story, fleet, fleet.discovery.cohort(name), colour)
                   for colour in COLOURS} for name in COHORTS}


def code_table(title: str, running: dict[str, dict[Colour, ColourCode]],
               weights: dict[str, dict[Colour, int]]) -> Table:
    """One row per colour: its traffic, version, function and the zip it runs (a narrow
    terminal folds long values onto more lines, never cuts them)."""
    table = Table(title=title)
    for column in ("cohort", "colour", "version", "Lambda function", "zip S3 object version",
                   "sha256"):
        table.add_column(column, overflow="fold")
    for name, colours in running.items():
        for colour, code in colours.items():
            table.add_row(name if colour == COLOURS[0] else "",
                          f"{colour} {weights[name].get(colour, 0)}%", code.version or "-",
                          code.function or "nothing registered", code.object_version or "-",
                          code.sha256[:12] if code.sha256 else "-")
    return table


def create_alarm(story: Story) -> None:
    """The alarm the example cohorts' alarm gate watches (a real account has its own)."""
    cloudwatch = story.clients.client("cloudwatch")
    cloudwatch.put_metric_alarm(
        AlarmName=ALARM, Namespace="AWS/ApplicationELB", MetricName="HTTPCode_Target_5XX_Count",
        Statistic="Sum", Period=60, EvaluationPeriods=1, Threshold=50,
        ComparisonOperator="GreaterThanThreshold", TreatMissingData="notBreaching")
    cloudwatch.set_alarm_state(AlarmName=ALARM, StateValue="OK", StateReason="demo: healthy")
    story.say(f"  CloudWatch alarm {ALARM} is OK; the alarm gate fails any step while it fires.")


def seed_settings(story: Story, discovery: Discovery) -> None:
    story.chapter("3. Tenants have customised their settings on the live (blue) colour")
    ssm = story.clients.client("ssm")
    count = 0
    for name in COHORTS:
        cohort = discovery.cohort(name)
        for index, tenant in enumerate(cohort.tenants):
            prefix = f"{cohort.colour_prefix('blue')}/{tenant.id}"
            settings = [("theme", "String", ["light", "dark", "high-contrast"][index % 3]),
                        ("locale", "String", ["en-GB", "de-DE", "ja-JP"][index % 3]),
                        ("features", "StringList", "exports,sso,audit-log")]
            for key, kind, value in settings:
                ssm.put_parameter(Name=f"{prefix}/{key}", Type=kind, Value=value,
                                  Description=f"{tenant.id} {key}", Overwrite=True)
                count += 1
            if tenant.id == SECRET_TENANT:
                ssm.put_parameter(Name=f"{prefix}/api-token", Type="SecureString",
                                  Value=secrets.token_urlsafe(24), KeyId=cohort.kms_key_arn,
                                  Description="webhook signing token", Overwrite=True)
                count += 1
    story.say(f"  {count} settings under /<app>/<cohort>/blue/<tenant>/..., one of them a "
              f"SecureString ({SECRET_TENANT}'s api-token, never printed).")


def show_plan(story: Story, tenants: TenantsFile) -> ReleasePlan:
    story.chapter("4. Plan the rollout around notices, windows, freezes and busy seasons")
    plan = plan_release(tenants, RELEASE, utc_now())
    table = Table(title=f"plan for {RELEASE} (from today)")
    for column in ("cohort", "slot (UTC)", "upgraded", "stays on the old version, and why"):
        table.add_column(column)
    for cohort in plan.cohorts:
        slot = (f"{cohort.slot.start:%Y-%m-%d %H:%M}-{cohort.slot.end:%H:%M}"
                if cohort.slot else "none")
        table.add_row(cohort.cohort, slot, ", ".join(cohort.included_tenants()),
                      "\n".join(f"{e.tenant}: {e.kind.value}" for e in cohort.excluded))
    story.show(table)
    for delay in plan.cohorts[0].delays:
        story.say(f"  {plan.cohorts[0].cohort} not earlier because: {delay}")
    return plan


def send_all_notices(story: Story, fleet: DemoFleet, topic: str) -> Mailbox:
    story.chapter("5. Tell every tenant in advance: what changes, why, when, the risks, "
                  "how to opt out")
    now = utc_now()
    mailbox = Mailbox(SnsNotifier(story.clients, topic))
    links = links_for(fleet.tenants, story.clients, fleet.app)
    report = send_notices(release_notes(story), fleet.tenants, NoticeBook(fleet.ledger, RELEASE),
                          mailbox, now, now, links=links)
    story.say(f"  {report.summary()} (to the SNS notices topic, one message per tenant)")
    return mailbox


def release_notes(story: Story) -> ReleaseNotes:
    return load_notes(story.project_dir / "examples" / "release.yaml", RELEASE)


def refuse_without_notice(story: Story, fleet: DemoFleet) -> None:
    story.chapter("6. Trying to upgrade canary today is refused: tenants were promised their "
                  "full notice, and no upgrade during a company freeze")
    deploy_release(story, fleet, "canary")
    rollout = rollout_for(story, fleet, "canary", utc_now())
    try:
        with rollout.lease():
            rollout.start(RELEASE, DEMO_STRATEGY["canary"],
                          parse_strategy(DEMO_STRATEGY["canary"]))
    except Blocked as refused:
        story.say(f"  refused (exit code 3): {refused}")
    else:
        raise RolloutFailed("the demo expected the notice or freeze check to refuse this start")
    story.say(f"  traffic untouched: {fleet.weights(story, fleet.discovery.cohort('canary'))}")


def rollout_for(story: Story, fleet: DemoFleet, name: str, decided_at: datetime,
                on_progress: ProgressNarrator | None = None) -> CohortRollout:
    """The cohort's rollout, judged at ``decided_at`` (the calendar jump), checking every
    quarter of a second."""
    return build_rollout(fleet.setup(name), story.clients, fleet.ledger, RolloutOptions(
        settings=RolloutSettings(check_interval=0.25, lease_seconds=30),
        decided_at=decided_at, on_progress=on_progress,
        on_event=[on_progress.told] if on_progress else []))


class ProgressNarrator:
    """The rollout's progress hook: a one-line log, and the demo's injected events."""

    def __init__(self, story: Story, fleet: DemoFleet, cohort: CohortResources) -> None:
        self._story = story
        self._fleet = fleet
        self._cohort = cohort
        self._steps_seen: set[int] = set()
        self._preflight_told = False

    def __call__(self, progress: TickReport) -> None:
        action = progress.action
        if not isinstance(action, Advance) or action.index in self._steps_seen:
            return
        self._steps_seen.add(action.index)
        state = progress.state
        if action.index == 0:
            self.preflight_passed()
        self._story.say(f"  step {action.index + 1}/{len(state.steps)}: "
                        f"{state.steps[action.index].weight}% of {state.cohort}'s traffic on "
                        f"{state.new_colour} ({state.release}); listener now "
                        f"{self._fleet.weights(self._story, self._cohort)}")
        if action.index == 0:
            self.first_step(state.new_colour, state.old_colour)

    def preflight_passed(self) -> None:
        if self._preflight_told:
            return
        self._preflight_told = True
        self._story.say("  preflight passed: notices given, tenant config copied to green and "
                        "verified, security gate green; green's function is registered and "
                        "healthy in its target group (no step ever sends traffic to a colour "
                        "that cannot serve it)")

    def told(self, _cohort: str, event: Event) -> None:
        """The test route and the hooks, said as the ledger records them."""
        if event.kind == "test_route" and str(event.data.get("key", "")).endswith(
                ":test-route"):
            self.preflight_passed()
            self._story.say(f"  {event.message}")
        elif event.kind == "hook":
            verdict = "passed" if event.data.get("passed") else "FAILED"
            said = event.message.rpartition("last lines: ")[2]
            self._story.say(f"  hook {event.data.get('stage')} {event.data.get('hook')} "
                            f"{verdict}: {said}")

    def first_step(self, new: Colour, old: Colour) -> None:
        if self._cohort.cohort != FAILING_COHORT:
            return
        name = f"{self._cohort.colour_prefix(new)}/{EDITING_TENANT}/theme"
        self._story.clients.client("ssm").put_parameter(
            Name=name, Value="midnight", Type="String", Overwrite=True)
        self._story.say(f"  meanwhile {EDITING_TENANT} changes its theme to 'midnight' on "
                        f"{new}")


def slot_of(plan: ReleasePlan, name: str) -> datetime:
    """When the plan schedules cohort ``name`` (now, when it has no slot)."""
    cohort_plan = next(c for c in plan.cohorts if c.cohort == name)
    return cohort_plan.slot.start if cohort_plan.slot else utc_now()


def announce_pins(story: Story, rollout: CohortRollout, strategy: str, steps: StepPlan) -> None:
    """The tenants the rollout will leave on the old colour, and why, said out loud (read
    from the rollout's own draft: nothing is written)."""
    for pin in rollout.draft_start(RELEASE, strategy, steps).pins:
        story.say(f"  {pin['id']} stays on blue: {pin['reason']}")
        story.pin_reasons[pin["id"]] = pin["reason"]


def start_as_planned(story: Story, rollout: CohortRollout, strategy: str, steps: StepPlan,
                     show: bool) -> RolloutState:
    """Start the rollout from its plan; with ``show``, say the plan first, as
    ``rollout start --dry-run`` prints it: the steps the start then executes, exactly."""
    command = start_plan(rollout, RELEASE, strategy, steps)
    if show:
        story.say("  the plan of `rollout start` (what `--dry-run` prints; it then runs as is):")
        for line in display(command.plan):
            story.say(f"    - {line}")
    command.execute()
    return command.final


def roll_cohort(story: Story, fleet: DemoFleet, plan: ReleasePlan, name: str) -> None:
    slot = slot_of(plan, name)
    story.chapter(f"7{'abc'[COHORTS.index(name)]}. {name}: the calendar jumps to its slot, "
                  f"{slot:%a %Y-%m-%d %H:%M} UTC (bakes shortened to 1 s, traffic gates judge "
                  f"from {DEMO_MIN_SAMPLES} requests)")
    if name == "canary":
        story.say(f"  green already runs {RELEASE}: it was deployed there in chapter 6")
    else:
        deploy_release(story, fleet, name)
    resources = fleet.discovery.cohort(name)
    rollout = rollout_for(story, fleet, name, slot, ProgressNarrator(story, fleet, resources))
    steps = parse_strategy(DEMO_STRATEGY[name])
    announce_pins(story, rollout, DEMO_STRATEGY[name], steps)
    if name == HALTED_COHORT:
        refuse_while_halted(story, fleet, rollout, steps)
    outcome: RolloutState | RolloutFailed
    with tenants_calling(story.clients, resources) as calling, listener_named(calling.url):
        story.say(f"  {name}'s tenants call their app all along: {RPS} requests a second "
                  "through a local stand-in of its load balancer, each colour's zip running "
                  "as a local process; the gates judge what those requests get")
        try:
            with rollout.lease():
                outcome = start_as_planned(story, rollout, DEMO_STRATEGY[name], steps,
                                           show=name == "canary")
                if name == "canary":
                    show_copied_config(story, fleet.ledger, resources)
                outcome = drive_with_approvals(story, rollout)
        except RolloutFailed as failed:
            outcome = failed
    tell_traffic(story, fleet, rollout, calling)
    if isinstance(outcome, RolloutFailed):
        tell_rollback(story, fleet, rollout, resources, outcome)
        return
    story.show(render(TickReport(outcome, Promote(), outcome.last_gate_results, 0.0)))
    story.say(Text.assemble("  ", ("promoted", "green"), f": {name} runs {RELEASE} on green; "
                            "blue stays warm for instant rollback"))


def refuse_while_halted(story: Story, fleet: DemoFleet, rollout: CohortRollout,
                        steps: StepPlan) -> None:
    """An incident elsewhere: on-call halts the whole fleet, the cohort's start is refused
    with its weights untouched, and goes on once the halt is lifted."""
    cohort = rollout.cohort
    halt = Halt(scope="all", actor="on-call", at=rollout.clock.now(),
                reason="incident INC-42: the payment provider is down")
    place_halt(fleet.ledger, halt)
    story.say(f"  meanwhile an incident elsewhere: on-call halts the fleet (`rollout halt --all "
              f"--reason '{halt.reason}'`)")
    try:
        with rollout.lease():
            start_as_planned(story, rollout, DEMO_STRATEGY[cohort.cohort], steps, show=False)
    except Blocked as refused:
        story.refused_while_halted[cohort.cohort] = str(refused)
        story.say(f"  `rollout start` is refused (exit 3): {refused}")
    else:
        raise RuntimeError(f"the fleet-wide halt did not hold {cohort.cohort}'s start")
    story.say(f"  the listener stays at {fleet.weights(story, cohort)}; the incident is over: "
              "on-call lifts the halt (`rollout unhalt --all`)")
    lift_halts(fleet.ledger, HaltTarget("all"), actor="on-call", at=rollout.clock.now(),
               reason="INC-42 resolved")


def tell_traffic(story: Story, fleet: DemoFleet, rollout: CohortRollout,
                 calling: TenantsCalling) -> None:
    """What the cohort's tenants really got while it rolled out, from their answers."""
    state = rollout.state()
    assert state is not None
    begun = state.started_at.isoformat()
    events = [e for e in fleet.ledger.events(state.cohort)
              if str(e.data.get("key", "")).startswith(begun)]
    seen = observe(calling, events, state.old_colour, state.new_colour, dict(state.pinned))
    story.traffic[state.cohort] = seen
    new = state.new_colour
    story.say(f"  what {state.cohort}'s tenants got: {seen.requests:,} real requests in "
              f"{seen.seconds:.1f} s")
    if seen.while_test_route is not None:
        before = seen.while_test_route
        story.say(f"    before step 1, only the test route leading to {new}: "
                  f"{before.percent}% of {before.requests:,} requests reached {new}")
    for split in seen.steps:
        story.say(f"    step {split.step}: weight {split.weight}% -> {split.percent}% of "
                  f"{split.requests:,} requests reached {new}")
    if seen.strays:
        pinned = ", ".join(f"{t} {sum(seen.per_tenant.get(t, {}).values())}"
                           for t in seen.strays)
        story.say(f"    requests of pinned tenants ({pinned}) that another colour than "
                  f"their pin's served: {sum(seen.strays.values())}")
    if seen.same_settings:
        story.say(f"    {len(seen.same_settings)} tenant(s)' first answers from {new} showed "
                  f"the settings {state.old_colour} had shown them: "
                  f"{', '.join(seen.same_settings)}")
    for tenant in seen.different_settings:
        story.say(f"    {tenant}'s first answer from {new} showed other settings than "
                  f"{state.old_colour}'s (it edited one on {new} meanwhile)")
    if seen.first_failure_to_write_ms is not None:
        story.say(f"    from {new}'s first failed request to the rollback write: "
                  f"{seen.first_failure_to_write_ms:,.0f} ms")
        story.say(f"    requests sent after that write that {new} still served: "
                  f"{seen.served_after_write} (routed before the stand-in applied it, "
                  f"{seen.write_applied_ms or 0:.0f} ms later); after it applied: "
                  f"{seen.served_after_applied}")


def tell_rollback(story: Story, fleet: DemoFleet, rollout: CohortRollout,
                  resources: CohortResources, failed: RolloutFailed) -> None:
    story.say(Text.assemble("  ", ("rolled back automatically:", "bold red"), f" {failed}"))
    final = rollout.state()
    assert final is not None
    story.rolled_back[resources.cohort] = final.reason or str(failed)
    story.say(f"  listener back to {fleet.weights(story, resources)} in one write")
    if resources.cohort == FAILING_COHORT:
        show_carried_back(story, resources)


def drive_with_approvals(story: Story, rollout: CohortRollout) -> Any:
    while True:
        try:
            return rollout.drive()
        except Blocked as paused:
            state = rollout.state()
            if state is None or state.status != Status.PAUSED:
                raise
            story.say(f"  paused: {paused}")
            story.say("  a release manager approves (`rollout promote --cohort "
                      f"{state.cohort}`; in CI, the environment's required reviewer)")
            rollout.approve()


def show_copied_config(story: Story, ledger: Ledger, cohort: CohortResources) -> None:
    copier = ConfigCopier(story.clients, cohort, ledger)
    diff = copier.diff("blue", "green", SECRET_TENANT)
    for item in diff.items:
        shown = item.secret_value if item.secret else item.target_value
        story.say(f"    {item.key} on green: {shown} ({item.status.value})")


def show_carried_back(story: Story, cohort: CohortResources) -> None:
    name = f"{cohort.colour_prefix('blue')}/{EDITING_TENANT}/theme"
    value = story.clients.client("ssm").get_parameter(Name=name)["Parameter"]["Value"]
    story.say(f"  {EDITING_TENANT}'s edit made on green was carried back to blue: "
              f"theme = {value!r}; nothing a customer changed is lost")


def tenant_table(story: Story, statuses: list[CohortStatus],
                 ) -> tuple[Table, dict[str, str], dict[str, str]]:
    """Which tenant runs which version and why; every tenant's version; the pinned ones."""
    table = Table(title="versions per tenant")
    for column in ("tenant", "cohort", "version", "why"):
        table.add_column(column)
    versions: dict[str, str] = {}
    pinned: dict[str, str] = {}
    for status in statuses:
        for tenant, version in status.tenant_versions.items():
            versions[tenant] = version
            why = ""
            if tenant in status.pins:
                why = story.pin_reasons.get(tenant, f"pinned to {status.pins[tenant]}")
                pinned[tenant] = status.pins[tenant]
            elif status.cohort in story.rolled_back:
                why = "cohort rolled back"
            table.add_row(tenant, status.cohort, version, why)
    return table, versions, pinned


def summarise(story: Story, fleet: DemoFleet, statuses: list[CohortStatus],
              started: datetime) -> DemoResult:
    story.chapter("8. Where the fleet stands: a mixed-version fleet, by design")
    table, versions, pinned = tenant_table(story, statuses)
    story.show(table)
    running = running_code(story, fleet)
    story.show(code_table("what each colour runs now, as Lambda reports it", running,
                          {s.cohort: s.weights for s in statuses}))
    for cohort, reason in story.rolled_back.items():
        story.say(f"  {cohort} rolled back: {reason}")
    moves = fleet_moves(fleet.tenants, RELEASE, {s.cohort: load_state(fleet.ledger, s.cohort)
                                                 for s in statuses}, {}, utc_now())
    story.say(f"  `rollout fleet start --release {RELEASE}`, which a schedule runs to walk a "
              "release through the fleet, would now say:")
    for move in moves:
        story.say(f"    {move.describe()}")
    story.say(f"  report with the traffic timeline and event history: {story.report_path}")
    return DemoResult(
        tenant_versions=versions,
        cohorts={s.cohort: {"status": s.status, "weights": s.weights, "versions": s.versions,
                            "reason": s.reason,
                            "compute": {colour: code.model_dump(mode="json")
                                        for colour, code in running[s.cohort].items()}}
                 for s in statuses},
        rolled_back=story.rolled_back, pinned=pinned, report=str(story.report_path),
        traffic=story.traffic, refused_while_halted=story.refused_while_halted,
        fleet_start={move.cohort: move.move.value for move in moves},
        seconds=round((utc_now() - started).total_seconds(), 1))


__all__ = ["DemoResult", "run_demo"]
