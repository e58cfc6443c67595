"""A ledger of its own for a test: a fresh DynamoDB table keyed as the shared stack's.

Tests of the ledger itself need no fleet; a table with the program's key schema
(``pk`` and ``sk``, both strings) is all :class:`~rollout.rollouts.ledger.Ledger` uses.
"""

from __future__ import annotations

import uuid

from rollout.aws_clients import AwsClients
from rollout.rollouts.ledger import Ledger


def fresh_ledger(clients: AwsClients, prefix: str) -> Ledger:
    """A ledger on a new, empty table named ``<prefix>-<random>``."""
    table = f"{prefix}-{uuid.uuid4().hex[:8]}"
    clients.client("dynamodb").create_table(
        TableName=table, BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"},
                              {"AttributeName": "sk", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"},
                   {"AttributeName": "sk", "KeyType": "RANGE"}])
    return Ledger(clients, table)
