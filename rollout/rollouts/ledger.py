"""The rollout ledger: what a rollout needs of it, and its DynamoDB implementation.

:class:`RolloutLedger` is the contract the executor relies on: documents by
``pk``/``sk``, a cohort's append-only events, its state saved only at the revision
read, under the holder's lease and never past an operator's stop request, the
lease lock itself and stop requests. :class:`Ledger` keeps it in DynamoDB;
:class:`rollout.rollouts.memory_ledger.MemoryLedger` keeps it in a dict with the
same semantics, the model the DynamoDB one must match. Keys come from
:mod:`rollout.vocabulary.ledger_keys`; documents are pydantic models stored as
JSON in ``doc``.

Every write that could race is a conditional write, so two CI jobs can never
both believe they hold a cohort, and the state is saved only in one transaction
with its revision, the holder's lock token and the absence of a stop request. An
event with a key is written in one transaction with a claim on its key, so an
outcome two processes record at the same instant is recorded once.
"""

from __future__ import annotations

import contextlib
import getpass
import os
import socket
import threading
import time
import uuid
from abc import ABC, abstractmethod
from collections.abc import Callable
from datetime import datetime
from typing import Any, Literal, Protocol, TypeVar

from pydantic import BaseModel, Field

from rollout.aws_clients import AwsClients
from rollout.errors import Blocked, RolloutFailed
from rollout.vocabulary.clock import utc_now
from rollout.vocabulary.ledger_keys import (
    EVENT_PREFIX,
    LOCK_SK,
    STATE_SK,
    cohort_pk,
    event_key_sk,
    event_sk,
    stop_sk,
)

M = TypeVar("M", bound=BaseModel)

DEFAULT_LEASE_SECONDS = 60
EVENT_ATTEMPTS = 5
LEGACY_RVN = "legacy-expiry:"
TRANSACTION_ATTEMPTS = 4

def default_actor() -> str:
    """Who is acting: the CI job when there is one, else user@host."""
    ci = os.environ.get("GITHUB_ACTIONS") and os.environ.get("GITHUB_RUN_ID")
    if ci:
        return f"github-actions run {ci} ({os.environ.get('GITHUB_ACTOR', 'unknown')})"
    try:
        user = getpass.getuser()
    except OSError:
        user = "unknown"
    return f"{user}@{socket.gethostname()}"


class Event(BaseModel):
    """One entry of a cohort's append-only history: who did what, when and why.

    ``data["key"]``, when there is one, names what the event records (``<started>:step:1``,
    ``<started>:rolled_back``): the ledger records a key once, whoever records it.
    """

    seq: int = 0
    at: datetime = Field(default_factory=utc_now)
    actor: str = Field(default_factory=default_actor)
    kind: str
    message: str
    data: dict[str, Any] = Field(default_factory=dict)

    @property
    def key(self) -> str | None:
        """The event's idempotency key, or None for one that may repeat (``stack-deployed``)."""
        key = self.data.get("key")
        return key if isinstance(key, str) else None


class Lease(BaseModel):
    """A held lock on one cohort.

    ``rvn`` (record version number) changes at every renewal: waiters judge liveness by
    it. ``expires_at`` is the holder's own wall-clock estimate, never used to decide
    anything (audits and people read it).
    """

    cohort: str
    holder: str
    token: str
    rvn: str
    lease_seconds: float
    expires_at: float


class StopRequest(BaseModel):
    """An operator's abort or rollback of one rollout, which every holder must honour."""

    kind: Literal["abort", "rollback"]
    reason: str
    actor: str
    at: datetime
    rollout_started_at: datetime


class LedgerUnreadable(RolloutFailed):
    """The ledger table is gone or refuses us: nothing about a rollout can be known."""


class StoppedByOperator(RolloutFailed):
    """A holder found an operator's stop request: it writes nothing more (exit 1)."""

    def __init__(self, cohort: str, request: StopRequest) -> None:
        super().__init__(f"the rollout of cohort {cohort} was stopped by {request.actor} "
                         f"({request.kind}: {request.reason}); this process moves no more "
                         "traffic")
        self.request = request


class RolloutLedger(Protocol):
    """What the executor, its preflight checks and the notices need of a ledger."""

    def put(self, pk: str, sk: str, doc: BaseModel, *, only_if_new: bool = False) -> bool:
        """Store ``doc``; with ``only_if_new``, return False instead of overwriting."""
        ...

    def get(self, pk: str, sk: str, model: type[M]) -> M | None:
        """One document, or None; :class:`LedgerUnreadable` when the store is gone."""
        ...

    def query(self, pk: str, sk_prefix: str, model: type[M]) -> list[M]:
        """Every document under ``pk`` whose sort key starts with ``sk_prefix``, in order."""
        ...

    def delete(self, pk: str, sk: str) -> None:
        ...

    def events(self, cohort: str) -> list[Event]:
        """The cohort's history, oldest first."""
        ...

    def append_event(self, cohort: str, event: Event) -> Event:
        """Append ``event`` with the next sequence number; the event as numbered.

        An event whose :attr:`Event.key` is recorded already is not appended again: the
        answer is the event recorded under that key.
        """
        ...

    def save_state(self, cohort: str, doc: BaseModel, *, expected_revision: int,
                   lease: Lease | None, fence: str | None) -> None:
        """Store the state only at ``expected_revision``, under ``lease``, with no stop at
        ``fence``; else :class:`Blocked` or :class:`StoppedByOperator` says which failed."""
        ...

    def request_stop(self, cohort: str, request: StopRequest) -> None:
        """Record an operator's stop; from now on no forward save of that rollout succeeds."""
        ...

    def stop_request(self, cohort: str, rollout_started_at: datetime) -> StopRequest | None:
        ...

    def acquire(self, cohort: str, holder: str, seconds: float = DEFAULT_LEASE_SECONDS, *,
                patience: float = 0.0) -> Lease:
        """Take the cohort's lease, or :class:`Blocked` naming its live holder."""
        ...

    def renew(self, lease: Lease, seconds: float | None = None) -> Lease:
        """A new record version number; :class:`Blocked` when the lease was taken over."""
        ...

    def release(self, lease: Lease) -> None:
        """Give the lease back, only if it is still ours."""
        ...

    def lock_holder(self, cohort: str) -> Lease | None:
        ...


class LedgerRules(ABC):
    """What every ledger does the same way, whatever it stores its items in.

    Event numbering, stop requests, the lease-taking rule and the explanation of a
    refused save are built on a store's own ``put``/``get``/``query`` and lock writes,
    so the DynamoDB ledger and the in-memory one cannot drift apart on them.
    """

    @abstractmethod
    def put(self, pk: str, sk: str, doc: BaseModel, *, only_if_new: bool = False) -> bool:
        ...

    @abstractmethod
    def get(self, pk: str, sk: str, model: type[M]) -> M | None:
        ...

    @abstractmethod
    def query(self, pk: str, sk_prefix: str, model: type[M]) -> list[M]:
        ...

    @abstractmethod
    def lock_holder(self, cohort: str) -> Lease | None:
        ...

    @abstractmethod
    def _put_lock(self, lease: Lease, replacing_rvn: str | None) -> Lease | None:
        """Write our lock item if the cohort has none (or still ``replacing_rvn``).

        Returns None when written, else the lock that stood in the way.
        """

    # events ------------------------------------------------------------
    def events(self, cohort: str) -> list[Event]:
        return self.query(cohort_pk(cohort), EVENT_PREFIX, Event)

    def last_event(self, cohort: str) -> Event | None:
        found = self.events(cohort)
        return found[-1] if found else None

    def append_event(self, cohort: str, event: Event) -> Event:
        """Append ``event`` with the next sequence number; a keyed event only once.

        Two processes may append at once (an operator's stop while a holder runs): the
        loser of a sequence number takes the next one. An event with a key is written
        together with a claim on that key (``EVENTKEY#<key>``, holding the event as
        numbered), so when two processes record the same outcome in the same instant,
        the second finds the claim and is answered with the first one's event, writing
        nothing. When the condition fails because our own first attempt landed (its
        response was lost and botocore sent it again), the item holds exactly our
        event: that is success.
        """
        claim = event_key_sk(event.key) if event.key is not None else None
        for _ in range(EVENT_ATTEMPTS):
            if claim is not None:
                recorded = self.get(cohort_pk(cohort), claim, Event)
                if recorded is not None:
                    return recorded
            last = self.last_event(cohort)
            numbered = event.model_copy(update={"seq": (last.seq if last else 0) + 1})
            if self._put_event(cohort, numbered, claim):
                return numbered
            found = self.get(cohort_pk(cohort), event_sk(numbered.seq), Event)
            if found is not None and found.model_dump_json() == numbered.model_dump_json():
                return numbered
        raise Blocked(f"cohort {cohort}: other processes kept writing events; try again")

    @abstractmethod
    def _put_event(self, cohort: str, event: Event, claim: str | None) -> bool:
        """Write ``event`` at its number and, with ``claim``, the claim on its key: both
        or neither, each only if new. False when either was there already."""

    # stop requests -----------------------------------------------------
    def request_stop(self, cohort: str, request: StopRequest) -> None:
        """Record an operator's stop; from now on no forward save of that rollout succeeds."""
        self.put(cohort_pk(cohort), stop_sk(request.rollout_started_at), request)

    def stop_request(self, cohort: str, rollout_started_at: datetime) -> StopRequest | None:
        return self.get(cohort_pk(cohort), stop_sk(rollout_started_at), StopRequest)

    # state -------------------------------------------------------------
    def _explain_refused_save(self, cohort: str, doc: BaseModel, stored: str | None,
                              lease: Lease | None, fence: str | None) -> None:
        """Say which condition refused a state save: a stop, a lost lease, or a newer state.

        ``stored`` is the state document as stored now: when it is exactly ours, our first
        attempt landed and its answer was lost (botocore sent it again): that is success.
        """
        if stored == doc.model_dump_json():
            return
        if fence is not None:
            stop = self.get(cohort_pk(cohort), fence, StopRequest)
            if stop is not None:
                raise StoppedByOperator(cohort, stop)
        if lease is not None:
            current = self.lock_holder(cohort)
            if current is None or current.token != lease.token:
                who = current.holder if current else "nobody"
                raise Blocked(f"cohort {cohort}: our lease was taken over (the lock is held by "
                              f"{who}); stopping without writing")
        raise Blocked(f"cohort {cohort}: another process changed the rollout's state; "
                      "stopping without writing (see `rollout status`)")

    # lease locks -------------------------------------------------------
    def _take_lease(self, cohort: str, holder: str, seconds: float, patience: float,
                    monotonic: Callable[[], float], sleep: Callable[[float], None]) -> Lease:
        """Take the cohort's lease, or raise :class:`Blocked` naming who holds it.

        Judged the way the Amazon DynamoDB Lock Client judges it: a held lock is taken
        over only when its record version number stayed the same for a whole lease
        period *on our own monotonic clock*; a holder that renews meanwhile is alive, and
        we give up once ``patience`` seconds have passed (by default as soon as we see it
        renew, within one heartbeat). No two hosts' wall clocks are ever compared.
        """
        began = monotonic()
        lease = Lease(cohort=cohort, holder=holder, token=uuid.uuid4().hex,
                      rvn=uuid.uuid4().hex, lease_seconds=seconds,
                      expires_at=time.time() + seconds)
        watched: tuple[str, float] | None = None
        while True:
            current = self._put_lock(lease, None)
            if current is None or current.token == lease.token:
                return lease  # taken, or our first attempt landed and botocore retried
            if watched is not None and watched[0] != current.rvn:
                if monotonic() - began < patience:
                    watched = None
                    continue
                raise Blocked(f"cohort {cohort} is locked by {current.holder} (alive: it "
                              "renewed its lease while we watched); wait for it to finish, or "
                              "stop its rollout with `rollout abort` or `rollout rollback`")
            if watched is None:
                watched = (current.rvn, monotonic())
            elif monotonic() - watched[1] >= current.lease_seconds:
                if self._put_lock(lease, watched[0]) is None:
                    return lease
                watched = None
                continue
            sleep(max(0.05, min(1.0, current.lease_seconds / 10)))


class Ledger(LedgerRules):
    """The ledger in its DynamoDB table."""

    def __init__(self, clients: AwsClients, table: str) -> None:
        self._db = clients.client("dynamodb")
        self.table = table

    # generic documents -------------------------------------------------
    def put(self, pk: str, sk: str, doc: BaseModel, *, only_if_new: bool = False) -> bool:
        """Store ``doc``; with ``only_if_new``, return False instead of overwriting."""
        request: dict[str, Any] = {
            "TableName": self.table,
            "Item": {"pk": {"S": pk}, "sk": {"S": sk}, "doc": {"S": doc.model_dump_json()}},
        }
        if only_if_new:
            request["ConditionExpression"] = "attribute_not_exists(pk)"
        try:
            self._db.put_item(**request)
        except self._db.exceptions.ConditionalCheckFailedException:
            return False
        return True

    def get(self, pk: str, sk: str, model: type[M]) -> M | None:
        """One document; :class:`LedgerUnreadable` when the table itself is gone."""
        try:
            item = self._db.get_item(TableName=self.table, ConsistentRead=True,
                                     Key={"pk": {"S": pk}, "sk": {"S": sk}}).get("Item")
        except self._db.exceptions.ResourceNotFoundException:
            raise LedgerUnreadable(f"the ledger table {self.table} does not exist (was it "
                                   "deleted? it is deletion-protected when deployed by the "
                                   "Pulumi program)") from None
        return model.model_validate_json(item["doc"]["S"]) if item and "doc" in item else None

    def query(self, pk: str, sk_prefix: str, model: type[M]) -> list[M]:
        """Every document under ``pk`` whose sort key starts with ``sk_prefix``, in order."""
        paginator = self._db.get_paginator("query")
        pages = paginator.paginate(
            TableName=self.table, ConsistentRead=True,
            KeyConditionExpression="pk = :pk AND begins_with(sk, :prefix)",
            ExpressionAttributeValues={":pk": {"S": pk}, ":prefix": {"S": sk_prefix}})
        return [model.model_validate_json(item["doc"]["S"])
                for page in pages for item in page.get("Items", []) if "doc" in item]

    def delete(self, pk: str, sk: str) -> None:
        self._db.delete_item(TableName=self.table, Key={"pk": {"S": pk}, "sk": {"S": sk}})

    # events ------------------------------------------------------------
    def last_event(self, cohort: str) -> Event | None:
        found = self._db.query(
            TableName=self.table, ConsistentRead=True, ScanIndexForward=False, Limit=1,
            KeyConditionExpression="pk = :pk AND begins_with(sk, :prefix)",
            ExpressionAttributeValues={":pk": {"S": cohort_pk(cohort)},
                                       ":prefix": {"S": EVENT_PREFIX}}).get("Items", [])
        return Event.model_validate_json(found[0]["doc"]["S"]) if found else None

    def _put_event(self, cohort: str, event: Event, claim: str | None) -> bool:
        """A keyed event and the claim on its key in one transaction, each only if new.

        So the claim exists exactly when the event does: a crash leaves both or neither,
        and ``resume`` records a missing outcome as if nobody had tried. A refusal (the
        number taken, the key claimed, or another transaction on one of the two items
        just now) is answered False, and :meth:`append_event` looks again.
        """
        if claim is None:
            return self.put(cohort_pk(cohort), event_sk(event.seq), event, only_if_new=True)
        doc = {"S": event.model_dump_json()}
        try:
            self._db.transact_write_items(TransactItems=[
                {"Put": {"TableName": self.table,
                         "Item": {"pk": {"S": cohort_pk(cohort)}, "sk": {"S": sk}, "doc": doc},
                         "ConditionExpression": "attribute_not_exists(pk)"}}
                for sk in (event_sk(event.seq), claim)])
        except self._db.exceptions.TransactionCanceledException:
            return False
        return True

    # state -------------------------------------------------------------
    def save_state(self, cohort: str, doc: BaseModel, *, expected_revision: int,
                   lease: Lease | None, fence: str | None) -> None:
        """Store a cohort's state only if nothing changed it since ``expected_revision``.

        One DynamoDB transaction: the state's revision must be the one we read, the
        ``LOCK`` item must still hold our token (when we act under a lease) and no
        operator's stop request may sit at ``fence`` (when the save moves the rollout
        forward). So a process whose lease was taken over, or whose rollout an operator
        stopped, can never write its state over theirs.
        """
        items = self._state_transaction(cohort, doc, expected_revision, lease, fence)
        for attempt in range(1, TRANSACTION_ATTEMPTS + 1):
            try:
                self._db.transact_write_items(TransactItems=items)
                return
            except self._db.exceptions.TransactionCanceledException as refused:
                reasons = refused.response.get("CancellationReasons", [])
                conflict = any(r.get("Code") == "TransactionConflict" for r in reasons)
                if not conflict or attempt == TRANSACTION_ATTEMPTS:
                    stored = self._db.get_item(TableName=self.table, ConsistentRead=True, Key={
                        "pk": {"S": cohort_pk(cohort)}, "sk": {"S": STATE_SK}}).get("Item", {})
                    self._explain_refused_save(cohort, doc, stored.get("doc", {}).get("S"),
                                               lease, fence)
                    return
                time.sleep(0.05 * attempt)  # another write on one of its items, just now

    def _state_transaction(self, cohort: str, doc: BaseModel, expected_revision: int,
                           lease: Lease | None, fence: str | None) -> list[dict[str, Any]]:
        pk = cohort_pk(cohort)
        put: dict[str, Any] = {
            "TableName": self.table,
            "Item": {"pk": {"S": pk}, "sk": {"S": STATE_SK},
                     "doc": {"S": doc.model_dump_json()},
                     "revision": {"N": str(expected_revision + 1)}}}
        if expected_revision == 0:
            put["ConditionExpression"] = "attribute_not_exists(pk)"
        else:
            put["ConditionExpression"] = "attribute_not_exists(revision) OR revision = :rev"
            put["ExpressionAttributeValues"] = {":rev": {"N": str(expected_revision)}}
        items: list[dict[str, Any]] = [{"Put": put}]
        if lease is not None:
            items.append({"ConditionCheck": {
                "TableName": self.table, "Key": {"pk": {"S": pk}, "sk": {"S": LOCK_SK}},
                "ConditionExpression": "#token = :token",
                "ExpressionAttributeNames": {"#token": "token"},
                "ExpressionAttributeValues": {":token": {"S": lease.token}}}})
        if fence is not None:
            items.append({"ConditionCheck": {
                "TableName": self.table, "Key": {"pk": {"S": pk}, "sk": {"S": fence}},
                "ConditionExpression": "attribute_not_exists(pk)"}})
        return items

    # lease locks -------------------------------------------------------
    def acquire(self, cohort: str, holder: str, seconds: float = DEFAULT_LEASE_SECONDS, *,
                patience: float = 0.0, monotonic: Callable[[], float] = time.monotonic,
                sleep: Callable[[float], None] = time.sleep) -> Lease:
        """Take the cohort's lease (see :meth:`LedgerRules._take_lease`), on ``monotonic``."""
        return self._take_lease(cohort, holder, seconds, patience, monotonic, sleep)

    def _put_lock(self, lease: Lease, replacing_rvn: str | None) -> Lease | None:
        values: dict[str, Any] = {}
        if replacing_rvn is None:
            condition = "attribute_not_exists(pk)"
        elif replacing_rvn.startswith(LEGACY_RVN):  # a lock written before record versions
            condition = "attribute_not_exists(pk) OR expires_at = :exp"
            values = {"ExpressionAttributeValues": {
                ":exp": {"N": replacing_rvn.removeprefix(LEGACY_RVN)}}}
        else:
            condition = "attribute_not_exists(pk) OR rvn = :rvn"
            values = {"ExpressionAttributeValues": {":rvn": {"S": replacing_rvn}}}
        try:
            self._db.put_item(TableName=self.table, Item=_lock_item(lease),
                              ConditionExpression=condition, **values)
        except self._db.exceptions.ConditionalCheckFailedException:
            current = self.lock_holder(lease.cohort)
            return current if current is not None else self._put_lock(lease, replacing_rvn)
        return None

    def renew(self, lease: Lease, seconds: float | None = None) -> Lease:
        """Prove we are alive: a new record version number; :class:`Blocked` if taken over."""
        renewed = lease.model_copy(update={
            "rvn": uuid.uuid4().hex,
            "expires_at": time.time() + (seconds or lease.lease_seconds)})
        try:
            self._db.update_item(
                TableName=self.table,
                Key={"pk": {"S": cohort_pk(lease.cohort)}, "sk": {"S": LOCK_SK}},
                UpdateExpression="SET rvn = :rvn, expires_at = :exp",
                ConditionExpression="#token = :token",
                ExpressionAttributeNames={"#token": "token"},
                ExpressionAttributeValues={":rvn": {"S": renewed.rvn},
                                           ":exp": {"N": repr(renewed.expires_at)},
                                           ":token": {"S": lease.token}})
        except self._db.exceptions.ConditionalCheckFailedException:
            raise Blocked(f"cohort {lease.cohort}: our lease was taken over; stopping") from None
        return renewed

    def release(self, lease: Lease) -> None:
        """Give the lease back (only if it is still ours)."""
        with contextlib.suppress(self._db.exceptions.ConditionalCheckFailedException):
            self._db.delete_item(
                TableName=self.table,
                Key={"pk": {"S": cohort_pk(lease.cohort)}, "sk": {"S": LOCK_SK}},
                ConditionExpression="#token = :token",
                ExpressionAttributeNames={"#token": "token"},
                ExpressionAttributeValues={":token": {"S": lease.token}})

    def lock_holder(self, cohort: str) -> Lease | None:
        item = self._db.get_item(TableName=self.table, ConsistentRead=True, Key={
            "pk": {"S": cohort_pk(cohort)}, "sk": {"S": LOCK_SK}}).get("Item")
        if not item:
            return None
        expires = float(item["expires_at"]["N"])
        return Lease(cohort=cohort, holder=item["holder"]["S"], token=item["token"]["S"],
                     rvn=item.get("rvn", {}).get("S", LEGACY_RVN + item["expires_at"]["N"]),
                     lease_seconds=float(item.get("lease_seconds", {}).get(
                         "N", DEFAULT_LEASE_SECONDS)),
                     expires_at=expires)


def _lock_item(lease: Lease) -> dict[str, Any]:
    return {"pk": {"S": cohort_pk(lease.cohort)}, "sk": {"S": LOCK_SK},
            "holder": {"S": lease.holder}, "token": {"S": lease.token},
            "rvn": {"S": lease.rvn}, "lease_seconds": {"N": repr(lease.lease_seconds)},
            "expires_at": {"N": repr(lease.expires_at)}}


def heartbeat_interval(lease_seconds: float) -> float:
    """How often a holder renews: often enough that a waiter sees it alive quickly."""
    return max(0.1, min(lease_seconds / 4, 5.0))


class Heartbeat:
    """Renews a held lease in the background, so long preflight work never lets it lapse.

    The executor's own renewals before each weight write go through :meth:`renew` too,
    so the two never race each other; a lost lease is remembered and raised there.
    """

    def __init__(self, ledger: RolloutLedger, lease: Lease) -> None:
        self._ledger = ledger
        self.lease = lease
        self._lost: Blocked | None = None
        self._lock = threading.Lock()
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True,
                                        name=f"heartbeat-{lease.cohort}")

    def __enter__(self) -> Heartbeat:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stopped.set()
        self._thread.join()

    def renew(self) -> Lease:
        with self._lock:
            if self._lost is not None:
                raise self._lost
            try:
                self.lease = self._ledger.renew(self.lease)
            except Blocked as lost:
                self._lost = lost
                raise
            return self.lease

    def _run(self) -> None:
        while not self._stopped.wait(heartbeat_interval(self.lease.lease_seconds)):
            try:
                self.renew()
            except Blocked:
                return
            except Exception:  # a flaky renewal is retried on the next beat
                continue


