"""Which cohort ``rollout fleet start`` starts: turn, stage gate, slot; one at a time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from rollout.model.tenants import TenantsFile, load_tenants
from rollout.rollouts.fleet_start import FleetMove, fleet_moves
from rollout.rollouts.state import RolloutState, Status
from rollout.rollouts.strategy import Step
from tests.tenant_files import cohort_entry, tenant_entry, write_tenants

RELEASE = "1.5.0"
NOW = datetime(2026, 12, 7, 10, 0, tzinfo=UTC)
"""A Monday, 10:00 UTC."""
COHORTS = ("canary", "wave1", "wave2")


def fleet(tmp_path: Path, *, windows: tuple[str, ...] = ("daily 00:00-24:00",),
          notice_days: int = 0, **wave1: object) -> TenantsFile:
    cohorts = [cohort_entry("canary", "linear:50:1m"),
               cohort_entry("wave1", "linear:50:1m", **wave1),
               cohort_entry("wave2", "linear:50:1m")]
    tenants = [tenant_entry(f"{name}-t", name) for name in COHORTS]
    return load_tenants(write_tenants(tmp_path / "tenants.yaml", cohorts, tenants,
                                      windows=windows, notice_days=notice_days))


def state(cohort: str, status: Status, *, release: str = RELEASE,
          promoted_ago: timedelta | None = None, reason: str | None = None) -> RolloutState:
    promoted = NOW - promoted_ago if promoted_ago is not None else None
    return RolloutState(
        cohort=cohort, release=release, old_version="1.4.2", old_colour="blue",
        new_colour="green", strategy="linear:50:1m", steps=[Step(weight=50), Step(weight=100)],
        weights={"blue": 0, "green": 100}, status=status, reason=reason,
        started_at=NOW - timedelta(hours=5), updated_at=NOW, promoted_at=promoted,
        versions={"blue": "1.4.2", "green": release}, last_known_good="1.4.2")


def moves(tenants: TenantsFile, states: dict[str, RolloutState],
          notices: dict[str, datetime] | None = None) -> list[tuple[str, FleetMove, str]]:
    return [(m.cohort, m.move, m.reason)
            for m in fleet_moves(tenants, RELEASE, states, notices or {}, NOW)]


def test_a_fresh_fleet_starts_its_first_cohort_only(tmp_path: Path) -> None:
    found = moves(fleet(tmp_path), {})
    assert [(c, m) for c, m, _ in found] == [
        ("canary", FleetMove.START), ("wave1", FleetMove.WAIT), ("wave2", FleetMove.WAIT)]
    assert found[1][2] == found[2][2] == "waits for canary"


def test_an_older_release_s_rollout_does_not_count(tmp_path: Path) -> None:
    old = state("canary", Status.PROMOTED, release="1.4.2", promoted_ago=timedelta(days=9))
    assert moves(fleet(tmp_path), {"canary": old})[0][1] == FleetMove.START


def test_the_next_cohort_waits_for_its_min_gap_after_the_promotion(tmp_path: Path) -> None:
    tenants = fleet(tmp_path, min_gap="2h")
    baking = {"canary": state("canary", Status.PROMOTED, promoted_ago=timedelta(hours=1))}
    found = moves(tenants, baking)
    assert found[0][:2] == ("canary", FleetMove.DONE)
    assert found[1][:2] == ("wave1", FleetMove.WAIT)
    assert "must bake 2 h before wave1 (1 h to go)" in found[1][2]
    baked = {"canary": state("canary", Status.PROMOTED, promoted_ago=timedelta(hours=2))}
    assert [m for _, m, _ in moves(tenants, baked)] == [
        FleetMove.DONE, FleetMove.START, FleetMove.WAIT]


def test_a_running_or_paused_cohort_holds_every_later_one(tmp_path: Path) -> None:
    for status in (Status.SHIFTING, Status.PAUSED):
        found = moves(fleet(tmp_path), {"canary": state("canary", status)})
        assert found[0][:2] == ("canary", FleetMove.RUNNING)
        assert f"is {status.value}" in found[0][2]
        assert found[1] == ("wave1", FleetMove.WAIT, f"waits for canary ({status.value})")


def test_a_rolled_back_cohort_stops_the_fleet_for_a_human(tmp_path: Path) -> None:
    back = state("canary", Status.ROLLED_BACK, reason="gate api-5xx failed")
    found = moves(fleet(tmp_path), {"canary": back})
    assert found[0][:2] == ("canary", FleetMove.STOPPED)
    assert found[0][2] == ("rolled back 1.5.0: gate api-5xx failed; later cohorts wait for a "
                           "human")
    assert [m for _, m, _ in found[1:]] == [FleetMove.WAIT, FleetMove.WAIT]


def test_a_cohort_whose_slot_has_not_come_waits_for_it(tmp_path: Path) -> None:
    tenants = fleet(tmp_path, windows=("daily 22:00-23:00",))
    ((cohort, move, reason), *_) = moves(tenants, {})
    assert (cohort, move) == ("canary", FleetMove.WAIT)
    assert reason == "its slot is 2026-12-07 22:00-22:30 UTC"


def test_notices_sent_count_and_missing_ones_push_the_slot_past_the_notice(
        tmp_path: Path) -> None:
    tenants = fleet(tmp_path, notice_days=7)
    assert moves(tenants, {})[0][:2] == ("canary", FleetMove.WAIT)
    sent = {"canary-t": NOW - timedelta(days=8)}
    assert moves(tenants, {}, sent)[0][:2] == ("canary", FleetMove.START)


def test_the_plan_of_a_later_cohort_starts_from_now_not_from_the_first_cohort_s_slot(
        tmp_path: Path) -> None:
    """wave1's slot is planned with the cohorts still to go: canary's past rollout does
    not push it behind a slot canary would have now."""
    tenants = fleet(tmp_path, min_gap="1h")
    done = {"canary": state("canary", Status.PROMOTED, promoted_ago=timedelta(hours=3))}
    found = fleet_moves(tenants, RELEASE, done, {}, NOW)
    assert found[1].move == FleetMove.START
    assert found[1].slot is not None and found[1].slot.start == NOW


def test_a_fleet_all_promoted_has_nothing_to_start(tmp_path: Path) -> None:
    states = {c: state(c, Status.PROMOTED, promoted_ago=timedelta(days=1)) for c in COHORTS}
    assert [m for _, m, _ in moves(fleet(tmp_path), states)] == [FleetMove.DONE] * 3
