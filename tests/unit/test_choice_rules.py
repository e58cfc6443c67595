"""What a tenant may choose on its page, and each refusal: a window not its own, an
opt-out to today or beyond the maximum deferral, any choice once its cohort started."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from rollout.choices.model import TenantChoice
from rollout.choices.portal_api import ChoiceForm, ChoiceRefused
from rollout.choices.rules import ChoiceSubject, check_choice, choice_page, closed_reason, outcome
from rollout.model.release import ReleaseNotes
from rollout.model.tenants import TenantsFile
from rollout.rollouts.state import RolloutState, Status
from rollout.schedule.planner import plan_release

NOW = datetime(2027, 3, 1, 9, 0, tzinfo=UTC)
"""A Monday; Europe/Berlin is an hour ahead (winter time)."""
RELEASE = "1.5.0"
NOTES = ReleaseNotes.model_validate({
    "version": RELEASE, "title": "Faster exports", "changes": ["background exports"],
    "benefits": ["exports finish"], "risks": ["links change"], "timeframe": "under an hour",
    "rollbackPlan": "one step back"})


def tenants() -> TenantsFile:
    return TenantsFile.model_validate({
        "defaults": {"notice_days": 0, "windows": ["Sat 02:00-06:00"], "max_deferral": "30d"},
        "cohorts": [{"name": "canary", "order": 1, "strategy": "canary:10:30m"}],
        "tenants": [
            {"id": "aurora", "cohort": "canary", "timezone": "Europe/Berlin",
             "windows": ["Sat 02:00-06:00", "Sun 02:00-06:00"]},
            {"id": "birch", "cohort": "canary", "timezone": "Europe/Berlin"},
        ]})


def subject(tenant: str = "aurora", closed: str | None = None,
            choices: list[TenantChoice] | None = None) -> ChoiceSubject:
    written = tenants()
    return ChoiceSubject(written=written, tenant=written.tenant(tenant), notes=NOTES,
                         choices=choices or [], now=NOW, closed=closed,
                         plan_of=lambda t: plan_release(t, RELEASE, NOW))


def form(action: Any, **fields: Any) -> ChoiceForm:
    return ChoiceForm(action=action, form_secret="s", source="203.0.113.9", **fields)


def refused(form_: ChoiceForm, on: ChoiceSubject | None = None) -> str:
    with pytest.raises(ChoiceRefused) as caught:
        check_choice(on or subject(), form_, "nonce-1")
    return str(caught.value)


def test_the_page_offers_the_tenant_s_own_windows_with_the_planned_one_marked() -> None:
    page = choice_page(subject(), "secret")
    assert [(w.value, w.current) for w in page.windows] == [
        ("Sat 02:00-06:00", True), ("Sun 02:00-06:00", False)]
    assert page.windows[0].label == ("Sat 02:00-06:00: "
                                      "Sat 2027-03-06 02:00-03:00 Europe/Berlin")
    assert page.windows[0].label.endswith("Sat 2027-03-06 02:00-03:00 Europe/Berlin")
    assert "Sun 2027-03-07 02:00" in page.windows[1].label
    assert page.when.startswith("Sat 2027-03-06 02:00-03:00 Europe/Berlin")
    assert (page.opt_out_earliest, page.opt_out_latest) == (date(2027, 3, 2), date(2027, 3, 31))
    assert page.open and page.form_secret == "secret" and page.recorded is None


def test_a_tenant_without_windows_of_its_own_may_choose_the_defaults() -> None:
    assert [w.value for w in choice_page(subject("birch"), "s").windows] == ["Sat 02:00-06:00"]
    chosen = check_choice(subject("birch"), form("window", window="Sat 02:00-06:00"), "n")
    assert chosen.window == "Sat 02:00-06:00"


def test_one_of_its_windows_is_recorded_as_written() -> None:
    chosen = check_choice(subject(), form("window", window=" sun 02:00-06:00 "), "nonce-1")
    assert (chosen.tenant, chosen.release, chosen.action, chosen.window) == (
        "aurora", RELEASE, "window", "Sun 02:00-06:00")
    assert (chosen.at, chosen.source, chosen.nonce) == (NOW, "203.0.113.9", "nonce-1")
    assert outcome(subject(), chosen).startswith(
        "your upgrade moves to Sun 2027-03-07 02:00-03:00 Europe/Berlin")


def test_a_window_not_among_its_own_is_refused() -> None:
    assert "Mon 02:00-06:00 is not one of your upgrade windows" in refused(
        form("window", window="Mon 02:00-06:00"))
    assert "Sun 02:00-06:00" in refused(form("window", window="Sun 02:00-06:00"),
                                        subject("birch"))


@pytest.mark.parametrize("text", [None, "", "whenever", "Sun 06:00-02:00"])
def test_a_window_that_is_no_window_is_refused(text: str | None) -> None:
    assert "choose one of your upgrade windows" in refused(form("window", window=text))


def test_an_opt_out_within_the_maximum_deferral_is_recorded() -> None:
    chosen = check_choice(subject(), form("opt_out", until=date(2027, 3, 31)), "n")
    assert (chosen.action, chosen.until, chosen.window) == ("opt_out", date(2027, 3, 31), None)
    assert "until 2027-03-31" in outcome(subject(), chosen)


def test_an_opt_out_to_today_or_earlier_is_refused() -> None:
    assert "after today (2027-03-01)" in refused(form("opt_out", until=date(2027, 3, 1)))
    assert "after today" in refused(form("opt_out", until=date(2026, 1, 1)))


def test_an_opt_out_beyond_the_maximum_deferral_is_refused() -> None:
    message = refused(form("opt_out", until=date(2027, 4, 1)))
    assert "at most 30 days, until 2027-03-31 at the latest" in message


def test_an_opt_out_without_a_date_is_refused() -> None:
    assert "give the date" in refused(form("opt_out"))


def test_confirming_changes_nothing_and_says_when() -> None:
    chosen = check_choice(subject(), form("confirm"), "n")
    assert chosen.action == "confirm" and chosen.window is None and chosen.until is None
    assert "stays as planned, Sat 2027-03-06 02:00" in outcome(subject(), chosen)


def state(status: Status, release: str = RELEASE) -> RolloutState:
    return RolloutState(cohort="canary", release=release, old_version="1.4.2",
                        old_colour="blue", new_colour="green", strategy="canary:10:30m",
                        steps=[], weights={"blue": 100, "green": 0}, status=status,
                        started_at=NOW - timedelta(hours=1), updated_at=NOW,
                        versions={"blue": "1.4.2", "green": RELEASE}, last_known_good="1.4.2")


def test_once_the_cohort_started_the_release_nothing_can_be_chosen() -> None:
    reason = closed_reason(state(Status.SHIFTING), RELEASE)
    assert reason is not None and "started on 2027-03-01 08:00 UTC" in reason
    closed = subject(closed=reason)
    page = choice_page(closed, "s")
    assert not page.open and page.closed_reason == reason and page.windows == []
    for submitted in (form("window", window="Sun 02:00-06:00"), form("confirm"),
                      form("opt_out", until=date(2027, 3, 10))):
        assert refused(submitted, closed) == reason


def test_choices_stay_open_before_the_cohort_starts_that_release() -> None:
    assert closed_reason(None, RELEASE) is None
    assert closed_reason(state(Status.PROMOTED, release="1.4.2"), RELEASE) is None
    assert closed_reason(state(Status.ROLLED_BACK), RELEASE) is None
    assert "upgraded to 1.5.0 already" in str(closed_reason(state(Status.PROMOTED), RELEASE))


def test_the_page_shows_the_choice_on_record() -> None:
    recorded = TenantChoice(tenant="aurora", release=RELEASE, action="window",
                            window="Sun 02:00-06:00", at=NOW, source="x", nonce="n")
    page = choice_page(subject(choices=[recorded]), "s")
    assert page.recorded == ("you chose to upgrade in the window Sun 02:00-06:00 "
                             "(2027-03-01 09:00 UTC)")
    assert [w.current for w in page.windows] == [False, True]
    assert page.when.startswith("Sun 2027-03-07 02:00")
