"""Where each lifecycle hook runs in a rollout, and what its failure does, in microseconds.

The hooks are scripted doubles: each notes what the world looked like when it ran (the
weights, the test route) and passes or fails as the test says.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import pytest

from rollout.errors import Blocked, RolloutFailed
from rollout.gates.base import Verdict
from rollout.hooks.base import HookFacts, HookOutcome, HookStage
from rollout.rollouts.command_plans import start_plan
from rollout.rollouts.state import Status
from rollout.vocabulary.test_route import TestRoute as Route
from tests.rollout_doubles import OLD_ONLY, THREE_STEPS, Bench, ScriptedGate


@dataclass
class ScriptedHook:
    """Passes unless told to fail; keeps the facts and what the router routed then."""

    stage: HookStage
    bench: Bench
    passes: bool = True
    seen: list[tuple[dict[str, int], Route | None, HookFacts]] = field(default_factory=list)

    @property
    def name(self) -> str:
        return f"scripted-{self.stage}"

    def describe(self) -> str:
        return f"run {self.name}"

    def run(self, facts: HookFacts) -> HookOutcome:
        self.seen.append((dict(self.bench.router.weights), self.bench.router.test_route(), facts))
        return HookOutcome(self.name, self.stage, self.passes,
                           "exited 0" if self.passes else "exited 1", 0.25)


STAGES: tuple[HookStage, ...] = ("before_test_traffic", "after_test_traffic",
                                 "before_allow_traffic", "after_allow_traffic", "after_promote")


def hooked_bench(failing: HookStage | None = None) -> tuple[Bench, dict[HookStage, ScriptedHook]]:
    bench = Bench(gates=[ScriptedGate("alarm")])
    hooks = {stage: ScriptedHook(stage, bench, passes=stage != failing) for stage in STAGES}
    bench.lifecycle = list(hooks.values())
    return bench, hooks


def drive(bench: Bench) -> None:
    rollout = bench.rollout()
    with rollout.lease():
        rollout.start("1.5.0", "linear:25:1m", THREE_STEPS)
        rollout.drive()


def test_each_hook_runs_at_its_stage_around_the_test_route_and_the_first_step() -> None:
    bench, hooks = hooked_bench()
    drive(bench)

    seen = {stage: hook.seen for stage, hook in hooks.items()}
    assert all(len(runs) == 1 for runs in seen.values()), seen
    weights = {stage: runs[0][0]["green"] for stage, runs in seen.items()}
    assert weights == {"before_test_traffic": 0, "after_test_traffic": 0,
                       "before_allow_traffic": 0, "after_allow_traffic": 25,
                       "after_promote": 100}
    routes = {stage: runs[0][1] for stage, runs in seen.items()}
    assert routes["before_test_traffic"] is None and routes["after_promote"] is None
    route = routes["after_test_traffic"]
    assert route is not None and route.colour == "green"
    assert seen["after_test_traffic"][0][2].test_route == route, "the hook gets the token"
    assert bench.state().status == Status.PROMOTED
    events = bench.ledger.events(bench.resources.cohort)
    assert [e.data["stage"] for e in events if e.kind == "hook"] == list(STAGES)
    assert route.token not in json.dumps([e.model_dump(mode="json") for e in events])


@pytest.mark.parametrize("stage", ["before_test_traffic", "after_test_traffic",
                                   "before_allow_traffic"])
def test_a_failing_hook_before_traffic_aborts_with_no_weight_written(stage: HookStage) -> None:
    bench, hooks = hooked_bench(failing=stage)
    with pytest.raises(Blocked, match=f"hook {stage} scripted-{stage} failed in 0.2 s: "
                                      "exited 1; no tenant's traffic moved"):
        drive(bench)
    state = bench.state()
    assert state.status == Status.ABORTED and bench.router.writes == []
    assert bench.router.test_route() is None
    later = STAGES[STAGES.index(stage) + 1:]
    assert all(hooks[later_stage].seen == [] for later_stage in later)
    kinds = bench.event_kinds()
    assert kinds[-1] == "aborted" and kinds.count("hook") == STAGES.index(stage) + 1


def test_a_failing_hook_after_allow_traffic_rolls_back_in_one_write() -> None:
    bench, hooks = hooked_bench(failing="after_allow_traffic")
    with pytest.raises(RolloutFailed, match="rolled back"):
        drive(bench)
    state = bench.state()
    assert state.status == Status.ROLLED_BACK
    assert "hook after_allow_traffic scripted-after_allow_traffic failed" in str(state.reason)
    assert bench.router.writes == [{"blue": 75, "green": 25}, OLD_ONLY]
    assert bench.router.test_route() is None and hooks["after_promote"].seen == []


def test_a_failing_after_promote_hook_fails_the_command_and_the_release_stays_live() -> None:
    bench, _ = hooked_bench(failing="after_promote")
    with pytest.raises(RolloutFailed, match=r"1\.5\.0 is live on green, but hook after_promote"):
        drive(bench)
    assert bench.state().status == Status.PROMOTED
    assert bench.router.weights == {"blue": 0, "green": 100}


def test_a_rollout_a_gate_rolls_back_runs_no_after_promote_hook() -> None:
    """after_allow_traffic runs as soon as step 1 is routed, before the first bake's checks."""
    bench, hooks = hooked_bench()
    bench.gates[0].then(Verdict.FAIL)
    with pytest.raises(RolloutFailed, match="rolled back"):
        drive(bench)
    assert bench.state().status == Status.ROLLED_BACK
    assert len(hooks["after_allow_traffic"].seen) == 1 and hooks["after_promote"].seen == []


def test_the_dry_run_lists_every_hook_where_it_runs() -> None:
    bench, _ = hooked_bench()
    command = start_plan(bench.rollout(), "1.5.0", "linear:25:1m", THREE_STEPS)
    lines = [step.describe() for step in command.plan.steps]
    kinds = [step.kind for step in command.plan.steps]
    assert kinds[-6:] == ["hook", "test-route", "hook", "hook", "set-weights", "hook"]
    assert lines[-1] == ("run scripted-after_allow_traffic; if it fails, all traffic back on "
                         "the old colour in one write")
    assert bench.ledger.keys() == [] and bench.router.writes == []
