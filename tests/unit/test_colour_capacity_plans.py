"""Capacity through a rollout, with no AWS: sized before traffic, reaped after the warm
period, scaled back up and awaited before a late rollback's one write.

On the bench of ``tests/rollout_doubles.py`` with a :class:`MemoryCapacity` whose calls
and the router's writes share one journal, so the order a user relies on (scale up, wait
until healthy, then one write) is what is asserted.
"""

from __future__ import annotations

import pytest

from rollout.errors import Blocked
from rollout.rollouts.capacity_plans import due_reap, reap_plan
from rollout.rollouts.executor import RolloutSettings
from rollout.rollouts.state import Status
from tests.rollout_doubles import THREE_STEPS, Bench, MemoryCapacity, MemoryRouter

RELEASE = "1.5.0"
STRATEGY = "linear:25:1m"
WARM = RolloutSettings().warm_for.total_seconds()


def bench(*, green: int = 3, warm_up: int = 0) -> tuple[Bench, list[str]]:
    journal: list[str] = []
    capacity = MemoryCapacity(journal, {"blue": 3, "green": green}, warm_up=warm_up)
    return Bench(router=MemoryRouter(journal=journal), capacity=capacity), journal


def promoted(b: Bench) -> None:
    rollout = b.rollout()
    with rollout.lease():
        rollout.start(RELEASE, STRATEGY, THREE_STEPS)
        rollout.drive()
    assert b.state().status == Status.PROMOTED


def reap(b: Bench) -> list[str]:
    rollout = b.rollout()
    with rollout.lease():
        command = reap_plan(rollout)
        command.execute()
    return command.plan.lines()


def test_start_sizes_the_idle_colour_like_the_live_one_before_its_first_write() -> None:
    b, journal = bench(green=1)
    b.start()
    assert journal[:3] == ["resize green 3", "health green", "health green"]
    assert journal[3] == "write blue 75 green 25"
    assert [e for e in b.event_kinds() if e == "capacity"] == ["capacity"]


def test_a_step_onto_a_colour_that_cannot_serve_is_refused_and_writes_nothing() -> None:
    b, _ = bench()
    b.start()
    assert b.capacity is not None
    b.capacity.sizes["green"] = 0
    b.clock.advance(61)
    with pytest.raises(Blocked, match=r"step 2 of cohort canary would send traffic to a "
                                      r"colour that cannot serve it: green: no targets"):
        b.tick()
    assert b.router.writes == [{"blue": 75, "green": 25}]


def test_inside_the_warm_period_a_rollback_is_one_write_and_nothing_else() -> None:
    b, journal = bench()
    promoted(b)
    journal.clear()
    b.rollout("ops@laptop").rollback("regression")
    assert journal == ["write blue 100 green 0"]


def test_after_the_warm_period_reap_scales_the_old_colour_down_and_rollback_restores_it(
        ) -> None:
    b, journal = bench(warm_up=2)
    promoted(b)
    b.clock.advance(WARM + 1)
    assert reap(b) == ["scale blue (1.4.2) down from 3 tasks to 0 (recorded in the ledger "
                       "first); its artefact and deployment stay, so a rollback scales it "
                       "back up before moving traffic"]
    assert b.state().scaled_down_from == 3
    journal.clear()
    b.rollout("ops@laptop").rollback("late regression")
    assert journal == ["resize blue 3", "health blue", "health blue", "health blue",
                       "write blue 100 green 0"]
    assert b.state().status == Status.ROLLED_BACK and b.state().scaled_down_at is None


def test_a_late_rollback_onto_a_colour_that_never_becomes_healthy_moves_nothing() -> None:
    b, journal = bench(warm_up=10_000)
    promoted(b)
    b.clock.advance(WARM + 1)
    reap(b)
    with pytest.raises(Blocked, match=r"blue: 0 of 3 needed targets healthy .* after waiting "
                                      r"10 min; no traffic was moved onto it"):
        b.rollout("ops@laptop").rollback("late regression")
    assert "write blue 100 green 0" not in journal
    assert b.router.weights == {"blue": 0, "green": 100}


def test_reap_waits_for_the_warm_period_and_never_takes_a_colour_with_weight_or_pins() -> None:
    b, _ = bench()
    promoted(b)
    with pytest.raises(Blocked, match="stays warm until"):
        reap(b)
    b.clock.advance(WARM + 1)
    b.router.pinned["aurora"] = "blue"
    with pytest.raises(Blocked, match=r"serves pinned tenants \(aurora\)"):
        reap(b)
    assert due_reap(b.rollout()) is None
    b.router.pinned.clear()
    b.router.weights = {"blue": 1, "green": 99}
    with pytest.raises(Blocked, match="still carries weight 1"):
        reap(b)
    b.router.weights = {"blue": 0, "green": 100}
    assert due_reap(b.rollout()) is not None
    reap(b)
    assert b.capacity is not None and b.capacity.sizes["blue"] == 0
    assert reap_plan(b.rollout()).plan.steps == ()


def test_a_reap_that_crashed_between_its_record_and_its_resize_is_finished_by_the_next() -> None:
    b, _ = bench()
    promoted(b)
    b.clock.advance(WARM + 1)
    assert b.capacity is not None
    resize = b.capacity.resize

    def killed(colour: str, size: int) -> None:
        raise OSError("the process was killed here")

    b.capacity.resize = killed  # type: ignore[method-assign]
    with pytest.raises(OSError):
        reap(b)
    assert b.state().scaled_down_at is not None and b.capacity.sizes["blue"] == 3
    b.capacity.resize = resize  # type: ignore[method-assign]
    reap(b)
    assert b.capacity.sizes["blue"] == 0 and b.state().scaled_down_from == 3


def test_a_resize_that_fails_during_start_aborts_the_rollout_so_the_next_start_begins_afresh(
        ) -> None:
    b, _ = bench(green=1)
    assert b.capacity is not None
    resize = b.capacity.resize

    def denied(colour: str, size: int) -> None:
        raise PermissionError("AccessDenied: ecs:UpdateService")

    b.capacity.resize = denied  # type: ignore[method-assign]
    with pytest.raises(PermissionError):
        b.start()
    assert b.state().status == Status.ABORTED and "ecs:UpdateService" in str(b.state().reason)
    assert b.router.writes == []
    b.capacity.resize = resize  # type: ignore[method-assign]
    b.start()
    assert b.router.writes == [{"blue": 75, "green": 25}]
