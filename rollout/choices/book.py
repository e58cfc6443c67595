"""Choices in the ledger: ``NOTICE#<release>`` / ``CHOICE#<tenant>``, one per tenant and release.

They sit in the release's notice partition (see :mod:`rollout.vocabulary.ledger_keys`):
whoever may send a release's notices may read and confirm its choices, and a cohort's
role, which reads the notices to check notice periods, reads the choices for its pins.

A choice is written in one DynamoDB transaction with the nonce of the link it was made
with (``LINK#<nonce>``, only if new): a link makes one choice, a replay is refused and
writes nothing. A later link of the same tenant replaces the choice: the customer
changed their mind.
"""

from __future__ import annotations

import time
from typing import Any

from pydantic import BaseModel

from rollout.aws_clients import AwsClients
from rollout.choices.model import TenantChoice
from rollout.choices.portal_api import TokenRefused
from rollout.vocabulary.clock import utc_now
from rollout.vocabulary.ledger_keys import CHOICE_PREFIX, choice_sk, link_used_sk, notice_pk

ATTEMPTS = 4
USED = "this link has been used already: your choice is recorded (see your confirmation)"


class LinkUse(BaseModel):
    """The record that a link was used, and for whose choice."""

    tenant: str
    release: str
    at: str


class ChoiceBook:
    """The choices of one release, in the ledger table ``table``."""

    def __init__(self, clients: AwsClients, table: str, release: str) -> None:
        self._db = clients.client("dynamodb")
        self.table = table
        self.release = release

    def _key(self, sk: str) -> dict[str, Any]:
        return {"pk": {"S": notice_pk(self.release)}, "sk": {"S": sk}}

    def choices(self) -> list[TenantChoice]:
        """Every tenant's choice about this release, in tenant order."""
        pages = self._db.get_paginator("query").paginate(
            TableName=self.table, ConsistentRead=True,
            KeyConditionExpression="pk = :pk AND begins_with(sk, :prefix)",
            ExpressionAttributeValues={":pk": {"S": notice_pk(self.release)},
                                       ":prefix": {"S": CHOICE_PREFIX}})
        return [TenantChoice.model_validate_json(item["doc"]["S"])
                for page in pages for item in page.get("Items", []) if "doc" in item]

    def choice(self, tenant: str) -> TenantChoice | None:
        item = self._db.get_item(TableName=self.table, ConsistentRead=True,
                                 Key=self._key(choice_sk(tenant))).get("Item")
        return TenantChoice.model_validate_json(item["doc"]["S"]) if item else None

    def used(self, nonce: str) -> bool:
        """Whether the link named ``nonce`` has made its choice."""
        return "Item" in self._db.get_item(TableName=self.table, ConsistentRead=True,
                                           Key=self._key(link_used_sk(nonce)))

    def record(self, choice: TenantChoice) -> None:
        """Store ``choice`` and spend its link, both or neither; :class:`TokenRefused`
        when the link was spent already (nothing is written then)."""
        use = LinkUse(tenant=choice.tenant, release=choice.release, at=utc_now().isoformat())
        items = [
            {"Put": {"TableName": self.table,
                     "Item": {**self._key(link_used_sk(choice.nonce)),
                              "doc": {"S": use.model_dump_json()}},
                     "ConditionExpression": "attribute_not_exists(pk)"}},
            {"Put": {"TableName": self.table,
                     "Item": {**self._key(choice_sk(choice.tenant)),
                              "doc": {"S": choice.model_dump_json()}}}},
        ]
        for attempt in range(1, ATTEMPTS + 1):
            try:
                self._db.transact_write_items(TransactItems=items)
                return
            except self._db.exceptions.TransactionCanceledException as refused:
                reasons = refused.response.get("CancellationReasons", [])
                if reasons and reasons[0].get("Code") == "ConditionalCheckFailed":
                    if self.choice(choice.tenant) == choice:
                        return  # our first attempt landed and botocore sent it again
                    raise TokenRefused(USED) from None
                if attempt == ATTEMPTS:
                    raise
                time.sleep(0.05 * attempt)  # another write on one of its items, just now
