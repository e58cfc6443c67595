"""The preferences page's backend on the real ledger: check the link, show, check, record.

Each request reads ``tenants.yaml`` again (a provider's edit shows at once), the
release's notices and choices and the tenant's cohort state from the ledger, and plans
with them from the clock's now, so what the page says is what ``rollout plan`` would.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from rollout.aws_clients import AwsClients
from rollout.choices.book import USED, ChoiceBook
from rollout.choices.key import link_key
from rollout.choices.portal_api import ChoiceForm, ChoiceOutcome, ChoicePage, TokenRefused
from rollout.choices.rules import ChoiceSubject, check_choice, choice_page, closed_reason, outcome
from rollout.choices.tokens import LinkClaims, form_secret, form_secret_matches, verify
from rollout.discovery import SharedResources
from rollout.errors import BadInput
from rollout.model.release import ReleaseNotes
from rollout.model.tenants import TenantsFile, load_tenants
from rollout.notify.records import NoticeBook
from rollout.rollouts.executor import load_state
from rollout.rollouts.ledger import Ledger
from rollout.schedule.plan import ReleasePlan
from rollout.schedule.planner import plan_release
from rollout.vocabulary.clock import Clock, SystemClock

STALE_FORM = "this form is out of date or was not sent from your page: open your link again"


class LedgerPortalBackend:
    """:class:`~rollout.choices.portal_api.PortalBackend` on the ledger table ``table``.

    ``clients`` are in the shared stack's region; ``notes`` are the releases the page
    may speak of; ``key`` is the link key (:func:`rollout.choices.key.link_key`).
    """

    def __init__(self, clients: AwsClients, table: str, tenants_path: Path,
                 notes: Iterable[ReleaseNotes], key: bytes, clock: Clock | None = None) -> None:
        self._clients = clients
        self._ledger = Ledger(clients, table)
        self._table = table
        self._tenants_path = tenants_path
        self._notes = {release.version: release for release in notes}
        self._key = key
        self._clock = clock or SystemClock()

    @classmethod
    def of(cls, clients: AwsClients, shared: SharedResources, tenants_path: Path,
           notes: Iterable[ReleaseNotes], clock: Clock | None = None) -> LedgerPortalBackend:
        """The backend of the app whose shared stack is ``shared`` (its link key made on
        first need); ``clients`` in the shared stack's region."""
        return cls(clients, shared.ledger_table, tenants_path, notes,
                   link_key(clients, shared.app), clock)

    def __repr__(self) -> str:
        return f"LedgerPortalBackend(table={self._table!r}, releases={sorted(self._notes)})"

    def open(self, token: str) -> ChoicePage:
        claims, book = self._unspent(token)
        return choice_page(self._subject(claims, book), form_secret(self._key, token))

    def choose(self, token: str, form: ChoiceForm) -> ChoiceOutcome:
        claims, book = self._unspent(token)
        if not form_secret_matches(self._key, token, form.form_secret):
            raise TokenRefused(STALE_FORM)
        subject = self._subject(claims, book)
        choice = check_choice(subject, form, claims.nonce)
        book.record(choice)
        return ChoiceOutcome(outcome(subject, choice))

    def _unspent(self, token: str) -> tuple[LinkClaims, ChoiceBook]:
        claims = verify(self._key, token, self._clock.now())
        if claims.release not in self._notes:
            raise TokenRefused(f"this page does not offer choices about release "
                               f"{claims.release} (any more): write to us")
        book = ChoiceBook(self._clients, self._table, claims.release)
        if book.used(claims.nonce):
            raise TokenRefused(USED)
        return claims, book

    def _subject(self, claims: LinkClaims, book: ChoiceBook) -> ChoiceSubject:
        written = load_tenants(self._tenants_path)
        try:
            tenant = written.tenant(claims.tenant)
        except BadInput:
            raise TokenRefused("this link is for a tenant we no longer serve: write to us") \
                from None
        now = self._clock.now()
        release = claims.release
        sent = {tenant_id: record.sent_at for tenant_id, record in
                NoticeBook(self._ledger, release).records().items() if record.confirmed}

        def plan_of(tenants: TenantsFile) -> ReleasePlan:
            return plan_release(tenants, release, now, sent)

        return ChoiceSubject(written=written, tenant=tenant, notes=self._notes[release],
                             choices=book.choices(), plan_of=plan_of, now=now,
                             closed=closed_reason(load_state(self._ledger, tenant.cohort),
                                                  release))
