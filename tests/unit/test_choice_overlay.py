"""Choices laid over ``tenants.yaml`` move a tenant in the plan exactly as an edit would."""

from __future__ import annotations

from datetime import UTC, date, datetime

from rollout.choices.model import TenantChoice
from rollout.choices.overlay import with_choices
from rollout.model.tenants import TenantsFile
from rollout.schedule.plan import ExclusionKind
from rollout.schedule.planner import plan_release

NOW = datetime(2027, 3, 1, 9, 0, tzinfo=UTC)


def tenants() -> TenantsFile:
    return TenantsFile.model_validate({
        "defaults": {"notice_days": 0, "windows": ["Sat 02:00-06:00"]},
        "cohorts": [{"name": "canary", "order": 1, "strategy": "canary:10:30m"}],
        "tenants": [
            {"id": "aurora", "cohort": "canary", "timezone": "Europe/Berlin",
             "windows": ["Sat 02:00-06:00", "Sun 02:00-06:00"]},
            {"id": "birch", "cohort": "canary", "timezone": "Europe/Berlin"},
            {"id": "cedar", "cohort": "canary", "timezone": "Europe/Berlin"},
        ]})


def choice(action: str, at: datetime = NOW, **fields: object) -> TenantChoice:
    return TenantChoice.model_validate({"tenant": "aurora", "release": "1.5.0",
                                        "action": action, "at": at, "source": "test",
                                        "nonce": f"n-{action}-{at.isoformat()}", **fields})


def test_a_window_choice_moves_the_tenant_to_its_chosen_window() -> None:
    before = plan_release(tenants(), "1.5.0", NOW).timeframes()["aurora"]
    assert before.local is not None and before.local.start.strftime("%a") == "Sat"
    chosen = with_choices(tenants(), [choice("window", window="Sun 02:00-06:00")])
    plan = plan_release(chosen, "1.5.0", NOW)
    (cohort,) = plan.cohorts
    assert cohort.included_tenants() == ["birch", "cedar"]
    (moved,) = cohort.excluded
    assert (moved.tenant, moved.kind) == ("aurora", ExclusionKind.NO_WINDOW)
    assert moved.follow_up_local is not None
    assert moved.follow_up_local.describe() == "Sun 2027-03-07 02:00-03:00 Europe/Berlin"


def test_an_opt_out_choice_keeps_the_tenant_back_with_its_reason() -> None:
    chosen = with_choices(tenants(), [choice("opt_out", until=date(2027, 3, 20))])
    assert chosen.tenant("aurora").opt_out is not None
    (cohort,) = plan_release(chosen, "1.5.0", NOW).cohorts
    (kept,) = cohort.excluded
    assert kept.kind == ExclusionKind.OPTED_OUT
    assert kept.reason == ("opted out until 2027-03-20: chose on the preferences page on "
                           "2027-03-01")
    assert kept.follow_up is not None and kept.follow_up.start.date() >= date(2027, 3, 20)


def test_confirming_changes_nothing() -> None:
    assert with_choices(tenants(), [choice("confirm")]) == tenants()


def test_the_latest_choice_of_a_tenant_wins_and_unknown_tenants_are_dropped() -> None:
    later = NOW.replace(hour=10)
    chosen = with_choices(tenants(), [
        choice("window", at=later, window="Sun 02:00-06:00"),
        choice("opt_out", until=date(2027, 3, 20)),
        TenantChoice(tenant="gone", release="1.5.0", action="opt_out", until=date(2027, 3, 9),
                     at=NOW, source="test", nonce="x")])
    aurora = chosen.tenant("aurora")
    assert [str(w) for w in aurora.windows] == ["Sun 02:00-06:00"] and aurora.opt_out is None
    assert [t.id for t in chosen.tenants] == ["aurora", "birch", "cedar"]
    assert chosen.tenant("birch") == tenants().tenant("birch")
