"""The ledger in a dict: the model the DynamoDB ledger must match, and the executor's test bed.

Same semantics as :class:`rollout.rollouts.ledger.Ledger`, item for item: documents
are stored as JSON (a caller's later changes never leak in), ``only_if_new`` refuses
an existing key, a state is saved only at the revision read, under the holder's
lock token and with no stop request at its fence, and a lock is taken over only
after its record version stayed unchanged for one lease *on the clock this ledger
was given*. Event numbering, stop requests and the lease rule are the very code the
DynamoDB ledger runs (:class:`rollout.rollouts.ledger.LedgerRules`).

It is thread-safe, since a holder's heartbeat renews from a thread of its own.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable

from pydantic import BaseModel

from rollout.errors import Blocked
from rollout.rollouts.ledger import (
    DEFAULT_LEASE_SECONDS,
    Event,
    Lease,
    LedgerRules,
    LedgerUnreadable,
    M,
)
from rollout.vocabulary.ledger_keys import LOCK_SK, STATE_SK, cohort_pk, event_sk


class MemoryLedger(LedgerRules):
    """A whole ledger table in memory, judged on an injected monotonic clock."""

    def __init__(self, *, monotonic: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self._monotonic = monotonic
        self._sleep = sleep
        self._items: dict[tuple[str, str], str] = {}
        self._revisions: dict[str, int] = {}
        """The ``revision`` attribute of each state item, by pk; a plain put drops it."""
        self._locks: dict[str, Lease] = {}
        self._lock = threading.RLock()
        self.lost = False
        """Set it to make every read fail as a deleted table does."""

    def _put_event(self, cohort: str, event: Event, claim: str | None) -> bool:
        """The event and the claim on its key under this ledger's lock: both or neither."""
        pk, sk = cohort_pk(cohort), event_sk(event.seq)
        with self._lock:
            if (pk, sk) in self._items or (claim is not None and (pk, claim) in self._items):
                return False
            self._items[(pk, sk)] = event.model_dump_json()
            if claim is not None:
                self._items[(pk, claim)] = event.model_dump_json()
            return True

    def keys(self) -> list[tuple[str, str]]:
        """Every ``(pk, sk)`` stored, in order (locks included): what a test may assert on."""
        with self._lock:
            found = set(self._items) | {(cohort_pk(c), LOCK_SK) for c in self._locks}
            return sorted(found)

    # generic documents -------------------------------------------------
    def put(self, pk: str, sk: str, doc: BaseModel, *, only_if_new: bool = False) -> bool:
        with self._lock:
            if only_if_new and (pk, sk) in self._items:
                return False
            self._items[(pk, sk)] = doc.model_dump_json()
            if sk == STATE_SK:
                self._revisions.pop(pk, None)
            return True

    def get(self, pk: str, sk: str, model: type[M]) -> M | None:
        with self._lock:
            if self.lost:
                raise LedgerUnreadable("the in-memory ledger was lost")
            found = self._items.get((pk, sk))
        return model.model_validate_json(found) if found is not None else None

    def query(self, pk: str, sk_prefix: str, model: type[M]) -> list[M]:
        with self._lock:
            found = [doc for (item_pk, sk), doc in sorted(self._items.items())
                     if item_pk == pk and sk.startswith(sk_prefix)]
        return [model.model_validate_json(doc) for doc in found]

    def delete(self, pk: str, sk: str) -> None:
        with self._lock:
            self._items.pop((pk, sk), None)
            if sk == STATE_SK:
                self._revisions.pop(pk, None)

    # state -------------------------------------------------------------
    def save_state(self, cohort: str, doc: BaseModel, *, expected_revision: int,
                   lease: Lease | None, fence: str | None) -> None:
        """All three conditions at once, as DynamoDB's transaction checks them."""
        pk = cohort_pk(cohort)
        with self._lock:
            exists = (pk, STATE_SK) in self._items
            revision_ok = (not exists if expected_revision == 0 else
                           self._revisions.get(pk, expected_revision) == expected_revision)
            held = self._locks.get(cohort)
            lease_ok = lease is None or (held is not None and held.token == lease.token)
            fence_ok = fence is None or (pk, fence) not in self._items
            if revision_ok and lease_ok and fence_ok:
                self._items[(pk, STATE_SK)] = doc.model_dump_json()
                self._revisions[pk] = expected_revision + 1
                return
            stored = self._items.get((pk, STATE_SK))
        self._explain_refused_save(cohort, doc, stored, lease, fence)

    # lease locks -------------------------------------------------------
    def acquire(self, cohort: str, holder: str, seconds: float = DEFAULT_LEASE_SECONDS, *,
                patience: float = 0.0) -> Lease:
        return self._take_lease(cohort, holder, seconds, patience, self._monotonic,
                                self._sleep)

    def _put_lock(self, lease: Lease, replacing_rvn: str | None) -> Lease | None:
        with self._lock:
            current = self._locks.get(lease.cohort)
            if current is None or (replacing_rvn is not None and current.rvn == replacing_rvn):
                self._locks[lease.cohort] = lease
                return None
            return current

    def renew(self, lease: Lease, seconds: float | None = None) -> Lease:
        with self._lock:
            current = self._locks.get(lease.cohort)
            if current is None or current.token != lease.token:
                raise Blocked(f"cohort {lease.cohort}: our lease was taken over; stopping")
            renewed = lease.model_copy(update={
                "rvn": uuid.uuid4().hex,
                "expires_at": time.time() + (seconds or lease.lease_seconds)})
            self._locks[lease.cohort] = renewed
            return renewed

    def release(self, lease: Lease) -> None:
        with self._lock:
            current = self._locks.get(lease.cohort)
            if current is not None and current.token == lease.token:
                del self._locks[lease.cohort]

    def lock_holder(self, cohort: str) -> Lease | None:
        with self._lock:
            return self._locks.get(cohort)
