"""``rollout demo``: the whole story on an embedded moto server, in plain words.

No AWS account and no Pulumi CLI: the infra program is deployed into moto by the
local deployer, and every later step talks to moto over HTTP exactly as it would
talk to AWS. Two liberties, both said out loud while the demo runs: the calendar
jumps to each cohort's planned slot (notice periods and busy seasons are judged
there), and bake times are one second instead of minutes. Traffic is read through
each cohort's configured router, as ``rollout status`` reads it.
"""

from __future__ import annotations

import secrets
import tarfile
import tempfile
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from pydantic import BaseModel
from rich.console import Console
from rich.table import Table
from rich.text import Text

from rollout.artefacts.notes import load_notes
from rollout.artefacts.store import ArtefactStore
from rollout.aws_clients import AwsClients
from rollout.cli.context import stack_regions
from rollout.cli.live_progress import render
from rollout.cli.report_cmds import write_page
from rollout.configcopy.copier import ConfigCopier
from rollout.discovery import CohortResources, Discovery
from rollout.errors import Blocked, RolloutFailed
from rollout.local.deployer import LocalDeployer
from rollout.local.metrics_feed import feed_requests
from rollout.local.record import local_discovery
from rollout.local.server import embedded_moto
from rollout.model.tenants import TenantsFile, load_tenants
from rollout.notify.campaign import send_notices
from rollout.notify.records import NoticeBook
from rollout.notify.sns import SnsNotifier
from rollout.plans import display
from rollout.report.data import gather_report
from rollout.report.html import render_page
from rollout.rollouts.assembly import CohortSetup, RolloutOptions, build_rollout
from rollout.rollouts.command_plans import start_plan
from rollout.rollouts.executor import CohortRollout, RolloutSettings, TickReport
from rollout.rollouts.fleet_status import CohortStatus, fleet_status
from rollout.rollouts.ledger import Ledger
from rollout.rollouts.progression import Advance, Promote
from rollout.rollouts.state import RolloutState, Status
from rollout.rollouts.strategy import StepPlan, parse_strategy
from rollout.schedule.plan import ReleasePlan
from rollout.schedule.planner import plan_release
from rollout.vocabulary.clock import utc_now
from rollout.vocabulary.colours import Colour

RELEASE = "1.5.0"
COHORTS = ("canary", "wave1", "wave2")
DEMO_STRATEGY = {"canary": "canary:10:1s", "wave1": "linear:50:1s", "wave2": "linear:25:1s"}
FAILING_COHORT = "wave2"
EDITING_TENANT = "harbor-media"
SECRET_TENANT = "birch-labs"
ALARM = "api-5xx"


class DemoResult(BaseModel):
    """What ``rollout demo --json`` prints: the fleet as the story left it."""

    tenant_versions: dict[str, str]
    cohorts: dict[str, dict[str, Any]]
    rolled_back: dict[str, str]
    pinned: dict[str, str]
    report: str
    seconds: float


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

    def setup(self, name: str) -> CohortSetup:
        """Cohort ``name`` as ``tenants.yaml`` configures it (its router, its gates)."""
        return CohortSetup(self.discovery.cohort(name), self.tenants, self.tenants.cohort(name))

    def weights(self, story: Story, resources: CohortResources) -> dict[Colour, int]:
        """The traffic split, as the cohort's configured router reads it."""
        setup = CohortSetup(resources, self.tenants, self.tenants.cohort(resources.cohort))
        return dict(setup.router(story.clients).read_weights())


def run_demo(project_dir: Path, report_path: Path, console: Console, quiet: bool) -> DemoResult:
    """Tell the whole story; return the final fleet."""
    started = utc_now()
    with embedded_moto() as endpoint:
        # One region for the whole story, the stacks' own: AWS_REGION may name another.
        clients = AwsClients().for_region(stack_regions(project_dir).get("shared"))
        story = Story(project_dir, report_path, console, quiet, clients)
        story.say(f"An embedded moto server is standing in for AWS at {endpoint}: "
                  "no AWS account and no Pulumi CLI are needed.")
        fleet = deploy_fleet(story, load_tenants(project_dir / "examples" / "tenants.yaml"))
        plan = prepare_release(story, fleet)
        refuse_without_notice(story, fleet)
        for name in COHORTS:
            roll_cohort(story, fleet, plan, name)
        statuses = fleet_status(story.clients, fleet.discovery, fleet.ledger, list(COHORTS))
        write_page(report_path, render_page(gather_report(
            story.clients, fleet.discovery, fleet.ledger, fleet.app, list(COHORTS))))
        result = summarise(story, statuses, started)
    return result


def prepare_release(story: Story, fleet: DemoFleet) -> ReleasePlan:
    """Chapters 2 to 5: publish, seed tenants' settings, plan and announce the release."""
    shared = fleet.discovery.shared()
    create_alarm(story)
    publish_release(story, ArtefactStore.of(story.clients, shared))
    seed_settings(story, fleet.discovery)
    plan = show_plan(story, fleet.tenants)
    send_all_notices(story, fleet.tenants, fleet.ledger, shared.notices_topic_arn)
    return plan


def deploy_fleet(story: Story, tenants: TenantsFile) -> DemoFleet:
    story.chapter("1. Deploy the versioned blue/green stacks (local deployer, same infra "
                  "program)")
    deployer = LocalDeployer(story.project_dir, story.clients)
    app = deployer.stack_file("shared").config.stack.app
    for name in ("shared", *COHORTS):
        deployer.up(name)
        story.say(Text.assemble("  deployed stack ", (name, "bold")))
    discovery = local_discovery(story.clients, app)
    ledger = Ledger(story.clients, discovery.shared().ledger_table)
    fleet = DemoFleet(app, discovery, tenants, ledger, deployer)
    table = Table(title=f"app {app}: each cohort has a blue and a green slot behind one "
                        "load balancer")
    for column in ("cohort", "blue runs", "green runs", "traffic blue / green", "tenants"):
        table.add_column(column)
    for name in COHORTS:
        cohort = discovery.cohort(name)
        weights = fleet.weights(story, cohort)
        table.add_row(name, cohort.versions["blue"], cohort.versions["green"],
                      f"{weights['blue']}% / {weights['green']}%", str(len(cohort.tenants)))
    story.show(table)
    return fleet


def create_alarm(story: Story) -> None:
    """The alarm the example cohorts' alarm gate watches (a real account has its own)."""
    cloudwatch = story.clients.client("cloudwatch")
    cloudwatch.put_metric_alarm(
        AlarmName=ALARM, Namespace="AWS/ApplicationELB", MetricName="HTTPCode_Target_5XX_Count",
        Statistic="Sum", Period=60, EvaluationPeriods=1, Threshold=50,
        ComparisonOperator="GreaterThanThreshold", TreatMissingData="notBreaching")
    cloudwatch.set_alarm_state(AlarmName=ALARM, StateValue="OK", StateReason="demo: healthy")
    story.say(f"  CloudWatch alarm {ALARM} is OK; the alarm gate fails any step while it fires.")


def publish_release(story: Story, store: ArtefactStore) -> None:
    story.chapter(f"2. Publish release {RELEASE}: artefacts and notes into the versioned store")
    notes = load_notes(story.project_dir / "examples" / "release.yaml", RELEASE)
    with tempfile.TemporaryDirectory() as tmp:
        bundle = Path(tmp) / f"acme-app-{RELEASE}.tar.gz"
        source = Path(tmp) / "app"
        source.mkdir()
        (source / "VERSION").write_text(RELEASE + "\n")
        (source / "CHANGELOG.md").write_text("\n".join(f"- {c}" for c in notes.changes))
        with tarfile.open(bundle, "w:gz") as archive:
            archive.add(source, arcname="app")
        manifest = store.publish(notes, [bundle])
    for item in manifest.files:
        story.say(f"  {item.name}: {item.size} bytes, sha256 {item.sha256[:16]}...")
    story.say("  Older releases stay in the store, so a rollback always has something to "
              "roll back to.")


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


def send_all_notices(story: Story, tenants: TenantsFile, ledger: Ledger, topic: str) -> None:
    story.chapter("5. Tell every tenant in advance: what changes, why, when, the risks, "
                  "how to opt out")
    notes = load_notes(story.project_dir / "examples" / "release.yaml", RELEASE)
    now = utc_now()
    report = send_notices(notes, tenants, NoticeBook(ledger, RELEASE),
                          SnsNotifier(story.clients, topic), now, now)
    story.say(f"  {report.summary()} (to the SNS notices topic, one message per tenant)")


def refuse_without_notice(story: Story, fleet: DemoFleet) -> None:
    story.chapter("6. Trying to upgrade canary today is refused: tenants were promised their "
                  "full notice, and no upgrade during a company freeze")
    fleet.deployer.deploy_version("canary", "green", RELEASE)
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
        decided_at=decided_at, on_progress=on_progress))


class ProgressNarrator:
    """The rollout's progress hook: a one-line log, and the demo's injected events."""

    def __init__(self, story: Story, fleet: DemoFleet, cohort: CohortResources) -> None:
        self._story = story
        self._fleet = fleet
        self._cohort = cohort
        self._steps_seen: set[int] = set()

    def __call__(self, progress: TickReport) -> None:
        action = progress.action
        if not isinstance(action, Advance) or action.index in self._steps_seen:
            return
        self._steps_seen.add(action.index)
        state = progress.state
        if action.index == 0:
            self._story.say("  preflight passed: notices given, tenant config copied to "
                            "green and verified, security gate green")
        self._story.say(f"  step {action.index + 1}/{len(state.steps)}: "
                        f"{state.steps[action.index].weight}% of {state.cohort}'s traffic on "
                        f"{state.new_colour} ({state.release}); listener now "
                        f"{self._fleet.weights(self._story, self._cohort)}")
        if action.index == 0:
            self.first_step(state.new_colour, state.old_colour)

    def first_step(self, new: Colour, old: Colour) -> None:
        feed_requests(self._story.clients, self._cohort, old, requests=4000, errors_5xx=2)
        if self._cohort.cohort != FAILING_COHORT:
            feed_requests(self._story.clients, self._cohort, new, requests=1000, errors_5xx=0)
            return
        feed_requests(self._story.clients, self._cohort, new, requests=1000, errors_5xx=45)
        self._story.say(Text(f"  injected: 4.5% of requests on {new} fail with 5xx",
                             style="yellow"))
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
                  f"{slot:%a %Y-%m-%d %H:%M} UTC (bakes shortened to 1 s)")
    if name != "canary":
        fleet.deployer.deploy_version(name, "green", RELEASE)
    story.say(f"  {RELEASE} deployed into the idle green slot (`rollout stacks up --local`)")
    resources = fleet.discovery.cohort(name)
    rollout = rollout_for(story, fleet, name, slot, ProgressNarrator(story, fleet, resources))
    steps = parse_strategy(DEMO_STRATEGY[name])
    announce_pins(story, rollout, DEMO_STRATEGY[name], steps)
    try:
        with rollout.lease():
            state = start_as_planned(story, rollout, DEMO_STRATEGY[name], steps,
                                     show=name == "canary")
            if name == "canary":
                show_copied_config(story, fleet.ledger, resources)
            state = drive_with_approvals(story, rollout)
    except RolloutFailed as failed:
        tell_rollback(story, fleet, rollout, resources, failed)
        return
    story.show(render(TickReport(state, Promote(), state.last_gate_results, 0.0)))
    story.say(Text.assemble("  ", ("promoted", "green"), f": {name} runs {RELEASE} on green; "
                            "blue stays warm for instant rollback"))


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


def summarise(story: Story, statuses: list[CohortStatus], started: datetime) -> DemoResult:
    story.chapter("8. Where the fleet stands: a mixed-version fleet, by design")
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
    story.show(table)
    for cohort, reason in story.rolled_back.items():
        story.say(f"  {cohort} rolled back: {reason}")
    story.say(f"  report with the traffic timeline and event history: {story.report_path}")
    return DemoResult(
        tenant_versions=versions,
        cohorts={s.cohort: {"status": s.status, "weights": s.weights, "versions": s.versions,
                            "reason": s.reason} for s in statuses},
        rolled_back=story.rolled_back, pinned=pinned, report=str(story.report_path),
        seconds=round((utc_now() - started).total_seconds(), 1))


__all__ = ["DemoResult", "run_demo"]
