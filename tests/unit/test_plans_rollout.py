"""The plans of the rollout commands: a dry run writes nothing and shows what the run does.

For each command, the plan is displayed first (nothing may change: no ledger item, not
even the lease, no router write), then built again and executed; the lines the run
reports, step by step, must be the lines the dry run showed.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from rollout.errors import Blocked, RolloutFailed
from rollout.gates.base import Verdict
from rollout.model.stack import TenantRef
from rollout.plans import PlanStep, display
from rollout.rollouts.command_plans import (
    CommandPlan,
    abort_plan,
    pin_plan,
    promote_plan,
    rollback_plan,
    start_plan,
    step_plan,
)
from rollout.rollouts.executor import CohortRollout
from rollout.rollouts.state import Status
from rollout.rollouts.strategy import StepPlan
from tests.rollout_doubles import (
    BAKE,
    OLD_ONLY,
    THREE_STEPS,
    Bench,
    ScriptedGate,
    ScriptedPreflight,
)

Build = Callable[[CohortRollout], CommandPlan]


def dry_then_real(bench: Bench, build: Build, *, locked: bool = True) -> list[str]:
    """Display the plan (asserting nothing changed), then execute it; the lines of both."""
    before = (bench.ledger.keys(), list(bench.router.writes), bench.router.pins())
    shown: list[str] = []
    lines = display(build(bench.rollout()).plan, lambda step: shown.append(step.describe()))
    assert shown == lines
    assert (bench.ledger.keys(), bench.router.writes, bench.router.pins()) == before, \
        "the dry run changed something"
    ran: list[str] = []

    def report(step: PlanStep) -> None:
        ran.append(step.describe())

    rollout = bench.rollout()
    if locked:
        with rollout.lease():
            build(rollout).execute(report)
    else:
        build(rollout).execute(report)
    assert ran == lines, "the real run did other steps than the dry run showed"
    return lines


def test_start_plans_the_record_each_preflight_the_pins_and_the_first_weights() -> None:
    bench = Bench(preflight=[ScriptedPreflight("notice"), ScriptedPreflight("config copy")],
                  pins=[(TenantRef(id="gale"), "opted out until 2099-01-01")])
    lines = dry_then_real(bench, lambda r: start_plan(r, "1.5.0", "linear:25:1m",
                                                      THREE_STEPS, then_drive=True))
    assert lines == [
        "record the rollout of 1.5.0 to canary in the ledger: blue (1.4.2) → green (1.5.0), "
        "strategy linear:25:1m, 3 step(s)",
        "preflight notice: check notice for 1.5.0",
        "preflight config copy: check config copy for 1.5.0",
        "keep 1 tenant(s) on blue (1.4.2) whatever the weights: gale: opted out until "
        "2099-01-01",
        "open a test route: requests carrying this rollout's secret test token reach green "
        "ahead of every pin, while every tenant stays on blue; closed at promotion, rollback "
        "or abort",
        "step 1/3 of canary: route green 25, blue 75 (unless a gate fails first)",
        "bake each step while the gates pass, move on to 50%, 100% of traffic on green, then "
        "promote; a failing gate sends all traffic back to blue in one write",
    ]
    assert bench.state().status == Status.PROMOTED


def test_a_start_the_freeze_forbids_is_refused_by_the_dry_run_too() -> None:
    bench = Bench()
    bench.freeze.reason = "year-end freeze"
    with pytest.raises(Blocked, match="year-end freeze"):
        start_plan(bench.rollout(), "1.5.0", "all", StepPlan.model_validate(
            {"steps": [{"weight": 100}]}))
    assert bench.ledger.keys() == []


def test_step_plans_one_check_of_the_gates() -> None:
    bench = Bench(gates=[ScriptedGate("alarm")])
    bench.start(strategy="linear")
    bench.clock.advance(BAKE)
    lines = dry_then_real(bench, step_plan)
    assert lines == ["check the gates of canary once and act: advance to step 2/3 (50% to "
                     "green) once step 1 has baked; a failing gate sends all traffic back to "
                     "blue in one write"]
    assert bench.router.weights == {"blue": 50, "green": 50}


def test_step_with_a_freeze_override_plans_the_override_first() -> None:
    bench = Bench(gates=[ScriptedGate("alarm")])
    bench.start(strategy="linear")
    bench.freeze.reason = "spring freeze"
    lines = dry_then_real(bench, lambda r: step_plan(r, "security fix"))
    assert lines[0] == "record that ci@runner overrides the freeze (spring freeze): security fix"
    assert bench.state().freeze_override == "security fix"


def test_promote_plans_the_approval_and_the_rest_of_the_rollout() -> None:
    bench = Bench(gates=[ScriptedGate("manual", Verdict.INCONCLUSIVE, waits_for_human=True)])
    bench.start(strategy="linear")
    bench.clock.advance(BAKE)
    with pytest.raises(Blocked):
        rollout = bench.rollout()
        with rollout.lease():
            rollout.drive()
    bench.gates[0].then(Verdict.PASS)
    lines = dry_then_real(bench, promote_plan)
    assert lines == [
        "approve step 1/3 of canary as ci@runner",
        "bake each step while the gates pass, move on to 50%, 100% of traffic on green, then "
        "promote; a failing gate sends all traffic back to blue in one write"]
    assert bench.state().status == Status.PROMOTED


def test_rollback_plans_the_stop_request_one_write_its_record_and_the_carry_back() -> None:
    bench = Bench()
    bench.start(strategy="linear")
    lines = dry_then_real(bench, lambda r: rollback_plan(r, "bad build"), locked=False)
    assert lines == [
        "record a rollback request by ci@runner (bad build): from then on no process moves "
        "the rollout of 1.5.0 to canary forward",
        "all traffic of canary to blue (1.4.2) in one write (blue 100, green 0), saved as "
        "rolled back in the ledger first",
        "record the rollback in canary's history",
        "carry the tenant configuration edited on green back to blue, under the cohort's lease",
    ]
    assert bench.router.writes[-1] == OLD_ONLY and bench.carry_back.calls == ["canary"]


def test_abort_plans_like_a_rollback() -> None:
    bench = Bench()
    bench.start(strategy="linear")
    lines = dry_then_real(bench, lambda r: abort_plan(r, "not today"), locked=False)
    assert [line.split(" ")[0] for line in lines] == ["record", "all", "record", "carry"]
    assert "saved as aborted" in lines[1]
    assert bench.state().status == Status.ABORTED


def test_a_rollback_of_a_rollout_already_rolled_back_only_finishes_the_carry_back() -> None:
    bench = Bench()
    bench.start(strategy="linear")
    bench.rollout("ops@laptop").rollback("first")
    lines = dry_then_real(bench, lambda r: rollback_plan(r, "second"), locked=False)
    assert len(lines) == 1 and lines[0].startswith("finish the stopped rollout of 1.5.0")


def test_a_rollback_without_a_ledger_plans_one_blind_write() -> None:
    bench = Bench()
    bench.start(strategy="linear")
    bench.ledger.lost = True
    rollout = bench.rollout()
    with pytest.raises(RolloutFailed, match="last known-good colour is unknown"):
        rollback_plan(rollout, "lost")
    plan = rollback_plan(rollout, "lost", without_ledger_to="blue")
    assert display(plan.plan) == ["all traffic of canary to blue (1.4.2) in one write, without "
                                  "the ledger (it cannot be read, so nothing can be recorded)"]
    assert bench.router.weights == {"blue": 75, "green": 25}
    with pytest.raises(RolloutFailed, match="nothing was recorded"):
        plan.execute()
    assert bench.router.writes[-1] == OLD_ONLY


def test_pin_plans_the_rule_change() -> None:
    bench = Bench()
    lines = dry_then_real(bench, lambda r: pin_plan(
        r, TenantRef(id="aurora", host="aurora.shop.example"), "green", "pinned by operator"))
    assert lines == ["pin tenant aurora (aurora.shop.example) of canary to green: its requests "
                     "go there whatever the weights (pinned by operator)"]
    assert bench.router.pinned == {"aurora": "green"}
