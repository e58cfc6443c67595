"""Notices in the ledger: ``NOTICE#<release>`` / ``TENANT#<id>``, one per tenant and release.

A record is claimed before sending (a conditional write), so two ``notify`` runs
never both send to a tenant, and confirmed with the channel's message id after. The
confirmation of a tenant's choice is recorded the same way, once per choice
(``CONFIRM#<tenant>#<nonce>``).
"""

from __future__ import annotations

from datetime import datetime

from rollout.model.tenants import TenantsFile
from rollout.rollouts.ledger import RolloutLedger
from rollout.schedule.notice import MissingNotice, NoticeRecord, missing_notices
from rollout.vocabulary.ledger_keys import (
    CONFIRMATION_PREFIX,
    NOTICE_TENANT_PREFIX,
    confirmation_sk,
    notice_pk,
    notice_sk,
)


class ConfirmationRecord(NoticeRecord):
    """The notice confirming one choice (named by the nonce of the link that made it)."""

    nonce: str


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

    def confirmations(self) -> dict[tuple[str, str], ConfirmationRecord]:
        """(tenant, nonce) → the confirmation of that choice."""
        return {(record.tenant, record.nonce): record for record in self._ledger.query(
            notice_pk(self.release), CONFIRMATION_PREFIX, ConfirmationRecord)}

    def claim_confirmation(self, record: ConfirmationRecord) -> bool:
        return self._ledger.put(notice_pk(self.release),
                                confirmation_sk(record.tenant, record.nonce), record,
                                only_if_new=True)

    def store_confirmation(self, record: ConfirmationRecord) -> None:
        self._ledger.put(notice_pk(self.release), confirmation_sk(record.tenant, record.nonce),
                         record)

    def abandon_confirmation(self, tenant: str, nonce: str) -> None:
        self._ledger.delete(notice_pk(self.release), confirmation_sk(tenant, nonce))


def check_notice(ledger: RolloutLedger, release: str, tenants: TenantsFile, cohort: str,
                 now: datetime) -> list[MissingNotice]:
    """The tenants of ``cohort`` that ``start`` at ``now`` would upgrade without full notice.

    Empty means the cohort may start; otherwise the executor refuses with
    :class:`~rollout.errors.Blocked` unless ``--override-notice`` is given.
    """
    return missing_notices(tenants, cohort, NoticeBook(ledger, release).records(), now)
