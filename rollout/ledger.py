"""The rollout ledger in DynamoDB: state per cohort, append-only events, lease locks.

Items are ``pk``/``sk`` pairs; documents are pydantic models stored as JSON in
``doc``. Layout:

============================  =====================  ===============================
pk                            sk                     what
============================  =====================  ===============================
``COHORT#<cohort>``           ``STATE``              :class:`rollout.model.state.RolloutState`
``COHORT#<cohort>``           ``LOCK``               the lease lock (holder, expiry)
``COHORT#<cohort>``           ``EVENT#<seq>``        one :class:`Event`, seq from 1, no gaps
anything else                 anything               records other pieces own (notices, snapshots)
============================  =====================  ===============================

Every write that could race is a conditional write, so two CI jobs can never
both believe they hold a cohort.
"""

from __future__ import annotations

import contextlib
import getpass
import os
import socket
import time
import uuid
from datetime import UTC, datetime
from typing import Any, TypeVar

from pydantic import BaseModel, Field

from rollout.aws_clients import AwsClients
from rollout.errors import Blocked

M = TypeVar("M", bound=BaseModel)

DEFAULT_LEASE_SECONDS = 60


def now_utc() -> datetime:
    return datetime.now(UTC)


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
    """One entry of a cohort's append-only history: who did what, when and why."""

    seq: int = 0
    at: datetime = Field(default_factory=now_utc)
    actor: str = Field(default_factory=default_actor)
    kind: str
    message: str
    data: dict[str, Any] = Field(default_factory=dict)


class Lease(BaseModel):
    """A held lock on one cohort."""

    cohort: str
    holder: str
    token: str
    expires_at: float


def cohort_pk(cohort: str) -> str:
    return f"COHORT#{cohort}"


class Ledger:
    """Reads and writes the ledger table."""

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
        item = self._db.get_item(TableName=self.table, ConsistentRead=True,
                                 Key={"pk": {"S": pk}, "sk": {"S": sk}}).get("Item")
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
    def events(self, cohort: str) -> list[Event]:
        return self.query(cohort_pk(cohort), "EVENT#", Event)

    def last_event(self, cohort: str) -> Event | None:
        found = self._db.query(
            TableName=self.table, ConsistentRead=True, ScanIndexForward=False, Limit=1,
            KeyConditionExpression="pk = :pk AND begins_with(sk, :prefix)",
            ExpressionAttributeValues={":pk": {"S": cohort_pk(cohort)},
                                       ":prefix": {"S": "EVENT#"}}).get("Items", [])
        return Event.model_validate_json(found[0]["doc"]["S"]) if found else None

    def append_event(self, cohort: str, event: Event) -> Event:
        """Append ``event`` with the next sequence number; a racing writer gets Blocked.

        When the condition fails because our own first attempt landed (its response was
        lost and botocore sent it again), the item holds exactly our event: that is success.
        """
        last = self.last_event(cohort)
        numbered = event.model_copy(update={"seq": (last.seq if last else 0) + 1})
        sk = f"EVENT#{numbered.seq:09d}"
        if self.put(cohort_pk(cohort), sk, numbered, only_if_new=True):
            return numbered
        found = self.get(cohort_pk(cohort), sk, Event)
        if found is None or found.model_dump_json() != numbered.model_dump_json():
            raise Blocked(f"cohort {cohort}: another process wrote event {numbered.seq} first")
        return numbered

    # lease locks -------------------------------------------------------
    def acquire(self, cohort: str, holder: str,
                seconds: float = DEFAULT_LEASE_SECONDS) -> Lease:
        """Take the cohort's lease, or raise :class:`Blocked` naming who holds it.

        An expired lease (its holder crashed) is taken over.
        """
        now = time.time()
        lease = Lease(cohort=cohort, holder=holder, token=uuid.uuid4().hex,
                      expires_at=now + seconds)
        try:
            self._db.put_item(
                TableName=self.table,
                Item={"pk": {"S": cohort_pk(cohort)}, "sk": {"S": "LOCK"},
                      "holder": {"S": holder}, "token": {"S": lease.token},
                      "expires_at": {"N": repr(lease.expires_at)}},
                ConditionExpression="attribute_not_exists(pk) OR expires_at < :now",
                ExpressionAttributeValues={":now": {"N": repr(now)}})
        except self._db.exceptions.ConditionalCheckFailedException:
            current = self.lock_holder(cohort)
            if current is not None and current.token == lease.token:
                return lease  # our first attempt landed; botocore's retry found it there
            who = current.holder if current else "another process"
            until = (datetime.fromtimestamp(current.expires_at, UTC).strftime("%H:%M:%S UTC")
                     if current else "soon")
            raise Blocked(f"cohort {cohort} is locked by {who} (lease until {until}); "
                          "wait for it to finish, or for the lease to expire") from None
        return lease

    def renew(self, lease: Lease, seconds: float = DEFAULT_LEASE_SECONDS) -> Lease:
        """Extend a lease we hold; :class:`Blocked` if it was taken over meanwhile."""
        expires = time.time() + seconds
        try:
            self._db.update_item(
                TableName=self.table,
                Key={"pk": {"S": cohort_pk(lease.cohort)}, "sk": {"S": "LOCK"}},
                UpdateExpression="SET expires_at = :exp",
                ConditionExpression="#token = :token",
                ExpressionAttributeNames={"#token": "token"},
                ExpressionAttributeValues={":exp": {"N": repr(expires)},
                                           ":token": {"S": lease.token}})
        except self._db.exceptions.ConditionalCheckFailedException:
            raise Blocked(f"cohort {lease.cohort}: our lease was taken over; stopping") from None
        return lease.model_copy(update={"expires_at": expires})

    def release(self, lease: Lease) -> None:
        """Give the lease back (only if it is still ours)."""
        with contextlib.suppress(self._db.exceptions.ConditionalCheckFailedException):
            self._db.delete_item(
                TableName=self.table,
                Key={"pk": {"S": cohort_pk(lease.cohort)}, "sk": {"S": "LOCK"}},
                ConditionExpression="#token = :token",
                ExpressionAttributeNames={"#token": "token"},
                ExpressionAttributeValues={":token": {"S": lease.token}})

    def lock_holder(self, cohort: str) -> Lease | None:
        item = self._db.get_item(TableName=self.table, ConsistentRead=True, Key={
            "pk": {"S": cohort_pk(cohort)}, "sk": {"S": "LOCK"}}).get("Item")
        if not item:
            return None
        return Lease(cohort=cohort, holder=item["holder"]["S"], token=item["token"]["S"],
                     expires_at=float(item["expires_at"]["N"]))
