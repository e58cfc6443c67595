"""Halts and alarm blockers on the executor's in-memory bench: what stops, what never does.

Each test places halts in the bench's own :class:`MemoryLedger` through
:mod:`rollout.rollouts.halts` (what ``rollout halt`` does) and drives the executor as
the commands do; it asserts the weights written, the state and the exit an error maps to.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from rollout.errors import BadInput, Blocked
from rollout.gates.base import Verdict
from rollout.model.tenants import TenantsFile, load_tenants
from rollout.rollouts.executor import HeldBack
from rollout.rollouts.halts import (
    AlarmReading,
    FleetHalts,
    Halt,
    HaltTarget,
    halt_history,
    halt_later_waves,
    judge_blockers,
    lift_halts,
    place_halt,
    standing_halts,
)
from rollout.rollouts.ledger import Event
from rollout.rollouts.progression import Advance
from rollout.rollouts.state import RolloutState, Status
from rollout.vocabulary.ledger_keys import halt_keys_covering
from tests.rollout_doubles import (
    BAKE,
    OLD_ONLY,
    THREE_STEPS,
    Bench,
    ScriptedAlarm,
    ScriptedGate,
    cohort_resources,
)
from tests.tenant_files import cohort_entry, tenant_entry, tenants_yaml

OPS = "ops@laptop"
FIRST_STEP = {"blue": 75, "green": 25}


def halted_bench(cohort: str = "canary") -> Bench:
    bench = Bench(gates=[ScriptedGate("alarm")], resources=cohort_resources(cohort))
    bench.blockers.append(FleetHalts(bench.ledger, cohort))
    return bench


def halt_all(bench: Bench, reason: str = "incident 42") -> Halt:
    return place_halt(bench.ledger, Halt(scope="all", actor=OPS, at=bench.clock.now(),
                                         reason=reason)).halt


def test_halt_all_stops_the_next_step_and_unhalt_lets_it_go_on() -> None:
    bench = halted_bench()
    bench.start()
    halt_all(bench)
    bench.clock.advance(BAKE)
    with pytest.raises(Blocked) as refused:
        bench.tick()
    assert refused.value.exit_code == 3
    assert str(refused.value) == (
        "cohort canary does not move to step 2/3: halted by ops@laptop at 2026-03-02 "
        "09:00:00 UTC: incident 42; `rollout unhalt --all` lifts it")
    assert bench.router.writes == [FIRST_STEP], "the halt moved nothing"
    assert bench.state().status == Status.SHIFTING
    lifted = lift_halts(bench.ledger, HaltTarget("all"), actor=OPS, at=bench.clock.now(),
                        reason="fixed")
    assert [halt.reason for halt in lifted] == ["incident 42"]
    assert isinstance(bench.tick(), Advance)
    assert bench.router.weights == {"blue": 50, "green": 50}
    assert [e.kind for e in halt_history(bench.ledger)] == ["halted", "unhalted"]


def test_a_halt_refuses_a_start_and_writes_nothing_even_with_a_freeze_override() -> None:
    bench = halted_bench()
    halt_all(bench)
    keys = bench.ledger.keys()
    bench.freeze.reason = "year-end freeze"
    with pytest.raises(Blocked) as refused:
        bench.start(freeze_override="hotfix")
    assert refused.value.exit_code == 3
    assert "halted by ops@laptop" in str(refused.value)
    assert "--override-freeze" not in str(refused.value), "a freeze override breaks no halt"
    assert bench.ledger.keys() == keys and bench.router.writes == []


def test_a_halt_during_a_drive_exits_3_and_resume_after_unhalt_finishes() -> None:
    bench = halted_bench()
    rollout = bench.rollout()

    def operator_halts_while_it_bakes() -> None:
        if not standing_halts(bench.ledger):
            halt_all(bench)

    bench.clock.on_sleep = operator_halts_while_it_bakes
    with rollout.lease():
        rollout.start("1.5.0", "linear:25:1m", THREE_STEPS)
        with pytest.raises(Blocked, match="does not move to step 2/3: halted by"):
            rollout.drive()
    assert bench.router.writes == [FIRST_STEP]
    bench.clock.on_sleep = None
    lift_halts(bench.ledger, HaltTarget("all"), actor=OPS, at=bench.clock.now(), reason=None)
    resumed = bench.rollout()
    with resumed.lease():
        assert resumed.resume().status == Status.PROMOTED


def test_a_halt_never_stops_a_rollback_or_an_abort() -> None:
    bench = halted_bench()
    bench.start()
    halt_all(bench)
    rolled_back = bench.rollout(OPS).rollback("bad build")
    assert rolled_back.status == Status.ROLLED_BACK and bench.router.weights == OLD_ONLY
    other = halted_bench("wave1")
    other.start()
    halt_all(other)
    assert other.rollout(OPS).abort("not today").status == Status.ABORTED
    assert other.router.weights == OLD_ONLY


def test_a_cohort_halt_covers_that_cohort_only_and_a_release_halt_that_release_only() -> None:
    bench = halted_bench("wave1")
    place_halt(bench.ledger, Halt(scope="cohort", cohort="canary", actor=OPS,
                                  at=bench.clock.now(), reason="canary's database"))
    place_halt(bench.ledger, Halt(scope="release", cohort="wave1", release="1.6.0",
                                  actor=OPS, at=bench.clock.now(), reason="bad 1.6.0"))
    bench.start()  # 1.5.0 on wave1: neither halt covers it
    assert bench.router.writes == [FIRST_STEP]
    place_halt(bench.ledger, Halt(scope="cohort", cohort="wave1", actor=OPS,
                                  at=bench.clock.now(), reason="wave1's turn to wait"))
    bench.clock.advance(BAKE)
    with pytest.raises(Blocked, match="`rollout unhalt --cohort wave1` lifts it"):
        bench.tick()


def test_a_second_halt_keeps_the_first_one_s_who_and_why() -> None:
    bench = halted_bench()
    first = halt_all(bench, "incident 42")
    again = place_halt(bench.ledger, Halt(scope="all", actor="someone@else",
                                          at=bench.clock.now(), reason="me too"))
    assert not again.new and again.halt == first
    assert standing_halts(bench.ledger) == [first]


def test_the_halt_items_sit_at_the_keys_a_state_machine_reads() -> None:
    bench = halted_bench()
    halt_all(bench)
    place_halt(bench.ledger, Halt(scope="cohort", cohort="canary", actor=OPS,
                                  at=bench.clock.now(), reason="r"))
    place_halt(bench.ledger, Halt(scope="release", cohort="canary", release="1.5.0",
                                  actor=OPS, at=bench.clock.now(), reason="r"))
    stored = bench.ledger.keys()
    items = {key for key in stored if "HISTORY#" not in key[1]}
    assert items == set(halt_keys_covering("canary", "1.5.0")) == {
        ("HALT#FLEET", "ALL"), ("HALT#FLEET", "COHORT#canary"),
        ("HALT#RELEASE", "RELEASE#1.5.0#COHORT#canary")}


def test_an_item_at_a_halt_key_that_is_no_halt_still_halts() -> None:
    bench = halted_bench()
    bench.ledger.put(*halt_keys_covering("canary", "1.5.0")[0],
                     Event(kind="not-a-halt", message="written by something else"))
    with pytest.raises(Blocked, match="halted by an item HALT#FLEET/ALL that cannot be read"):
        bench.start()
    assert bench.router.writes == []


def test_a_rollback_halts_the_later_waves_for_its_release_only() -> None:
    wave1 = halted_bench("wave1")

    def halt_wave2(state: RolloutState) -> None:
        halt_later_waves(wave1.ledger, state, ["wave2"], actor="ci@runner",
                         at=wave1.clock.now())

    wave1.on_rolled_back.append(halt_wave2)
    wave1.start()
    wave1.gates[0].then(Verdict.FAIL)
    wave1.tick()
    assert wave1.state().status == Status.ROLLED_BACK
    wave2 = halted_bench("wave2")
    wave2.ledger = wave1.ledger
    wave2.blockers = [FleetHalts(wave1.ledger, "wave2")]
    with pytest.raises(Blocked) as refused:
        wave2.start()
    assert str(refused.value) == (
        "cohort wave2: halted by ci@runner at 2026-03-02 09:00:00 UTC: cohort wave1 rolled "
        "back 1.5.0: gate alarm failed: scripted fail; `rollout unhalt --release 1.5.0` "
        "lifts it")
    assert FleetHalts(wave1.ledger, "wave2").blocked_at(wave2.clock.now(), "1.6.0") is None
    assert FleetHalts(wave1.ledger, "wave1").blocked_at(wave2.clock.now(), "1.5.0") is None
    lift_halts(wave1.ledger, HaltTarget("release", release="1.5.0"), actor=OPS,
               at=wave2.clock.now(), reason="fixed in config")
    wave2.start()
    assert wave2.router.writes == [FIRST_STEP]


def test_the_later_waves_are_halted_once_even_when_the_outcome_is_recorded_again() -> None:
    told: list[RolloutState] = []
    bench = halted_bench("wave1")
    bench.on_rolled_back.append(told.append)
    bench.start()
    bench.rollout(OPS).rollback("bad build")
    survivor = bench.rollout("ci@second-runner")
    with survivor.lease():
        survivor.resume()
    assert [state.reason for state in told] == ["bad build"]


def test_an_alarm_blocker_refuses_a_start_and_step_and_holds_a_drive_until_it_is_ok() -> None:
    alarm = ScriptedAlarm("alarm blocker api-5xx is in ALARM: 12 errors")
    bench = Bench(gates=[ScriptedGate("alarm")], blockers=[alarm])
    with pytest.raises(HeldBack, match="api-5xx is in ALARM: 12 errors") as refused:
        bench.start()
    assert refused.value.exit_code == 3 and bench.router.writes == []
    alarm.reason = None
    bench.start()
    alarm.reason = "alarm blocker api-5xx is in ALARM: 12 errors"
    bench.clock.advance(BAKE)
    with pytest.raises(HeldBack, match="held before step 2/3"):
        bench.tick()
    assert bench.state().reason == "held before step 2/3: alarm blocker api-5xx is in ALARM: " \
                                   "12 errors"
    checks = alarm.checks

    def clears_after_three_checks() -> None:
        if alarm.checks >= checks + 3:
            alarm.reason = None

    bench.clock.on_sleep = clears_after_three_checks
    rollout = bench.rollout()
    with rollout.lease():
        assert rollout.drive().status == Status.PROMOTED
    assert bench.router.writes == [FIRST_STEP, {"blue": 50, "green": 50},
                                   {"blue": 0, "green": 100}]
    assert alarm.checks > checks + 3, "it held through the alarm's checks, then went on"


def test_alarm_blockers_pass_only_when_every_alarm_is_ok() -> None:
    names = ["api-5xx", "db-cpu"]
    ok = {"api-5xx": AlarmReading("OK"), "db-cpu": AlarmReading("OK")}
    assert judge_blockers(names, ok) is None
    assert judge_blockers(names, {"api-5xx": AlarmReading("OK")}) == (
        "alarm blocker db-cpu does not exist (check `blockers:` in tenants.yaml and the "
        "cohort's region); a blocker nobody can read lets nothing through")
    waiting = {**ok, "db-cpu": AlarmReading("INSUFFICIENT_DATA", "no datapoints")}
    assert judge_blockers(names, waiting) == (
        "alarm blocker db-cpu is INSUFFICIENT_DATA: no datapoints; traffic moves once it is OK")
    firing = {"db-cpu": AlarmReading("ALARM", "cpu 97%")}
    assert judge_blockers(names, firing) == "alarm blocker db-cpu is in ALARM: cpu 97%", \
        "an alarm in ALARM speaks before a missing one"


@pytest.mark.parametrize(("blockers", "line", "problem"), [
    ('  - alarm: api-5xx\n  - alarm: api-5xx\n', 3, "blockers.1.alarm: alarm 'api-5xx' is "
     "named twice"),
    ('  - api-5xx\n', 2, "write a blocker as `- alarm: api-5xx`"),
    ('  - {alarm: api-5xx, region: us-east-1}\n', 2, "blockers.0.region"),
    ('  - alarm: ""\n', 2, "blockers.0.alarm"),
])
def test_bad_blockers_are_bad_input_naming_file_line_and_field(
        tmp_path: Path, blockers: str, line: int, problem: str) -> None:
    path = tmp_path / "tenants.yaml"
    path.write_text("blockers:\n" + blockers
                    + tenants_yaml([cohort_entry("canary")], [tenant_entry("aurora", "canary")]))
    with pytest.raises(BadInput) as refused:
        load_tenants(path)
    assert refused.value.exit_code == 2
    message = str(refused.value)
    assert message.startswith(f"{path}:{line}: ") and problem in message, message
    assert "\n" not in message


def test_blockers_are_read_in_file_order() -> None:
    text = "blockers:\n  - alarm: api-5xx\n  - {alarm: db-cpu}\n" + tenants_yaml(
        [cohort_entry("canary")], [])
    model = TenantsFile.model_validate(yaml.safe_load(text))
    assert [blocker.alarm for blocker in model.blockers] == ["api-5xx", "db-cpu"]
