"""Notices in the ledger: ``NOTICE#<release>`` / ``TENANT#<id>``, one per tenant and release.

A record is claimed before sending (a conditional write), so two ``notify`` runs
never both send to a tenant, and confirmed with the channel's message id after.
"""

from __future__ import annotations

from datetime import datetime

from rollout.model.tenants import TenantsFile
from rollout.rollouts.ledger import RolloutLedger
from rollout.schedule.notice import MissingNotice, NoticeRecord, missing_notices
from rollout.vocabulary.ledger_keys import NOTICE_TENANT_PREFIX, notice_pk, notice_sk


class NoticeBook:
    """The notices of one release, as the ledger holds them."""

    def __init__(self, ledger: RolloutLedger, release: str) -> None:
        self._ledger = ledger
        self.release = release

    def records(self) -> dict[str, NoticeRecord]:
        """Tenant id → its notice record for this release."""
        return {record.tenant: record for record in
                self._ledger.query(notice_pk(self.release), NOTICE_TENANT_PREFIX, NoticeRecord)}

    def claim(self, record: NoticeRecord) -> bool:
        """Claim the tenant for sending; False when another run already did."""
        return self._ledger.put(notice_pk(self.release), notice_sk(record.tenant), record,
                                only_if_new=True)

    def overwrite(self, record: NoticeRecord) -> None:
        """Store ``record`` whatever is there (confirming our own claim)."""
        self._ledger.put(notice_pk(self.release), notice_sk(record.tenant), record)

    def abandon(self, tenant: str) -> None:
        """Give a claim back after the send failed, so the next run tries again."""
        self._ledger.delete(notice_pk(self.release), notice_sk(tenant))


def check_notice(ledger: RolloutLedger, release: str, tenants: TenantsFile, cohort: str,
                 now: datetime) -> list[MissingNotice]:
    """The tenants of ``cohort`` that ``start`` at ``now`` would upgrade without full notice.

    Empty means the cohort may start; otherwise the executor refuses with
    :class:`~rollout.errors.Blocked` unless ``--override-notice`` is given.
    """
    return missing_notices(tenants, cohort, NoticeBook(ledger, release).records(), now)
