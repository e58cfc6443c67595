"""The rollout executor on every decision path, with no AWS at all.

Each test builds :class:`CohortRollout` on the in-memory ledger, an in-memory router,
scripted gates and a fake clock (``tests/rollout_doubles.py``), and asserts what a
user would see: the weights written, in order; the status, reason and history in the
ledger; the exit an error maps to. The whole file runs in well under a second.
"""

from __future__ import annotations

import pytest

from rollout.errors import BadInput, Blocked, RolloutFailed
from rollout.gates.base import Verdict
from rollout.gates.manual import ManualGate, ManualSettings
from rollout.model.stack import TenantRef
from rollout.rollouts.command_plans import rollback_plan
from rollout.rollouts.executor import RolloutSettings
from rollout.rollouts.ledger import Event, StoppedByOperator, StopRequest
from rollout.rollouts.progression import Advance, Hold, Pause, Promote
from rollout.rollouts.state import Status
from rollout.vocabulary.ledger_keys import cohort_pk, event_key_sk, event_sk
from tests.rollout_doubles import (
    BAKE,
    OLD_ONLY,
    THREE_STEPS,
    Bench,
    ScriptedGate,
    ScriptedPreflight,
)

RELEASE = "1.5.0"
STRATEGY = "linear:25:1m"


def test_each_step_advances_after_its_bake_and_the_last_one_promotes() -> None:
    bench = Bench(gates=[ScriptedGate("alarm")])
    bench.start()
    assert bench.router.writes == [{"blue": 75, "green": 25}]
    for expected in ({"blue": 50, "green": 50}, {"blue": 0, "green": 100}):
        bench.clock.advance(BAKE)
        assert isinstance(bench.tick(), Advance)
        assert bench.router.weights == expected
    bench.clock.advance(BAKE)
    assert isinstance(bench.tick(), Promote)
    state = bench.state()
    assert state.status == Status.PROMOTED and state.last_known_good == RELEASE
    assert state.warm_until == bench.clock.now() + RolloutSettings().warm_for
    assert len(bench.router.writes) == 3, "promotion writes no weights: 100% was the last step"
    assert bench.event_kinds() == ["started", "test_route", "step", "step", "step",
                                   "test_route", "promoted"]
    assert bench.router.test_route_log == ["opened to green", "closed"]


def test_drive_sleeps_out_each_bake_and_promotes() -> None:
    bench = Bench(gates=[ScriptedGate("alarm")])
    rollout = bench.rollout()
    began = bench.clock.now()
    with rollout.lease():
        rollout.start(RELEASE, STRATEGY, THREE_STEPS)
        final = rollout.drive()
    assert final.status == Status.PROMOTED
    assert [w["green"] for w in bench.router.writes] == [25, 50, 100]
    assert (bench.clock.now() - began).total_seconds() == pytest.approx(3 * BAKE)
    assert [type(r.action) for r in bench.reports][-1] is Promote


def test_a_step_holds_while_it_bakes_and_writes_nothing() -> None:
    bench = Bench(gates=[ScriptedGate("alarm")])
    bench.start()
    bench.clock.advance(BAKE / 2)
    action = bench.tick()
    assert isinstance(action, Hold) and action.bake_left == pytest.approx(BAKE / 2)
    assert bench.router.writes == [{"blue": 75, "green": 25}]
    assert bench.state().step_index == 0
    assert bench.reports[-1].bake_left == pytest.approx(BAKE / 2)


def test_an_inconclusive_gate_holds_then_pauses_after_the_limit() -> None:
    gate = ScriptedGate("latency", Verdict.INCONCLUSIVE)
    bench = Bench(gates=[gate], max_inconclusive=3)
    bench.start()
    bench.clock.advance(BAKE)
    assert isinstance(bench.tick(), Hold)
    assert isinstance(bench.tick(), Hold)
    assert bench.state().inconclusive_checks == 2
    assert isinstance(bench.tick(), Pause)
    state = bench.state()
    assert state.status == Status.PAUSED
    assert "3 inconclusive checks in a row" in (state.reason or "")
    assert bench.router.writes == [{"blue": 75, "green": 25}], "a pause moves no traffic"
    with pytest.raises(Blocked, match="is paused"):
        bench.tick()
    gate.then(Verdict.PASS)
    rollout = bench.rollout("release-manager@laptop")
    with rollout.lease():
        rollout.approve()
        assert isinstance(rollout.tick(), Advance)
    assert bench.router.weights == {"blue": 50, "green": 50}


def test_a_failed_gate_rolls_back_in_one_write_and_carries_config_back() -> None:
    gate = ScriptedGate("alarm")
    bench = Bench(gates=[gate])
    bench.start()
    bench.clock.advance(BAKE)
    bench.tick()
    gate.then(Verdict.FAIL)
    bench.clock.advance(BAKE / 2)
    bench.tick()
    assert bench.router.writes == [{"blue": 75, "green": 25}, {"blue": 50, "green": 50},
                                   OLD_ONLY], "one write back, never walking back the steps"
    state = bench.state()
    assert state.status == Status.ROLLED_BACK
    assert state.failure is not None and state.failure.gate == "alarm"
    assert state.reason == "gate alarm failed: scripted fail"
    assert state.config_carried_back and bench.carry_back.calls == ["canary"]
    assert bench.event_kinds()[-2:] == ["rolled_back", "config"]


def test_a_failed_gate_while_driving_exits_1_naming_the_gate() -> None:
    bench = Bench(gates=[ScriptedGate("alarm", Verdict.PASS, Verdict.FAIL)])
    rollout = bench.rollout()
    with rollout.lease(), pytest.raises(RolloutFailed, match="gate alarm failed") as failed:
        rollout.start(RELEASE, STRATEGY, THREE_STEPS)
        rollout.drive()
    assert failed.value.exit_code == 1
    assert bench.router.weights == OLD_ONLY


def test_manual_approval_waits_then_approve_continues() -> None:
    manual = ManualGate(ManualSettings())
    bench = Bench()
    bench.gates = []
    rollout = bench.rollout()
    rollout.gates = [manual]
    with rollout.lease():
        rollout.start(RELEASE, STRATEGY, THREE_STEPS)
        bench.clock.advance(BAKE)
        assert isinstance(rollout.tick(), Pause)
    state = bench.state()
    assert state.status == Status.PAUSED and "waiting for approval" in (state.reason or "")
    assert state.inconclusive_checks == 0, "waiting for a person is not starved of data"
    approver = bench.rollout("release-manager@laptop")
    approver.gates = [manual]
    with approver.lease():
        approved = approver.approve()
        assert approved.approved_step == 0 and approved.status == Status.SHIFTING
        assert isinstance(approver.tick(), Advance)
    assert bench.router.weights == {"blue": 50, "green": 50}
    approvals = [e for e in bench.ledger.events("canary") if e.kind == "approved"]
    assert approvals[0].actor == "release-manager@laptop"


def test_resume_after_a_crash_restores_the_weights_the_ledger_holds() -> None:
    bench = Bench(gates=[ScriptedGate("alarm")])
    bench.start()
    bench.clock.advance(BAKE)
    bench.tick()
    bench.router.weights = {"blue": 75, "green": 25}  # the crash: ledger saved, write lost
    lost = [e for e in bench.ledger.events("canary") if e.kind == "step"][-1]
    bench.ledger.delete(cohort_pk("canary"), event_sk(lost.seq))  # and its event, which a
    bench.ledger.delete(cohort_pk("canary"), event_key_sk(str(lost.key)))  # crash loses whole
    rollout = bench.rollout("ci@second-runner")
    with rollout.lease():
        final = rollout.resume()
    assert final.status == Status.PROMOTED
    assert bench.router.writes[2:] == [{"blue": 50, "green": 50}, {"blue": 0, "green": 100}]
    kinds = bench.event_kinds()
    assert "reconciled" in kinds
    steps = [e.data["step"] for e in bench.ledger.events("canary") if e.kind == "step"]
    assert steps == [0, 1, 2], "the lost step event is written again, once"


def test_resume_of_a_start_that_crashed_in_preflight_repeats_it_then_shifts() -> None:
    copy = ScriptedPreflight("config copy")
    bench = Bench(preflight=[copy])
    rollout = bench.rollout()
    with rollout.lease():
        draft = rollout.draft_start(RELEASE, STRATEGY, THREE_STEPS)
        rollout.record_start(draft)  # then the process died
    assert bench.state().status == Status.PREPARING and bench.router.writes == []
    survivor = bench.rollout("ci@second-runner")
    with survivor.lease():
        final = survivor.resume()
    assert copy.runs == 1 and final.status == Status.PROMOTED
    assert bench.event_kinds().count("started") == 1


def test_a_failing_preflight_aborts_before_any_traffic_moves() -> None:
    bench = Bench(preflight=[ScriptedPreflight("security", failure=Blocked("port 22 open"))])
    with pytest.raises(Blocked, match="port 22 open"):
        bench.start()
    state = bench.state()
    assert state.status == Status.ABORTED and state.reason == "port 22 open"
    assert bench.router.writes == []
    assert bench.event_kinds() == ["started", "aborted"]


def test_pins_planned_at_start_keep_tenants_on_the_old_colour() -> None:
    bench = Bench(pins=[(TenantRef(id="gale", host="gale.shop.example"), "opted out")])
    bench.start()
    assert bench.router.pinned == {"gale": "blue"}
    assert bench.state().pinned == {"gale": "blue"}
    pinned = [e for e in bench.ledger.events("canary") if e.kind == "pinned"]
    assert pinned[0].data["tenants"] == {"gale": "opted out"}


def test_an_abort_from_another_terminal_wins_and_the_holder_carries_config_back() -> None:
    bench = Bench(gates=[ScriptedGate("alarm")])
    holder = bench.rollout("ci@runner")
    with holder.lease() as lease:
        holder.start(RELEASE, STRATEGY, THREE_STEPS)
        bench.clock.on_sleep = lambda: bench.ledger.renew(lease)  # the holder is alive
        operator = bench.rollout("ops@laptop")
        stopped = operator.abort("not today")
        assert stopped.status == Status.ABORTED and not stopped.config_carried_back
        assert bench.router.weights == OLD_ONLY
        with pytest.raises(StoppedByOperator, match="stopped by ops@laptop"):
            holder.drive()
    assert bench.router.writes == [{"blue": 75, "green": 25}, OLD_ONLY]
    state = bench.state()
    assert state.reason == "not today" and state.config_carried_back
    assert bench.carry_back.calls == ["canary"], "carried back once, by the lease holder"
    with pytest.raises(Blocked, match="no rollout in progress"):
        bench.tick()


def test_a_rollback_from_another_terminal_keeps_the_operator_s_reason() -> None:
    bench = Bench(gates=[ScriptedGate("alarm")])
    bench.start()
    operator = bench.rollout("ops@laptop")
    final = operator.rollback("bad build")
    assert final.status == Status.ROLLED_BACK and final.reason == "bad build"
    assert final.config_carried_back and bench.router.weights == OLD_ONLY
    assert bench.event_kinds() == ["started", "test_route", "step", "stop", "test_route",
                                   "rolled_back", "config"]
    assert bench.router.writes == [{"blue": 75, "green": 25}, OLD_ONLY]
    assert bench.router.test_route() is None


def test_the_operator_s_reason_stands_when_the_holder_makes_the_stop_s_write() -> None:
    """The race of the fault suite: the holder ticks between the request and its write."""
    bench = Bench(gates=[ScriptedGate("alarm")])
    holder = bench.rollout("ci@runner")
    with holder.lease():
        holder.start(RELEASE, STRATEGY, THREE_STEPS)
        rollback = rollback_plan(bench.rollout("ops@laptop"), "bad build")
        request, *rest = rollback.plan.steps
        request.apply()
        with pytest.raises(StoppedByOperator):
            holder.tick()
    for step in rest:
        step.apply()
    state = bench.state()
    assert state.status == Status.ROLLED_BACK
    assert state.reason == "bad build"
    assert bench.router.writes == [{"blue": 75, "green": 25}, OLD_ONLY]


def test_a_holder_that_finds_its_rollout_stopped_is_told_it_was_stopped() -> None:
    """The race of the fault suite: the operator's one write lands between the driver's
    look at the state and its tick's; it says "stopped by" (exit 1), not "no rollout"."""
    bench = Bench(gates=[ScriptedGate("alarm")])
    holder = bench.rollout("ci@runner")
    with holder.lease():
        holder.start(RELEASE, STRATEGY, THREE_STEPS)
        rollback = rollback_plan(bench.rollout("ops@laptop"), "bad build")
        request, route_back, *_ = rollback.plan.steps
        stale = bench.state()
        request.apply()
        route_back.apply()
        assert bench.state().status == Status.ROLLED_BACK
        looks = iter([stale])
        real = holder.state
        holder.state = lambda: next(looks, None) or real()  # type: ignore[method-assign]
        with pytest.raises(StoppedByOperator, match="stopped by ops@laptop"):
            holder.drive()


def test_an_outcome_recorded_by_an_operator_and_a_resumed_job_at_once_is_recorded_once(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """The race of the fault suite: a job takes the lease right after the operator's
    rollback wrote, and its resume records the outcome between the operator's look at the
    history and the operator's own append."""
    bench = Bench(gates=[ScriptedGate("alarm")])
    bench.start()
    rollback = rollback_plan(bench.rollout("ops@laptop"), "bad build")
    request, route_back, record, *rest = rollback.plan.steps
    request.apply()
    route_back.apply()
    append = bench.ledger.append_event

    def job_resumes_first(cohort: str, event: Event) -> Event:
        if event.actor == "ops@laptop" and event.kind == "rolled_back":
            job = bench.rollout("ci@runner")
            with job.lease():
                job.resume()
        return append(cohort, event)

    monkeypatch.setattr(bench.ledger, "append_event", job_resumes_first)
    record.apply()
    for step in rest:
        step.apply()
    outcomes = [e for e in bench.ledger.events("canary") if e.kind == "rolled_back"]
    assert [(e.actor, e.message) for e in outcomes] == [
        ("ci@runner", "all traffic back on blue (1.4.2): bad build")]
    assert bench.router.writes == [{"blue": 75, "green": 25}, OLD_ONLY]
    assert bench.carry_back.calls == ["canary"]


def test_a_holder_finishes_a_stop_whose_command_died_before_its_write() -> None:
    bench = Bench(gates=[ScriptedGate("alarm")])
    bench.start()
    state = bench.state()
    bench.ledger.request_stop("canary", StopRequest(
        kind="rollback", reason="bad build", actor="ops@laptop", at=bench.clock.now(),
        rollout_started_at=state.started_at))
    bench.clock.advance(BAKE)
    with pytest.raises(StoppedByOperator):
        bench.tick()
    final = bench.state()
    assert final.status == Status.ROLLED_BACK
    assert final.reason == "bad build"
    assert bench.router.writes == [{"blue": 75, "green": 25}, OLD_ONLY]


def test_a_holder_whose_rollout_was_stopped_cannot_save_it_forward() -> None:
    bench = Bench(gates=[ScriptedGate("alarm")])
    holder = bench.rollout()
    with holder.lease():
        holder.start(RELEASE, STRATEGY, THREE_STEPS)
        stale = holder.state()
        assert stale is not None
        bench.ledger.request_stop("canary", StopRequest(
            kind="abort", reason="stop", actor="ops@laptop", at=bench.clock.now(),
            rollout_started_at=stale.started_at))
        with pytest.raises(StoppedByOperator):
            holder._save(stale.model_copy(update={"step_index": 1}))
    assert bench.state().step_index == 0


def test_a_company_freeze_refuses_a_start_and_writes_nothing() -> None:
    bench = Bench()
    bench.freeze.reason = "year-end freeze until 2026-03-09"
    with pytest.raises(Blocked, match="year-end freeze") as refused:
        bench.start()
    assert refused.value.exit_code == 3
    assert bench.ledger.keys() == [] and bench.router.writes == []


def test_a_recorded_override_starts_through_the_freeze_it_names() -> None:
    bench = Bench()
    bench.freeze.reason = "year-end freeze"
    bench.start(freeze_override="hotfix for a data leak")
    state = bench.state()
    assert state.freeze_override == "hotfix for a data leak"
    assert state.freeze_overridden == "year-end freeze"
    bench.clock.advance(BAKE)
    assert isinstance(bench.tick(), Advance), "the overridden freeze holds nothing back"
    bench.freeze.reason = "another freeze"
    bench.clock.advance(BAKE)
    with pytest.raises(Blocked, match="holds: another freeze"):
        bench.tick()
    assert bench.state().status == Status.PAUSED
    approver = bench.rollout("ops@laptop")
    with approver.lease():
        with pytest.raises(Blocked, match="only --override-freeze"):
            approver.approve()
        approver.approve("customer asked for it")
        assert isinstance(approver.tick(), Advance)
    overrides = [e for e in bench.ledger.events("canary") if e.kind == "override"]
    assert overrides[0].data["reason"] == "customer asked for it"
    assert bench.router.weights == {"blue": 0, "green": 100}


def test_a_start_of_the_version_already_live_is_bad_input() -> None:
    bench = Bench()
    with pytest.raises(BadInput, match=r"already runs 1\.4\.2 on blue"):
        bench.rollout().draft_start("1.4.2", STRATEGY, THREE_STEPS)


def test_a_check_interval_as_long_as_the_lease_is_refused() -> None:
    with pytest.raises(BadInput, match="--check-every must be shorter than --lease"):
        RolloutSettings(check_interval=60, lease_seconds=60)


def test_no_aws_client_is_ever_created() -> None:
    bench = Bench(gates=[ScriptedGate("alarm")])
    rollout = bench.rollout()
    with rollout.lease():
        rollout.start(RELEASE, STRATEGY, THREE_STEPS)
        rollout.drive()
    assert bench.gates[0].contexts[0].clients is bench.clients  # handed over, never used
