"""Concurrent ledger writes on the embedded moto server wait for each other.

Several executions writing one ledger table at once made moto's
``TransactWriteItems`` fail ("dictionary changed size during iteration": the copy it
takes of the table, to undo a failed transaction, met another thread's write) until
the embedded server served one item operation at a time
(:mod:`rollout.local.dynamodb_serialized`). The test holds a transaction inside that
copy and shows another client's write waits until the transaction is over.
"""

from __future__ import annotations

import copy
import threading
from concurrent.futures import ThreadPoolExecutor
from types import SimpleNamespace
from typing import Any

import pytest

from rollout.aws_clients import AwsClients

pytestmark = pytest.mark.integration

HOLD = 1.0
"""How long the transaction stays inside its copy of the table, in seconds."""


def test_a_write_waits_while_a_transaction_copies_the_table(
        aws: AwsClients, monkeypatch: pytest.MonkeyPatch) -> None:
    import moto.dynamodb.models as dynamodb_models

    dynamodb = aws.client("dynamodb")
    table = "serialised-ledger"
    dynamodb.create_table(
        TableName=table, BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}])
    copying, written = threading.Event(), threading.Event()
    written_during_copy: list[bool] = []

    def held_copy(copied: Any, memo: Any = None) -> Any:
        if getattr(copied, "name", None) == table:  # not another test's leftover execution
            copying.set()
            written_during_copy.append(written.wait(timeout=HOLD))
        return copy.deepcopy(copied, memo)

    monkeypatch.setattr(dynamodb_models, "copy", SimpleNamespace(deepcopy=held_copy))

    def transaction() -> None:
        AwsClients().client("dynamodb").transact_write_items(TransactItems=[
            {"Put": {"TableName": table, "Item": {"pk": {"S": "transaction"}}}}])

    def write_during_it() -> None:
        assert copying.wait(timeout=10)
        AwsClients().client("dynamodb").put_item(TableName=table, Item={"pk": {"S": "put"}})
        written.set()

    with ThreadPoolExecutor(max_workers=2) as pool:
        for future in [pool.submit(transaction), pool.submit(write_during_it)]:
            future.result(timeout=30)

    assert written_during_copy == [False]
    stored = {item["pk"]["S"] for item in dynamodb.scan(TableName=table)["Items"]}
    assert stored == {"transaction", "put"}
