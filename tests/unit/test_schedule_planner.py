"""The planner on the seed cases: freezes, tax seasons, opt-outs, windows that do not meet."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from rollout.cli import run
from rollout.model.tenants import TenantsFile, load_tenants
from rollout.schedule.pins import pins_at
from rollout.schedule.plan import CohortPlan, ExclusionKind, ReleasePlan
from rollout.schedule.planner import plan_release

EXAMPLE = Path(__file__).resolve().parent / "fixtures" / "tenants_seed_cases.yaml"
JANUARY = datetime(2026, 1, 12, tzinfo=UTC)


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def build(tenants: list[dict[str, Any]], *, freezes: list[dict[str, str]] | None = None,
          cohorts: list[dict[str, Any]] | None = None, **defaults: Any) -> TenantsFile:
    return TenantsFile.model_validate({
        "defaults": {"windows": ["Sat 02:00-06:00"], "freezes": freezes or [], **defaults},
        "cohorts": cohorts or [{"name": "canary", "order": 1, "strategy": "canary:10:30m"}],
        "tenants": tenants,
    })


def cohort(plan: ReleasePlan, name: str) -> CohortPlan:
    return next(c for c in plan.cohorts if c.cohort == name)


@pytest.fixture(scope="module")
def example_plan() -> ReleasePlan:
    return plan_release(load_tenants(EXAMPLE), "1.5.0", JANUARY)


def test_a_december_to_february_freeze_pushes_a_january_release_to_march() -> None:
    freeze = [{"name": "year-end", "from": "12-01", "to": "02-28"}]
    tenants = [{"id": "acme", "cohort": "canary", "timezone": "UTC"}]
    unfrozen = plan_release(build(tenants), "1.5.0", JANUARY).cohorts[0]
    frozen = plan_release(build(tenants, freezes=freeze), "1.5.0", JANUARY).cohorts[0]
    assert unfrozen.slot is not None and unfrozen.slot.start == utc(2026, 1, 31, 2)
    assert frozen.slot is not None and frozen.slot.start == utc(2026, 3, 7, 2)
    assert frozen.slot.end == utc(2026, 3, 7, 3)
    assert any("company freeze year-end (Dec 01 to Feb 28)" in d for d in frozen.delays)


def test_a_tax_season_tenant_stays_behind_and_follows_after_april_15(
        example_plan: ReleasePlan) -> None:
    wave1 = cohort(example_plan, "wave1")
    assert wave1.slot is not None and wave1.slot.start == utc(2026, 3, 14, 6)
    assert wave1.included_tenants() == ["delta-retail", "ember-health", "fjord-shipping"]
    [garnet] = wave1.excluded
    assert garnet.tenant == "garnet-tax"
    assert garnet.kind == ExclusionKind.BUSY_SEASON
    assert garnet.reason == "busy season tax-season (Mar 01 to Apr 15) in America/New_York"
    assert garnet.follow_up_local is not None
    assert garnet.follow_up_local.start.date() > date(2026, 4, 15)
    assert garnet.follow_up_local.start.isoformat() == "2026-04-18T00:00:00-04:00"
    assert garnet.flag is None


def test_cohorts_wait_for_the_freeze_the_notice_and_each_other(example_plan: ReleasePlan) -> None:
    canary, wave1, wave2 = example_plan.cohorts
    assert canary.slot is not None and wave1.slot is not None and wave2.slot is not None
    assert canary.slot.start == utc(2026, 3, 7, 1)
    assert wave1.slot.start >= canary.slot.end + timedelta(days=2)
    assert wave2.slot.start >= wave1.slot.end + timedelta(weeks=1)
    assert any(d.startswith("waits for canary to finish") for d in wave1.delays)
    assert any("cobalt-bank needs 21 days of notice" in d for d in canary.delays)
    berlin = next(g for g in canary.included if g.local.timezone == "Europe/Berlin")
    assert berlin.tenants == ["birch-labs"]
    assert berlin.local.start.isoformat() == "2026-03-07T02:00:00+01:00"


def test_an_opted_out_tenant_is_pinned_and_flagged_past_the_maximum_deferral(
        example_plan: ReleasePlan) -> None:
    wave2 = cohort(example_plan, "wave2")
    iris = next(e for e in wave2.excluded if e.tenant == "iris-edu")
    assert iris.kind == ExclusionKind.OPTED_OUT
    assert iris.reason.startswith("opted out until 2027-09-01: exams")
    assert iris.follow_up is not None and iris.follow_up.start >= utc(2027, 8, 31, 22)
    assert iris.flag is not None and "more than the maximum deferral of 90d" in iris.flag
    assert example_plan.flags() == [f"wave2/iris-edu: {iris.flag}"]


def test_pins_at_a_moment_name_opt_outs_and_busy_seasons() -> None:
    tenants = load_tenants(EXAMPLE)
    in_march = pins_at(tenants, "wave2", utc(2026, 3, 28, 1))
    assert [(p.tenant, p.kind, p.host) for p in in_march] == [
        ("iris-edu", ExclusionKind.OPTED_OUT, "iris.acme.example")]
    assert pins_at(tenants, "wave2", utc(2027, 9, 4)) == []
    busy = pins_at(tenants, "wave1", utc(2026, 4, 15, 12))
    assert [(p.tenant, p.reason) for p in busy] == [
        ("garnet-tax", "busy season tax-season (Mar 01 to Apr 15) in America/New_York")]
    assert pins_at(tenants, "wave1", utc(2026, 4, 16, 6)) == []


def test_a_tenant_whose_windows_meet_nobody_elses_gets_a_slot_of_its_own(
        example_plan: ReleasePlan) -> None:
    wave2 = cohort(example_plan, "wave2")
    juniper = next(e for e in wave2.excluded if e.tenant == "juniper-games")
    assert juniper.kind == ExclusionKind.NO_WINDOW
    assert "Tue 03:00-07:00 (Asia/Tokyo)" in juniper.reason
    assert juniper.follow_up_local is not None
    assert juniper.follow_up_local.start.strftime("%a %H:%M") == "Tue 03:00"
    assert wave2.included_tenants() == ["harbor-media"]


def test_notices_already_sent_bring_the_slot_forward() -> None:
    tenants = build([{"id": "acme", "cohort": "canary", "timezone": "UTC"}])
    assumed = plan_release(tenants, "1.5.0", JANUARY).cohorts[0]
    early = plan_release(tenants, "1.5.0", JANUARY, {"acme": utc(2026, 1, 1)}).cohorts[0]
    assert assumed.slot is not None and assumed.slot.start == utc(2026, 1, 31, 2)
    assert early.slot is not None and early.slot.start == utc(2026, 1, 17, 2)
    assert early.included[0].notice_by == utc(2026, 1, 3, 2)


def test_no_window_long_enough_is_a_problem_that_blocks_later_cohorts() -> None:
    tenants = build(
        [{"id": "acme", "cohort": "canary", "windows": ["Sat 02:00-03:00"]},
         {"id": "birch", "cohort": "wave1"}],
        cohorts=[{"name": "canary", "order": 1, "strategy": "linear:10:30m"},
                 {"name": "wave1", "order": 2}])
    plan = plan_release(tenants, "1.5.0", JANUARY)
    assert plan.cohorts[0].slot is None
    assert plan.flags() == [
        "canary: no upgrade window of its tenants is 5h long, as its rollout needs; widen "
        "the windows or shorten the strategy",
        "wave1: waits for cohort canary, which has no slot"]


def test_plan_command_prints_the_table(capsys: pytest.CaptureFixture[str]) -> None:
    code = run(["plan", "--release", "1.5.0", "--tenants", str(EXAMPLE), "--from", "2026-01-12"])
    out = capsys.readouterr().out
    assert code == 0
    assert "1. canary: 2026-03-07 01:00-02:00 UTC" in out
    assert "Sat 2026-03-07 02:00-03:00 Europe/Berlin" in out
    assert "garnet-tax" in out and "tax-season" in out
    assert "1 item(s) need a decision" in out


def test_plan_command_json_is_the_plan(capsys: pytest.CaptureFixture[str]) -> None:
    code = run(["plan", "--release", "1.5.0", "--tenants", str(EXAMPLE),
                "--from", "2026-01-12T00:00:00+00:00", "--json"])
    data = json.loads(capsys.readouterr().out)
    assert code == 0
    assert data["release"] == "1.5.0"
    assert [c["slot"]["start"] for c in data["cohorts"]] == [
        "2026-03-07T01:00:00Z", "2026-03-14T06:00:00Z", "2026-03-28T01:00:00Z"]
    excluded = {e["tenant"]: e["kind"] for c in data["cohorts"] for e in c["excluded"]}
    assert excluded == {"garnet-tax": "busy-season", "iris-edu": "opted-out",
                        "juniper-games": "no-window-overlap"}


def test_tenants_alike_are_planned_alike_and_listed_in_file_order() -> None:
    """Planning works once per kind of tenant, yet the plan still reads tenant by tenant."""
    later = {"opt_out": {"until": date(2026, 6, 1), "reason": "wait"}}
    tenants = build([
        {"id": "a0", "cohort": "canary", "timezone": "UTC"},
        {"id": "b0", "cohort": "canary", "timezone": "Europe/Berlin"},
        {"id": "a1", "cohort": "canary", "timezone": "UTC",
         "windows": [{"days": [5], "start": 120, "end": 360}]},
        {"id": "o0", "cohort": "canary", "timezone": "UTC", **later},
        {"id": "n0", "cohort": "canary", "timezone": "UTC", "notice_days": 30},
        {"id": "a2", "cohort": "canary", "timezone": "UTC", "windows": ["Sat 02:00-06:00"]},
        {"id": "o1", "cohort": "canary", "timezone": "UTC", **later},
        {"id": "n1", "cohort": "canary", "timezone": "UTC", "notice_days": 30},
        {"id": "b1", "cohort": "canary", "timezone": "Europe/Berlin"},
    ])
    plan = plan_release(tenants, "1.5.0", JANUARY).cohorts[0]
    assert plan.slot is not None and plan.slot.start == utc(2026, 2, 14, 2)
    assert "notice period: n0 needs 30 days of notice, complete at 2026-02-11 00:00 UTC" \
        in plan.delays
    assert [(g.local.timezone, g.tenants) for g in plan.included] == [
        ("UTC", ["a0", "a1", "a2"]), ("Europe/Berlin", ["b0", "b1"]), ("UTC", ["n0", "n1"])]
    assert [e.tenant for e in plan.excluded] == ["o0", "o1"]
    first, second = plan.excluded
    assert first.model_dump(exclude={"tenant"}) == second.model_dump(exclude={"tenant"})
    assert first.reason == "opted out until 2026-06-01: wait"
    assert first.follow_up is not None and first.follow_up.start == utc(2026, 6, 6, 2)
