"""Send every tenant its notice for a release, once, and each recorded choice its confirmation.

Running it again sends nothing new: a tenant with a confirmed record is skipped,
and one claimed by a run that is still sending is left to that run. A claim
left behind by a run that crashed mid-send is taken over after a while, since a
second notice is better than none. Confirmations of choices follow the same rule,
once per choice.

With a preferences page (``defaults.portal_url``) each notice carries the tenant's own
link; the link is in the body sent and nowhere else (not in the report, not in the
ledger's records).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from pydantic import BaseModel, Field

from rollout.choices.links import ChoiceLinks
from rollout.choices.model import TenantChoice
from rollout.model.release import ReleaseNotes
from rollout.model.tenants import Tenant, TenantsFile
from rollout.notify.base import Notice, Notifier
from rollout.notify.records import ConfirmationRecord, NoticeBook
from rollout.notify.render import describe_timeframe, render_confirmation, render_notice
from rollout.schedule.notice import NoticeRecord
from rollout.schedule.plan import Timeframe
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
    confirmed: list[SentNotice] = Field(default_factory=list)
    """Confirmations of tenants' choices sent by this run."""

    def summary(self) -> str:
        confirmed = (f"; confirmed {len(self.confirmed)} tenant choice(s)"
                     if self.confirmed else "")
        if not self.sent:
            waiting = (f"; {len(self.in_progress)} being sent by another run"
                       if self.in_progress else "")
            return (f"nothing new to send: {len(self.already_noticed)} tenant(s) already have "
                    f"their notice for release {self.release}{waiting}{confirmed}")
        return (f"sent {len(self.sent)} notice(s) for release {self.release}; "
                f"{len(self.already_noticed)} tenant(s) already had theirs{confirmed}")


def _link(links: ChoiceLinks | None, tenant: str, release: str, now: datetime,
          timeframe: Timeframe) -> str | None:
    if links is None:
        return None
    return links.link(tenant, release, now, timeframe.slot.start if timeframe.slot else None)


def _deliver(book: NoticeBook, notifier: Notifier, notice: Notice, claim: NoticeRecord,
             fresh: bool) -> str | None:
    """Claim (or take over a stale claim), send, confirm; None when another run claimed."""
    if fresh:
        if not book.claim(claim):
            return None
    else:
        book.overwrite(claim)
    try:
        message_id = notifier.send(notice)
    except BaseException:
        book.abandon(claim.tenant)
        raise
    book.overwrite(claim.model_copy(update={"message_id": message_id}))
    return message_id


def send_notices(notes: ReleaseNotes, tenants: TenantsFile, book: NoticeBook,
                 notifier: Notifier, plan_from: datetime, now: datetime,
                 links: ChoiceLinks | None = None,
                 choices: Sequence[TenantChoice] = ()) -> NotifyReport:
    """Plan from ``plan_from`` (notices already sent count from when they went out), then
    send each tenant without a notice its own, recording each in ``book``; then confirm
    each of ``choices`` not yet confirmed. ``tenants`` has the choices laid over it
    (:func:`rollout.choices.overlay.with_choices`); ``links`` puts a link in each notice."""
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
        notice = render_notice(notes, tenant, timeframe, tenants.defaults.reply_to,
                               _link(links, tenant.id, notes.version, now, timeframe))
        claim = NoticeRecord(tenant=tenant.id, release=notes.version, sent_at=now,
                             slot_start=notice.slot_start, slot_end=notice.slot_end,
                             channel=notifier.channel)
        message_id = _deliver(book, notifier, notice, claim, fresh=found is None)
        if message_id is None:
            report.in_progress.append(tenant.id)
            continue
        report.sent.append(SentNotice(tenant=tenant.id, channel=notifier.channel,
                                      message_id=message_id,
                                      timeframe=describe_timeframe(timeframe)))
    report.confirmed = _confirm(notes, tenants, book, notifier, choices, timeframes, now, links)
    return report


def _confirm(notes: ReleaseNotes, tenants: TenantsFile, book: NoticeBook, notifier: Notifier,
             choices: Sequence[TenantChoice], timeframes: dict[str, Timeframe],
             now: datetime, links: ChoiceLinks | None) -> list[SentNotice]:
    """One confirmation per choice, claimed in the ledger as notices are."""
    done = book.confirmations()
    known: dict[str, Tenant] = {t.id: t for t in tenants.tenants} if choices else {}
    sent: list[SentNotice] = []
    for choice in choices:
        tenant = known.get(choice.tenant)
        found = done.get((choice.tenant, choice.nonce))
        if tenant is None or choice.tenant not in timeframes or (found is not None and (
                found.confirmed or now - found.sent_at < STALE_CLAIM)):
            continue
        timeframe = timeframes[choice.tenant]
        notice = render_confirmation(notes, tenant, choice.describe(), timeframe,
                                     tenants.defaults.reply_to,
                                     _link(links, tenant.id, notes.version, now, timeframe))
        claim = ConfirmationRecord(tenant=tenant.id, release=notes.version, sent_at=now,
                                   slot_start=notice.slot_start, slot_end=notice.slot_end,
                                   channel=notifier.channel, nonce=choice.nonce)
        if found is None:
            if not book.claim_confirmation(claim):
                continue
        else:
            book.store_confirmation(claim)
        try:
            message_id = notifier.send(notice)
        except BaseException:
            book.abandon_confirmation(tenant.id, choice.nonce)
            raise
        book.store_confirmation(claim.model_copy(update={"message_id": message_id}))
        sent.append(SentNotice(tenant=tenant.id, channel=notifier.channel,
                               message_id=message_id, timeframe=describe_timeframe(timeframe)))
    return sent
