"""``rollout halt``, ``rollout unhalt`` and ``rollout halts``: the fleet-wide stop.

They only parse, call and render: what a halt is and who obeys it is
:mod:`rollout.rollouts.halts`. ``halt`` and ``unhalt`` build their plan first and
``--dry-run`` shows it, writing nothing, as every command that changes something does.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer

from rollout.cli import app, context
from rollout.cli.output import JsonFlag, console, emit, print_json
from rollout.cli.rollout_cmds import STEP_MARK, DryRunOpt
from rollout.errors import BadInput

if TYPE_CHECKING:
    from rollout.plans import Plan, PlanStep
    from rollout.rollouts.halts import Halt

EveryOpt = Annotated[bool, typer.Option("--all", help="Every cohort of the app.")]
HaltCohortOpt = Annotated[str | None, typer.Option("--cohort", help="One cohort.")]


def _reason(reason: str | None, required: bool) -> str | None:
    if reason is not None and not reason.strip():
        raise BadInput("--reason must say why (it is recorded in the ledger)")
    if required and reason is None:
        raise BadInput("--reason is required: say why (it is recorded in the ledger)")
    return reason.strip() if reason else None


def _known_cohort(cohort: str | None) -> None:
    """A halt of a cohort that does not exist would hold nothing: bad input."""
    if cohort is None:
        return
    known = context.current().discovery.cohorts()
    if cohort not in known:
        raise BadInput(f"unknown cohort {cohort!r} (cohorts: {', '.join(known) or 'none'})")


def _print_step(step: PlanStep) -> None:
    console.print(STEP_MARK + step.describe())


def _run(plan: Plan, dry_run: bool, as_json: bool) -> bool:
    """Show ``plan`` (dry run: False, nothing written) or execute it, printing each step."""
    from rollout.plans import execute

    if not dry_run:
        execute(plan, None if as_json else _print_step)
        return True
    if as_json:
        print_json({"plan": plan.as_json(dry_run=True)})
    else:
        console.print(f"dry run: nothing was changed; `rollout {plan.command}` would:")
        for step in plan.steps:
            _print_step(step)
    return False


def _standing() -> list[Halt]:
    from rollout.rollouts.halts import standing_halts

    return standing_halts(context.current().ledger)


def _print_halts(halts: list[Halt], title: str = "halts in force") -> None:
    if not halts:
        console.print("no halts: nothing holds the fleet")
        return
    console.print(f"{title}:")
    for halt in halts:
        console.print(f"  {halt.what}: {halt.line()}")


@app.command()
def halt(every: EveryOpt = False, cohort: HaltCohortOpt = None,
         reason: Annotated[str, typer.Option(
             "--reason", help="Why; recorded in the ledger with who and when.")] = "",
         dry_run: DryRunOpt = False, as_json: JsonFlag = False) -> None:
    """Stop every start and the next weight step of every rollout (--all) or of one cohort,
    until `rollout unhalt`. Rollbacks and aborts always go on."""
    from rollout.rollouts.halts import Halt, HaltTarget, halt_plan
    from rollout.rollouts.ledger import default_actor
    from rollout.vocabulary.clock import utc_now

    why = _reason(reason or None, required=True)
    target = HaltTarget.named(every=every, cohort=cohort, release=None)
    _known_cohort(target.cohort)
    placed = Halt(scope=target.scope, cohort=target.cohort, actor=default_actor(),
                  at=utc_now(), reason=str(why))
    plan = halt_plan(context.current().ledger, placed)
    if not _run(plan, dry_run, as_json):
        return
    step = plan.steps[0]
    outcome = getattr(step, "placed", None)
    standing = outcome.halt if outcome else placed
    new = bool(outcome and outcome.new)
    data = {"halt": standing, "new": new, "halts": _standing(),
            "plan": plan.as_json(dry_run=False)}

    def show(_: dict[str, Any]) -> None:
        console.print(f"{standing.what}: {standing.line()}" if new else
                      f"{standing.what} was halted already, and stays so: {standing.line()}")

    emit(data, as_json, show)


@app.command()
def unhalt(every: EveryOpt = False, cohort: HaltCohortOpt = None,
           release: Annotated[str | None, typer.Option(
               "--release", help="The halts of this release (an earlier wave rolled it back) "
               "on every cohort, or on --cohort only.")] = None,
           reason: Annotated[str | None, typer.Option(
               "--reason", help="Why; recorded in the ledger.")] = None,
           dry_run: DryRunOpt = False, as_json: JsonFlag = False) -> None:
    """Lift a halt: the fleet's (--all), a cohort's (--cohort), or a release's (--release)."""
    from rollout.rollouts.halts import HaltTarget, unhalt_plan
    from rollout.rollouts.ledger import default_actor
    from rollout.vocabulary.clock import utc_now
    from rollout.vocabulary.versions import checked_version

    why = _reason(reason, required=False)
    if release is not None:
        checked_version(release, "--release")
    target = HaltTarget.named(every=every, cohort=cohort, release=release)
    plan = unhalt_plan(context.current().ledger, target, actor=default_actor(), at=utc_now(),
                       reason=why)
    if not _run(plan, dry_run, as_json):
        return
    lifted = [step.halt for step in plan.steps if hasattr(step, "halt")]
    data = {"lifted": lifted, "halts": _standing(), "plan": plan.as_json(dry_run=False)}

    def show(found: dict[str, Any]) -> None:
        if not lifted:
            console.print("nothing to lift: no such halt stands")
        _print_halts(found["halts"], "still in force")

    emit(data, as_json, show)


@app.command()
def halts(history: Annotated[bool, typer.Option(
              "--history", help="Also who halted and lifted what, oldest first.")] = False,
          as_json: JsonFlag = False) -> None:
    """The halts in force: what each covers, who placed it, when, why, how to lift it."""
    from rollout.rollouts.halts import halt_history

    data: dict[str, Any] = {"halts": _standing()}
    if history:
        data["history"] = halt_history(context.current().ledger)

    def show(found: dict[str, Any]) -> None:
        _print_halts(found["halts"])
        for event in found.get("history", []):
            console.print(f"{event.at:%Y-%m-%d %H:%M:%S} UTC {event.message}")

    emit(data, as_json, show)
