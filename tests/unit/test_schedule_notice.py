"""The notice rule a cohort's start obeys, and the notice a tenant reads."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from rollout.model.release import ReleaseNotes
from rollout.model.tenants import load_tenants
from rollout.notify.render import render_notice
from rollout.schedule.notice import NoticeRecord, missing_notices
from rollout.schedule.planner import plan_release

EXAMPLE = Path(__file__).resolve().parent / "fixtures" / "tenants_seed_cases.yaml"
NOTES = ReleaseNotes.model_validate({
    "version": "1.5.0", "title": "Faster exports",
    "changes": ["CSV exports run in the background"],
    "benefits": ["Exports of any size finish"],
    "risks": ["Export links change format"],
    "timeframe": "Each upgrade takes under an hour, with no downtime.",
    "rollbackPlan": "Traffic returns to 1.4.2 in one step; nothing to do on your side.",
})


def utc(year: int, month: int, day: int, hour: int = 0) -> datetime:
    return datetime(year, month, day, hour, tzinfo=UTC)


def record(tenant: str, sent_at: datetime, message_id: str | None = "m-1") -> NoticeRecord:
    return NoticeRecord(tenant=tenant, release="1.5.0", sent_at=sent_at, channel="sns",
                        message_id=message_id)


def test_start_without_any_notice_names_every_tenant_it_would_upgrade() -> None:
    tenants = load_tenants(EXAMPLE)
    missing = missing_notices(tenants, "wave1", {}, utc(2026, 3, 14, 6))
    assert [m.tenant for m in missing] == ["delta-retail", "ember-health", "fjord-shipping"]
    assert all("no notice sent" in m.reason for m in missing)


def test_a_notice_counts_only_once_its_full_period_has_passed() -> None:
    tenants = load_tenants(EXAMPLE)
    now = utc(2026, 3, 14, 6)
    records = {
        "delta-retail": record("delta-retail", now - timedelta(days=14)),
        "ember-health": record("ember-health", now - timedelta(days=13)),
        "fjord-shipping": record("fjord-shipping", now - timedelta(days=30), message_id=None),
    }
    missing = missing_notices(tenants, "wave1", records, now)
    assert [m.tenant for m in missing] == ["ember-health", "fjord-shipping"]
    assert missing[0].complete_at == utc(2026, 3, 15, 6)
    assert "14-day notice period ends 2026-03-15 06:00 UTC" in missing[0].reason
    assert "no notice sent" in missing[1].reason


def test_everyone_noticed_in_time_means_nothing_missing() -> None:
    tenants = load_tenants(EXAMPLE)
    now = utc(2026, 3, 7, 1)
    records = {t.id: record(t.id, utc(2026, 1, 12)) for t in tenants.members("canary")}
    assert missing_notices(tenants, "canary", records, now) == []
    assert [m.tenant for m in missing_notices(tenants, "canary", records, utc(2026, 1, 20))] \
        == ["birch-labs", "cobalt-bank"]


def test_pinned_tenants_need_no_notice_yet() -> None:
    tenants = load_tenants(EXAMPLE)
    missing = missing_notices(tenants, "wave2", {}, utc(2026, 3, 28, 1))
    assert [m.tenant for m in missing] == ["harbor-media", "juniper-games"]


def test_a_notice_tells_the_tenant_everything_in_its_own_time() -> None:
    tenants = load_tenants(EXAMPLE)
    plan = plan_release(tenants, "1.5.0", utc(2026, 1, 12))
    timeframes = plan.timeframes()
    notice = render_notice(NOTES, tenants.tenant("birch-labs"), timeframes["birch-labs"],
                           tenants.defaults.reply_to)
    assert notice.subject.startswith("Upgrade to 1.5.0 for birch-labs: Sat 2026-03-07 02:00")
    for part in ("CSV exports run in the background", "Exports of any size finish",
                 "Export links change format", "Traffic returns to 1.4.2 in one step",
                 "Each upgrade takes under an hour",
                 "When (your local time): Sat 2026-03-07 02:00-03:00 Europe/Berlin",
                 "customer-success@acme.example", "opt-out", "another of your upgrade windows"):
        assert part in notice.body
    assert notice.slot_start == utc(2026, 3, 7, 1)


def test_a_tenant_left_behind_is_told_its_own_slot_and_why() -> None:
    tenants = load_tenants(EXAMPLE)
    timeframes = plan_release(tenants, "1.5.0", utc(2026, 1, 12)).timeframes()
    notice = render_notice(NOTES, tenants.tenant("garnet-tax"), timeframes["garnet-tax"], None)
    assert "When (your local time): Sat 2026-04-18 00:00-02:00 America/New_York" in notice.body
    assert "busy season tax-season" in notice.body
    assert "Reply to this notice" in notice.body
