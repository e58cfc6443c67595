"""Has every tenant had its full notice period? The records and the rule, without AWS.

A notice sent for a release is recorded in the ledger under ``NOTICE#<release>`` /
``TENANT#<id>`` (see :mod:`rollout.notify.records`). A cohort may start only when
every tenant it will upgrade (those not pinned on the old colour) has a confirmed
notice at least its notice period old.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from pydantic import BaseModel

from rollout.model.tenants import TenantsFile
from rollout.schedule.pins import pins_at
from rollout.schedule.plan import utc_text
from rollout.vocabulary.clock import as_utc


class NoticeRecord(BaseModel):
    """One tenant's notice for one release: when, through which channel, with which id.

    ``message_id`` is empty while the notice is being sent; such a record claims the
    tenant (two ``notify`` runs cannot both send) but does not count as notice given.
    """

    tenant: str
    release: str
    sent_at: datetime
    slot_start: datetime | None = None
    slot_end: datetime | None = None
    channel: str
    message_id: str | None = None

    @property
    def confirmed(self) -> bool:
        return self.message_id is not None


class MissingNotice(BaseModel):
    """A tenant that may not be upgraded yet, and why."""

    tenant: str
    reason: str
    complete_at: datetime | None = None
    """When its notice period ends, if a notice went out."""


def missing_notices(tenants: TenantsFile, cohort: str, records: Mapping[str, NoticeRecord],
                    now: datetime) -> list[MissingNotice]:
    """The tenants ``cohort`` would upgrade at ``now`` without their full notice period.

    Tenants pinned at ``now`` (opted out, busy season) are not upgraded, so they
    need no notice yet. ``records`` maps tenant ids to their notice for the release.
    """
    now = as_utc(now)
    pinned = {pin.tenant for pin in pins_at(tenants, cohort, now)}
    missing: list[MissingNotice] = []
    for tenant in tenants.members(cohort):
        if tenant.id in pinned:
            continue
        record = records.get(tenant.id)
        period = tenants.notice_of(tenant)
        if record is None or not record.confirmed:
            missing.append(MissingNotice(
                tenant=tenant.id,
                reason="no notice sent for this release (run `rollout notify`)"))
            continue
        complete = record.sent_at + period
        if complete > now:
            missing.append(MissingNotice(
                tenant=tenant.id, complete_at=complete,
                reason=f"notice sent {utc_text(record.sent_at)}; its {period.days}-day "
                       f"notice period ends {utc_text(complete)}"))
    return missing
