"""The rollout commands: start, step, status, promote, rollback, abort, resume, pin, reap.

They only parse, call and render: the rules live in :mod:`rollout.rollouts`. Every
command that changes something builds its plan (:mod:`rollout.rollouts.command_plans`)
and either shows it (``--dry-run``: nothing is written, not even the cohort's lock) or
executes it, printing each step's line as it runs: the same lines either way.
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
import typing
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from rollout.cli import app, context
from rollout.cli.output import JsonFlag, console, emit, print_json, shown
from rollout.errors import BadInput
from rollout.vocabulary.colours import COLOURS, Colour

if TYPE_CHECKING:
    from rollout.cli.live_progress import LiveProgress
    from rollout.plans import PlanStep
    from rollout.rollouts.assembly import CohortSetup
    from rollout.rollouts.executor import CohortRollout, RolloutSettings
    from rollout.rollouts.plan_run import CommandPlan
    from rollout.rollouts.state import RolloutState
    from rollout.stepfunctions.launch import StartRequest

CohortOpt = Annotated[str, typer.Option("--cohort", help="The cohort to act on.")]
TenantsOpt = Annotated[Path | None, typer.Option(
    "--tenants", help="tenants.yaml (default: $ROLLOUT_TENANTS or ./tenants.yaml).")]
CheckEveryOpt = Annotated[str, typer.Option(
    "--check-every", help="How often gates are checked during a bake.")]
WarmForOpt = Annotated[str, typer.Option(
    "--warm-for", help="How long the old colour stays warm for instant rollback.")]
FreezeOverrideOpt = Annotated[str | None, typer.Option(
    "--override-freeze", help="Move traffic although a company freeze is on; the reason is "
    "recorded in the ledger.")]
ReadyWithinOpt = Annotated[str, typer.Option(
    "--ready-within", help="How long a colour being scaled up may take until its targets "
    "are healthy; then the command stops (exit 3) with no traffic moved.")]
LeaseOpt = Annotated[str, typer.Option(
    "--lease", help="How long the cohort's lock outlives a crashed holder (renewed while "
    "running).")]
DryRunOpt = Annotated[bool, typer.Option(
    "--dry-run", help="Show what the command would do, step by step, and change nothing.")]

STEP_MARK = "→ "
"""Each plan step's line starts with it, in a real run and in a dry run alike."""


@dataclass(frozen=True)
class Timing:
    """How often the gates are checked, how long the old colour stays warm, the lease."""

    check_every: CheckEveryOpt = "15s"
    warm_for: WarmForOpt = "24h"
    lease: LeaseOpt = "60s"
    ready_within: ReadyWithinOpt = "10m"

    def settings(self) -> RolloutSettings:
        from rollout.rollouts.executor import RolloutSettings
        from rollout.vocabulary.durations import parse_duration

        return RolloutSettings(
            check_interval=parse_duration(self.check_every, "--check-every"),
            warm_for=timedelta(seconds=parse_duration(self.warm_for, "--warm-for")),
            lease_seconds=parse_duration(self.lease, "--lease"),
            ready_within=parse_duration(self.ready_within, "--ready-within"))


@dataclass(frozen=True)
class Overrides:
    """An operator's recorded reasons to go on despite a missing notice or a freeze."""

    override_notice: Annotated[str | None, typer.Option(
        "--override-notice", help="Start although a tenant's notice period has not passed; "
        "the reason is recorded.")] = None
    override_freeze: FreezeOverrideOpt = None


ENGINES = ("process", "stepfunctions")


@dataclass(frozen=True)
class Driving:
    """Who moves the traffic after ``start``: this process (``--wait``), a later ``step``,
    or a Step Functions execution (``--engine stepfunctions``)."""

    wait: Annotated[bool, typer.Option("--wait", help="Run to completion, showing progress.")] \
        = False
    engine: Annotated[str, typer.Option(
        "--engine", help="process (default: `step`, `resume` or --wait move the traffic) or "
        "stepfunctions (a Step Functions execution runs the whole plan; no process of ours "
        "needs to run).")] = "process"

    def checked(self) -> Driving:
        if self.engine not in ENGINES:
            raise BadInput(f"--engine {self.engine!r}: the engines are {', '.join(ENGINES)}")
        if self.engine == "stepfunctions" and self.wait:
            raise BadInput("--wait drives the rollout from this process; with --engine "
                           "stepfunctions Step Functions drives it (`rollout status` reads it)")
        return self


@dataclass(frozen=True)
class Output:
    """How the command answers: JSON or text, and whether it only shows its plan."""

    as_json: JsonFlag = False
    dry_run: DryRunOpt = False


def option_groups(command: Callable[..., None]) -> Callable[..., None]:
    """Let a command take a dataclass of options as one parameter; typer sees its fields.

    Typer builds options from a function's signature and has no parameter groups, so
    the signature it reads lists each group's fields in the group's place.
    """
    hints = typing.get_type_hints(command, include_extras=True)
    groups: dict[str, type[Any]] = {}
    parameters: list[inspect.Parameter] = []
    for name, parameter in inspect.signature(command).parameters.items():
        hint = hints[name]
        if not (isinstance(hint, type) and dataclasses.is_dataclass(hint)):
            parameters.append(parameter.replace(annotation=hint))
            continue
        groups[name] = hint
        field_hints = typing.get_type_hints(hint, include_extras=True)
        parameters += [inspect.Parameter(item.name, inspect.Parameter.KEYWORD_ONLY,
                                         default=item.default, annotation=field_hints[item.name])
                       for item in dataclasses.fields(hint)]

    @functools.wraps(command)
    def grouped(**options: Any) -> None:
        for name, group in groups.items():
            names = [item.name for item in dataclasses.fields(group)]
            options[name] = group(**{key: options.pop(key) for key in names})
        command(**options)

    grouped.__signature__ = inspect.Signature(parameters)  # type: ignore[attr-defined]
    grouped.__annotations__ = {p.name: p.annotation for p in parameters}
    return grouped


def _setup(cohort: str, tenants: Path | None, release: str | None = None) -> CohortSetup:
    """The cohort's setup; for a ``release``, with its tenants' recorded choices honoured."""
    from rollout.rollouts.assembly import load_setup, tenants_path

    ctx = context.current()
    path = tenants_path(tenants, ctx.project_dir)
    resources = ctx.cohort(cohort)
    choices = ctx.choice_book(release).choices() if release is not None else []
    return load_setup(path, resources, choices)


def _rollout(setup: CohortSetup, timing: Timing | None = None, *,
             notice_override: str | None = None,
             live: LiveProgress | None = None) -> CohortRollout:
    from rollout.rollouts.assembly import RolloutOptions, build_rollout

    ctx = context.current()
    return build_rollout(setup, ctx.clients_for(setup.resources), ctx.ledger, RolloutOptions(
        settings=(timing or Timing()).settings(), notice_override=notice_override,
        on_progress=live.update if live else None,
        on_waiting=live.waiting if live else None))


def _print_step(step: PlanStep) -> None:
    console.print(STEP_MARK + step.describe())


def _carry_out(rollout: CohortRollout, build: Callable[[], CommandPlan], output: Output, *,
               locked: bool = True) -> CommandPlan | None:
    """Build the plan; show it (dry run: None), or execute it under the lease when ``locked``.

    The real run builds it once the lease is held, so what it reads cannot move meanwhile.
    """
    if output.dry_run:
        command = build()
        if output.as_json:
            print_json({"plan": command.plan.as_json(dry_run=True)})
        else:
            console.print(f"dry run: nothing was changed; `rollout {command.plan.command}` "
                          "would:")
            for step in command.plan.steps:
                _print_step(step)
        return None
    held: AbstractContextManager[object] = rollout.lease() if locked else nullcontext()
    with held:
        command = build()
        command.execute(None if output.as_json else _print_step)
    return command


def _state_view(state: RolloutState, weights: dict[Colour, int]) -> dict[str, Any]:
    return {**state.model_dump(mode="json"), "live_weights": weights}


def _print_state(data: dict[str, Any]) -> None:
    step = data["step_index"] + 1
    weights = data["live_weights"]
    console.print(f"cohort [bold]{shown(data['cohort'])}[/]: {data['status']} — release "
                  f"{shown(data['release'])} on {data['new_colour']}, old "
                  f"{shown(data['old_version'])} on {data['old_colour']}; step "
                  f"{step}/{len(data['steps'])}; listener weights "
                  + ", ".join(f"{c} {w}" for c, w in weights.items()), markup=True)
    if data.get("reason"):
        console.print(f"  why: {data['reason']}")
    if data.get("engine") == "stepfunctions":
        console.print(f"  runs on Step Functions: {data.get('execution')}")
    for item in data.get("config_left_alone") or []:
        console.print(f"  not carried back: tenant {item['tenant']}: {item['key']} "
                      f"({item['store']}), {item['reason']}; review it with `rollout config "
                      f"diff --cohort {data['cohort']} --from {item['source']} --to "
                      f"{item['target']} --tenant {item['tenant']}`")
    if data.get("warm_until") and data["status"] == "promoted":
        console.print(f"  {data['old_colour']} ({data['old_version']}) stays warm for rollback "
                      f"until {data['warm_until']}")


def _finish(rollout: CohortRollout, state: RolloutState, as_json: bool,
            command: CommandPlan | None = None) -> None:
    view = _state_view(state, rollout.router.read_weights())
    if command is not None:
        view["plan"] = command.plan.as_json(dry_run=False)
    emit(view, as_json, _print_state)


@app.command()
@option_groups
def start(
    cohort: CohortOpt,
    release: Annotated[str, typer.Option("--release", help="Version to roll out.")],
    strategy: Annotated[str | None, typer.Option(
        "--strategy", help="canary:P:BAKE, linear:P:BAKE, all-at-once or file:steps.yaml "
        "(default: the cohort's strategy in tenants.yaml).")] = None,
    tenants: TenantsOpt = None,
    driving: Driving = Driving(),
    overrides: Overrides = Overrides(),
    timing: Timing = Timing(),
    output: Output = Output(),
) -> None:
    """Start rolling RELEASE out to a cohort: copy config, check security, first step."""
    start_cohort(cohort, release, strategy, tenants, driving, overrides, timing, output)


def start_cohort(cohort: str, release: str, strategy: str | None, tenants: Path | None,
                 driving: Driving, overrides: Overrides, timing: Timing,
                 output: Output) -> None:
    """``rollout start``, also what ``rollout fleet start`` runs for the cohort it starts."""
    from rollout.cli.live_progress import LiveProgress
    from rollout.rollouts.command_plans import start_plan
    from rollout.rollouts.strategy import parse_strategy
    from rollout.vocabulary.versions import checked_version

    checked_version(release, "--release")
    wait = driving.checked().wait
    if strategy is not None:
        parse_strategy(strategy)
    ctx = context.current()
    setup = _setup(cohort, tenants, release)
    spec = strategy or setup.settings.strategy
    steps = parse_strategy(spec, base_dir=ctx.project_dir)
    if driving.engine == "stepfunctions":
        from rollout.stepfunctions.launch import StartRequest

        _start_on_step_functions(setup, StartRequest(
            release, spec, steps, notice_override=overrides.override_notice,
            freeze_override=overrides.override_freeze), timing, output)
        return
    with LiveProgress(enabled=wait and not (output.as_json or output.dry_run)) as live:
        rollout = _rollout(setup, timing, notice_override=overrides.override_notice, live=live)
        command = _carry_out(rollout, lambda: start_plan(
            rollout, release, spec, steps, notice_override=overrides.override_notice,
            freeze_override=overrides.override_freeze, then_drive=wait), output)
    if command is not None:
        _finish(rollout, command.final, output.as_json, command)


def _start_on_step_functions(setup: CohortSetup, request: StartRequest, timing: Timing,
                             output: Output) -> None:
    """``start --engine stepfunctions``: prepared here, then run by a Step Functions
    execution; a second start finds the running one."""
    from rollout.stepfunctions.launch import WorkflowLaunch, workflow_start_plan

    rollout = _rollout(setup, timing, notice_override=request.notice_override)
    launcher = WorkflowLaunch(rollout, setup, context.current().clients_for(setup.resources))
    running = launcher.running(request.release)
    if running is not None:
        emit({"cohort": setup.resources.cohort, "release": request.release,
              "execution": running.arn, "status": running.status, "already_running": True},
             output.as_json, lambda d: console.print(
                 f"the rollout of {d['release']} to {d['cohort']} already runs on Step "
                 f"Functions: {d['execution']}; nothing was started, nothing of ours needs "
                 "to run"))
        return
    if output.dry_run:
        planned = workflow_start_plan(launcher, request)
        if output.as_json:
            print_json({"definition": planned.definition, "actions": planned.actions})
            return
        console.print("dry run: nothing was changed; `rollout start --engine stepfunctions` "
                      "would:")
        for plan_step in planned.command.plan.steps:
            _print_step(plan_step)
        console.print("the state machine's definition:")
        print_json(planned.definition)
        return
    with rollout.lease():
        planned = workflow_start_plan(launcher, request)
        planned.command.execute(None if output.as_json else _print_step)
    state = planned.command.final
    view = {**_state_view(state, rollout.router.read_weights()),
            "plan": planned.command.plan.as_json(dry_run=False)}
    emit(view, output.as_json, lambda d: console.print(
        f"cohort {d['cohort']}: the rollout of {d['release']} runs on Step Functions, "
        f"execution {d['execution']}; nothing of ours needs to run (`rollout status --cohort "
        f"{d['cohort']}` reads it; promote, abort or rollback act on it)"))


@app.command()
@option_groups
def step(cohort: CohortOpt, tenants: TenantsOpt = None,
         override_freeze: FreezeOverrideOpt = None,
         output: Output = Output()) -> None:
    """Check the gates once and advance if the current step has baked (for cron or CI).

    After a promotion whose warm period is over, it scales the old colour down instead
    (as ``rollout reap`` does).
    """
    from rollout.rollouts.capacity_plans import due_reap
    from rollout.rollouts.command_plans import step_plan

    rollout = _rollout(_setup(cohort, tenants))

    def plan() -> CommandPlan:
        return due_reap(rollout) or step_plan(rollout, override_freeze)

    command = _carry_out(rollout, plan, output)
    if command is not None:
        _finish(rollout, command.final, output.as_json, command)


@app.command()
def resume(cohort: CohortOpt, tenants: TenantsOpt = None, check_every: CheckEveryOpt = "15s",
           lease: LeaseOpt = "60s", override_freeze: FreezeOverrideOpt = None,
           as_json: JsonFlag = False) -> None:
    """Converge to what the ledger says after a crash, then carry on to the end."""
    from rollout.cli.live_progress import LiveProgress

    with LiveProgress(enabled=not as_json) as live:
        rollout = _rollout(_setup(cohort, tenants), Timing(check_every=check_every, lease=lease),
                           live=live)
        with rollout.lease():
            rollout.override_freeze(override_freeze)
            state = rollout.resume()
    _finish(rollout, state, as_json)


@app.command()
@option_groups
def promote(
    cohort: Annotated[str | None, typer.Option("--cohort", help="Approve this cohort's "
                                               "current step and carry on.")] = None,
    source: Annotated[str | None, typer.Option("--from", help="Stage gate: the cohort "
                                               "that must be promoted and baked.")] = None,
    target: Annotated[str | None, typer.Option("--to", help="Stage gate: the next "
                                               "cohort.")] = None,
    release: Annotated[str | None, typer.Option("--release")] = None,
    tenants: TenantsOpt = None,
    check_every: CheckEveryOpt = "15s",
    override_freeze: FreezeOverrideOpt = None,
    output: Output = Output(),
) -> None:
    """Approve a waiting step (--cohort), or check the stage gate (--from/--to).

    The stage gate passes when the source cohort is promoted with green gates and has
    baked for the target cohort's ``min_gap`` (30 minutes when it has none). It only
    reads, so ``--dry-run`` checks it all the same.
    """
    from rollout.cli.live_progress import LiveProgress
    from rollout.rollouts.command_plans import promote_plan

    if source or target:
        _stage_gate(source, target, release, tenants, output.as_json)
        return
    if cohort is None:
        raise BadInput("pass --cohort C, or --from A --to B --release V")
    with LiveProgress(enabled=not (output.as_json or output.dry_run)) as live:
        rollout = _rollout(_setup(cohort, tenants), Timing(check_every=check_every), live=live)
        command = _carry_out(rollout, lambda: promote_plan(rollout, override_freeze), output)
    if command is not None:
        _finish(rollout, command.final, output.as_json, command)


def _stage_gate(source: str | None, target: str | None, release: str | None,
                tenants: Path | None, as_json: bool) -> None:
    from rollout.rollouts.executor import load_state
    from rollout.rollouts.stage_gate import StageGateSettings, check_stage_gate

    if not (source and target and release):
        raise BadInput("a stage promotion needs --from, --to and --release")
    ctx = context.current()
    setup = _setup(source, tenants)
    next_cohort = setup.tenants.cohort(target)
    verdict = check_stage_gate(load_state(ctx.ledger, source), source=source,
                               target=next_cohort.name, release=release,
                               settings=StageGateSettings.for_target(next_cohort))
    emit(verdict, as_json, lambda v: console.print(v.message))


@app.command()
@option_groups
def rollback(
    cohort: CohortOpt,
    reason: Annotated[str, typer.Option("--reason", help="Recorded in the ledger.")]
    = "manual rollback",
    to_version: Annotated[str | None, typer.Option(
        "--to-version", help="Redeploy this version from the artefact store into the idle "
        "colour first (when the old colour was scaled down).")] = None,
    local: Annotated[bool, typer.Option(
        "--local", help="With --to-version: deploy through the local deployer (moto).")]
    = False,
    to_colour: Annotated[str | None, typer.Option(
        "--to-colour", help="Only when the ledger cannot be read: the colour to send all "
        "traffic to (the ledger alone knows the last known-good one).")] = None,
    ready_within: ReadyWithinOpt = "10m",
    tenants: TenantsOpt = None,
    output: Output = Output(),
) -> None:
    """All traffic back to the old colour, in one write; config edits carried back.

    It needs no lock: a process still driving the rollout is stopped (it exits 1). After
    the old colour's warm period it is first scaled back up, and the write waits until
    its targets are healthy.
    """
    from rollout.cli.live_progress import LiveProgress
    from rollout.rollouts.command_plans import rollback_plan

    if to_version is not None:
        _rollback_to_version(cohort, to_version, tenants, local, output)
        return
    if to_colour is not None and to_colour not in COLOURS:
        raise BadInput(f"--to-colour {to_colour!r}: the colours are blue and green")
    blind: Colour | None = "blue" if to_colour == "blue" else "green" if to_colour else None
    with LiveProgress(enabled=not (output.as_json or output.dry_run)) as live:
        rollout = _rollout(_setup(cohort, tenants), Timing(ready_within=ready_within),
                           live=live)
        command = _carry_out(rollout, lambda: rollback_plan(rollout, reason,
                                                            without_ledger_to=blind),
                             output, locked=False)
    if command is not None:
        _finish(rollout, command.final, output.as_json, command)


def _rollback_to_version(cohort: str, version: str, tenants: Path | None, local: bool,
                         output: Output) -> None:
    from rollout.artefacts.rollback_to_version import rollback_to_version
    from rollout.artefacts.store import ArtefactStore
    from rollout.stacks.providers import LOCAL, PULUMI, DeployerSetup, stack_deployer

    if output.dry_run:
        raise BadInput("--dry-run does not cover --to-version: `rollout release verify` "
                       "checks the artefacts without deploying anything")
    ctx = context.current()
    rollout = _rollout(_setup(cohort, tenants))
    deployer = stack_deployer(LOCAL if local else PULUMI,
                              DeployerSetup(ctx.project_dir, ctx.clients))
    store = ArtefactStore.of(ctx.clients_for(ctx.shared), ctx.shared)
    done = rollback_to_version(rollout, store, deployer, ctx.cohort, version)
    emit(done.as_json(), output.as_json, lambda _: console.print(done.summary()))


@app.command()
@option_groups
def abort(cohort: CohortOpt,
          reason: Annotated[str, typer.Option("--reason")] = "aborted by operator",
          tenants: TenantsOpt = None, output: Output = Output()) -> None:
    """Stop a rollout in progress: traffic back to the old colour.

    It needs no lock: a process still driving the rollout is stopped (it exits 1).
    """
    from rollout.rollouts.command_plans import abort_plan

    rollout = _rollout(_setup(cohort, tenants))
    command = _carry_out(rollout, lambda: abort_plan(rollout, reason), output, locked=False)
    if command is not None:
        _finish(rollout, command.final, output.as_json, command)


@app.command()
@option_groups
def pin(
    cohort: CohortOpt,
    tenant: Annotated[str, typer.Option("--tenant", help="Tenant id.")],
    colour: Annotated[str, typer.Option("--colour", help="blue or green.")],
    tenants: TenantsOpt = None,
    output: Output = Output(),
) -> None:
    """Keep one tenant on a colour whatever the weights say (an opt-out)."""
    from rollout.rollouts.command_plans import pin_plan

    if colour not in COLOURS:
        raise BadInput(f"unknown colour {colour!r} (colours: blue, green)")
    setup = _setup(cohort, tenants)
    setup.tenants.member(cohort, tenant)
    ref = setup.tenant_ref(tenant)
    rollout = _rollout(setup)
    chosen: Colour = "blue" if colour == "blue" else "green"
    command = _carry_out(rollout, lambda: pin_plan(rollout, ref, chosen, "pinned by operator"),
                         output)
    if command is None:
        return
    pins = rollout.router.pins()
    emit({"cohort": cohort, "tenant": tenant, "colour": pins.get(tenant), "pins": pins,
          "plan": command.plan.as_json(dry_run=False)},
         output.as_json, lambda d: console.print(f"{d['tenant']} is pinned to {d['colour']} in "
                                                 f"cohort {d['cohort']}"))


@app.command()
@option_groups
def reap(cohort: CohortOpt, tenants: TenantsOpt = None, output: Output = Output()) -> None:
    """Scale the old colour down once its warm period is over (never while it serves).

    What it runs and its artefact stay deployed: a later rollback scales it back up and
    waits until its targets are healthy before its one listener write.
    """
    from rollout.rollouts.capacity_plans import reap_plan

    rollout = _rollout(_setup(cohort, tenants))
    command = _carry_out(rollout, lambda: reap_plan(rollout), output)
    if command is None:
        return
    if not command.plan.steps and not output.as_json:
        state = command.final
        console.print(f"nothing to do: {state.old_colour} ({state.old_version}) of {cohort} "
                      f"was scaled down at {state.scaled_down_at:%Y-%m-%d %H:%M} UTC")
    _finish(rollout, command.final, output.as_json, command)


def _reap_due(names: list[str]) -> list[str]:
    """``status`` on its way: scale down each old colour whose warm period is over, where a
    tenants file configures the cohort and nobody holds its lease; what it did."""
    from rollout.errors import Blocked
    from rollout.rollouts.capacity_plans import due_reap

    done: list[str] = []
    for name in names:
        try:
            rollout = _rollout(_setup(name, None))
            with rollout.lease():
                command = due_reap(rollout)
                if command is not None:
                    done += [f"{name}: {line}" for line in command.plan.lines()]
                    command.execute()
        except (BadInput, Blocked):
            continue
    return done


@app.command()
def status(cohort: Annotated[str | None, typer.Option("--cohort")] = None,
           as_json: JsonFlag = False) -> None:
    """The fleet at a glance: cohorts, colours, versions, weights, state, pins."""
    from rollout.rollouts.fleet_status import fleet_status
    from rollout.routers.configured import CohortRouters

    ctx = context.current()
    names = [cohort] if cohort else ctx.discovery.cohorts()
    reaped = _reap_due(names)
    rows = fleet_status(ctx.clients, ctx.discovery, ctx.ledger, names,
                        CohortRouters.in_project(ctx.project_dir),
                        choices_of=lambda release: ctx.choice_book(release).choices())
    emit(rows, as_json, _print_status)
    if not as_json:
        _print_choices(rows)
    if reaped and not as_json:
        for line in reaped:
            console.print(f"scaled down after its warm period: {line}")


def _print_choices(rows: list[Any]) -> None:
    """What each cohort's tenants chose about the release it rolls out (the pins above
    are what ``start`` made of them)."""
    for row in rows:
        for choice in row.choices:
            console.print(f"{row.cohort}: {choice.tenant} chose to {choice.describe()} "
                          f"({choice.at:%Y-%m-%d %H:%M} UTC)", markup=False)


def _print_status(rows: list[Any]) -> None:
    from rich.table import Table

    from rollout.routers.base import percentages

    table = Table(title="fleet")
    for column in ("cohort", "blue", "green", "weights (blue/green)", "state",
                   "last known-good", "tenants"):
        table.add_column(column)
    for row in rows:
        shares = percentages(row.weights)
        table.add_row(
            row.cohort, row.versions["blue"], row.versions["green"],
            f"{shares['blue']}% / {shares['green']}%", row.state_line,
            row.last_known_good or "-",
            ", ".join(f"{n} on {v}" for v, n in row.tenants_per_version.items()))
    console.print(table)
    for row in rows:
        if row.pins:
            console.print(f"{row.cohort}: pinned " + ", ".join(
                f"{tenant} to {colour} ({row.versions[colour]})"
                for tenant, colour in sorted(row.pins.items())))
        if row.reason:
            console.print(f"{row.cohort}: {row.reason}")
        if row.engine == "stepfunctions":
            console.print(f"{row.cohort}: runs on Step Functions, execution {row.execution}")
        for halt in row.halts:
            console.print(f"{row.cohort}: {halt.line()}")
        if row.scaled_down_at and row.status == "promoted":
            console.print(f"{row.cohort}: the old colour was scaled down at "
                          f"{row.scaled_down_at}; a rollback scales it back up first")
        elif row.warm_until and row.status == "promoted":
            console.print(f"{row.cohort}: the old colour stays warm for rollback until "
                          f"{row.warm_until}")
