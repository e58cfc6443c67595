"""Send every tenant its notice for a release, once.

Running it again sends nothing new: a tenant with a confirmed record is skipped,
and one claimed by a run that is still sending is left to that run. A claim
left behind by a run that crashed mid-send is taken over after a while, since a
second notice is better than none.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from pydantic import BaseModel

from rollout.model.release import ReleaseNotes
from rollout.model.tenants import TenantsFile
from rollout.notify.base import Notifier
from rollout.notify.records import NoticeBook
from rollout.notify.render import describe_timeframe, render_notice
from rollout.schedule.notice import NoticeRecord
from rollout.schedule.planner import plan_release

STALE_CLAIM = timedelta(minutes=10)


class SentNotice(BaseModel):
    tenant: str
    channel: str
    message_id: str
    timeframe: str


class NotifyReport(BaseModel):
    """What one ``notify`` run did."""

    release: str
    sent: list[SentNotice]
    already_noticed: list[str]
    in_progress: list[str]

    def summary(self) -> str:
        if not self.sent:
            waiting = (f"; {len(self.in_progress)} being sent by another run"
                       if self.in_progress else "")
            return (f"nothing new to send: {len(self.already_noticed)} tenant(s) already have "
                    f"their notice for release {self.release}{waiting}")
        return (f"sent {len(self.sent)} notice(s) for release {self.release}; "
                f"{len(self.already_noticed)} tenant(s) already had theirs")


def send_notices(notes: ReleaseNotes, tenants: TenantsFile, book: NoticeBook,
                 notifier: Notifier, plan_from: datetime, now: datetime) -> NotifyReport:
    """Plan from ``plan_from`` (notices already sent count from when they went out), then
    send each tenant without a notice its own, recording each in ``book``."""
    existing = book.records()
    sent_at = {tenant: r.sent_at for tenant, r in existing.items() if r.confirmed}
    plan = plan_release(tenants, notes.version, max(plan_from, now), sent_at)
    timeframes = plan.timeframes()
    report = NotifyReport(release=notes.version, sent=[], already_noticed=[], in_progress=[])
    for tenant in tenants.tenants:
        found = existing.get(tenant.id)
        if found is not None and found.confirmed:
            report.already_noticed.append(tenant.id)
            continue
        if found is not None and now - found.sent_at < STALE_CLAIM:
            report.in_progress.append(tenant.id)
            continue
        timeframe = timeframes[tenant.id]
        notice = render_notice(notes, tenant, timeframe, tenants.defaults.reply_to)
        claim = NoticeRecord(tenant=tenant.id, release=notes.version, sent_at=now,
                             slot_start=notice.slot_start, slot_end=notice.slot_end,
                             channel=notifier.channel)
        if found is None:
            if not book.claim(claim):
                report.in_progress.append(tenant.id)
                continue
        else:
            book.overwrite(claim)
        try:
            message_id = notifier.send(notice)
        except BaseException:
            book.abandon(tenant.id)
            raise
        book.overwrite(claim.model_copy(update={"message_id": message_id}))
        report.sent.append(SentNotice(tenant=tenant.id, channel=notifier.channel,
                                      message_id=message_id,
                                      timeframe=describe_timeframe(timeframe)))
    return report
