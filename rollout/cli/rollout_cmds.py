"""The rollout commands: start, step, status, promote, rollback, abort, resume, pin."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from rollout.cli import app, context
from rollout.cli.live_progress import LiveProgress
from rollout.cli.output import JsonFlag, console, emit, shown
from rollout.errors import BadInput
from rollout.rollouts.assembly import CohortSetup, build_rollout, load_setup, tenants_path
from rollout.rollouts.executor import CohortRollout, EngineSettings, load_state
from rollout.rollouts.state import RolloutState
from rollout.rollouts.strategy import parse_duration, parse_strategy
from rollout.routers.base import percentages
from rollout.vocabulary.colours import COLOURS, Colour
from rollout.vocabulary.versions import checked_version

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
LeaseOpt = Annotated[str, typer.Option(
    "--lease", help="How long the cohort's lock outlives a crashed holder (renewed while "
    "running).")]


def _setup(cohort: str, tenants: Path | None) -> CohortSetup:
    ctx = context.current()
    path = tenants_path(tenants, ctx.project_dir)
    return load_setup(path, ctx.cohort(cohort))


def _engine(setup: CohortSetup, *, check_every: str = "15s", warm_for: str = "24h",
            lease: str = "60s", notice_override: str | None = None,
            live: LiveProgress | None = None) -> CohortRollout:
    ctx = context.current()
    settings = EngineSettings(check_interval=parse_duration(check_every, "--check-every"),
                              warm_for=timedelta(seconds=parse_duration(warm_for, "--warm-for")),
                              lease_seconds=parse_duration(lease, "--lease"))
    if settings.check_interval >= settings.lease_seconds:
        raise BadInput("--check-every must be shorter than --lease: a waiter takes over a "
                       "lock it saw unchanged for one lease, and an operator's stop is "
                       "honoured at the next check")
    return build_rollout(setup, ctx.clients_for(setup.resources), ctx.ledger,
                         engine_settings=settings,
                         notice_override=notice_override,
                         on_progress=live.update if live else None)


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
    for item in data.get("config_left_alone") or []:
        console.print(f"  not carried back: tenant {item['tenant']}: {item['key']} "
                      f"({item['store']}), {item['reason']}; review it with `rollout config "
                      f"diff --cohort {data['cohort']} --from {item['source']} --to "
                      f"{item['target']} --tenant {item['tenant']}`")
    if data.get("warm_until") and data["status"] == "promoted":
        console.print(f"  {data['old_colour']} ({data['old_version']}) stays warm for rollback "
                      f"until {data['warm_until']}")


def _finish(engine: CohortRollout, state: RolloutState, as_json: bool) -> None:
    emit(_state_view(state, engine.router.read_weights()), as_json, _print_state)


@app.command()
def start(
    cohort: CohortOpt,
    release: Annotated[str, typer.Option("--release", help="Version to roll out.")],
    strategy: Annotated[str | None, typer.Option(
        "--strategy", help="canary:P:BAKE, linear:P:BAKE, all-at-once or file:steps.yaml "
        "(default: the cohort's strategy in tenants.yaml).")] = None,
    tenants: TenantsOpt = None,
    wait: Annotated[bool, typer.Option("--wait", help="Run to completion, showing progress.")]
    = False,
    override_notice: Annotated[str | None, typer.Option(
        "--override-notice", help="Start although a tenant's notice period has not passed; "
        "the reason is recorded.")] = None,
    override_freeze: FreezeOverrideOpt = None,
    check_every: CheckEveryOpt = "15s",
    warm_for: WarmForOpt = "24h",
    lease: LeaseOpt = "60s",
    as_json: JsonFlag = False,
) -> None:
    """Start rolling RELEASE out to a cohort: copy config, check security, first step."""
    checked_version(release, "--release")
    if strategy is not None:
        parse_strategy(strategy)
    ctx = context.current()
    setup = _setup(cohort, tenants)
    spec = strategy or setup.settings.strategy
    plan = parse_strategy(spec, base_dir=ctx.project_dir)
    with LiveProgress(enabled=wait and not as_json) as live:
        engine = _engine(setup, check_every=check_every, warm_for=warm_for, lease=lease,
                         notice_override=override_notice, live=live)
        with engine.lease():
            length = timedelta(seconds=sum(step.bake_seconds for step in plan.steps))
            state = engine.start(release, spec, plan,
                                 pins=setup.pins_now(engine.clock(), length),
                                 notice_override=override_notice,
                                 freeze_override=override_freeze)
            if wait:
                state = engine.drive()
    _finish(engine, state, as_json)


@app.command()
def step(cohort: CohortOpt, tenants: TenantsOpt = None,
         override_freeze: FreezeOverrideOpt = None, as_json: JsonFlag = False) -> None:
    """Check the gates once and advance if the current step has baked (for cron or CI)."""
    engine = _engine(_setup(cohort, tenants))
    with engine.lease():
        engine.override_freeze(override_freeze)
        engine.tick()
    state = engine.state()
    assert state is not None
    _finish(engine, state, as_json)


@app.command()
def resume(cohort: CohortOpt, tenants: TenantsOpt = None, check_every: CheckEveryOpt = "15s",
           lease: LeaseOpt = "60s", override_freeze: FreezeOverrideOpt = None,
           as_json: JsonFlag = False) -> None:
    """Converge to what the ledger says after a crash, then carry on to the end."""
    with LiveProgress(enabled=not as_json) as live:
        engine = _engine(_setup(cohort, tenants), check_every=check_every, lease=lease,
                         live=live)
        with engine.lease():
            engine.override_freeze(override_freeze)
            state = engine.resume()
    _finish(engine, state, as_json)


@app.command()
def promote(
    cohort: Annotated[str | None, typer.Option("--cohort", help="Approve this cohort's "
                                               "current step and carry on.")] = None,
    source: Annotated[str | None, typer.Option("--from", help="Stage promotion: the cohort "
                                               "that must be promoted and baked.")] = None,
    target: Annotated[str | None, typer.Option("--to", help="Stage promotion: the next "
                                               "cohort.")] = None,
    release: Annotated[str | None, typer.Option("--release")] = None,
    tenants: TenantsOpt = None,
    check_every: CheckEveryOpt = "15s",
    override_freeze: FreezeOverrideOpt = None,
    as_json: JsonFlag = False,
) -> None:
    """Approve a waiting step (--cohort), or check a stage promotion (--from/--to).

    A stage promotion passes when the source cohort is promoted with green gates and has
    baked for the target cohort's ``min_gap`` (30 minutes when it has none).
    """
    if source or target:
        _stage_promotion(source, target, release, tenants, as_json)
        return
    if cohort is None:
        raise BadInput("pass --cohort C, or --from A --to B --release V")
    with LiveProgress(enabled=not as_json) as live:
        engine = _engine(_setup(cohort, tenants), check_every=check_every, live=live)
        with engine.lease():
            engine.approve(override_freeze)
            state = engine.drive()
    _finish(engine, state, as_json)


def _stage_promotion(source: str | None, target: str | None, release: str | None,
                     tenants: Path | None, as_json: bool) -> None:
    from rollout.rollouts.stage_gate import PromotionSettings, check_stage_promotion

    if not (source and target and release):
        raise BadInput("a stage promotion needs --from, --to and --release")
    ctx = context.current()
    setup = _setup(source, tenants)
    next_cohort = setup.tenants.cohort(target)
    bake = PromotionSettings(min_bake_seconds=next_cohort.min_gap.total_seconds()) \
        if next_cohort.min_gap else PromotionSettings()
    verdict = check_stage_promotion(load_state(ctx.ledger, source), source=source,
                                    target=next_cohort.name, release=release, settings=bake)
    emit(verdict, as_json, lambda v: console.print(v.message))


@app.command()
def rollback(
    cohort: CohortOpt,
    reason: Annotated[str, typer.Option("--reason", help="Recorded in the ledger.")]
    = "manual rollback",
    to_version: Annotated[str | None, typer.Option(
        "--to-version", help="Redeploy this version from the artefact store into the idle "
        "colour first (when the old colour was scaled down).")] = None,
    local: Annotated[bool, typer.Option(
        "--local", help="With --to-version: deploy through the local engine (moto).")] = False,
    to_colour: Annotated[str | None, typer.Option(
        "--to-colour", help="Only when the ledger cannot be read: the colour to send all "
        "traffic to (the ledger alone knows the last known-good one).")] = None,
    tenants: TenantsOpt = None,
    as_json: JsonFlag = False,
) -> None:
    """All traffic back to the old colour, in one write; config edits carried back.

    It needs no lock: a process still driving the rollout is stopped (it exits 1).
    """
    if to_version is not None:
        from rollout.cli.restore_flow import rollback_to_version

        rollback_to_version(cohort, to_version, tenants, local, as_json)
        return
    if to_colour is not None and to_colour not in COLOURS:
        raise BadInput(f"--to-colour {to_colour!r}: the colours are blue and green")
    engine = _engine(_setup(cohort, tenants))
    state = engine.rollback(reason, without_ledger_to="blue" if to_colour == "blue" else
                            "green" if to_colour == "green" else None)
    _finish(engine, state, as_json)


@app.command()
def abort(cohort: CohortOpt,
          reason: Annotated[str, typer.Option("--reason")] = "aborted by operator",
          tenants: TenantsOpt = None, as_json: JsonFlag = False) -> None:
    """Stop a rollout in progress: traffic back to the old colour.

    It needs no lock: a process still driving the rollout is stopped (it exits 1).
    """
    engine = _engine(_setup(cohort, tenants))
    state = engine.abort(reason)
    _finish(engine, state, as_json)


@app.command()
def pin(
    cohort: CohortOpt,
    tenant: Annotated[str, typer.Option("--tenant", help="Tenant id.")],
    colour: Annotated[str, typer.Option("--colour", help="blue or green.")],
    tenants: TenantsOpt = None,
    as_json: JsonFlag = False,
) -> None:
    """Keep one tenant on a colour whatever the weights say (an opt-out)."""
    if colour not in COLOURS:
        raise BadInput(f"unknown colour {colour!r} (colours: blue, green)")
    setup = _setup(cohort, tenants)
    setup.tenants.member(cohort, tenant)
    ref = setup.tenant_ref(tenant)
    engine = _engine(setup)
    with engine.lease():
        engine.pin(ref, "blue" if colour == "blue" else "green", "pinned by operator")
    pins = engine.router.pins()
    emit({"cohort": cohort, "tenant": tenant, "colour": pins.get(tenant), "pins": pins},
         as_json, lambda d: console.print(f"{d['tenant']} is pinned to {d['colour']} in "
                                          f"cohort {d['cohort']}"))


@app.command()
def status(cohort: Annotated[str | None, typer.Option("--cohort")] = None,
           as_json: JsonFlag = False) -> None:
    """The fleet at a glance: cohorts, colours, versions, weights, state, pins."""
    from rollout.rollouts.fleet_status import fleet_status

    ctx = context.current()
    names = [cohort] if cohort else ctx.discovery.cohorts()
    rows = fleet_status(ctx.clients, ctx.discovery, ctx.ledger, names)
    emit(rows, as_json, _print_status)


def _print_status(rows: list[Any]) -> None:
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
        if row.warm_until and row.status == "promoted":
            console.print(f"{row.cohort}: the old colour stays warm for rollback until "
                          f"{row.warm_until}")
