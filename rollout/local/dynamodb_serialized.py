"""One DynamoDB request at a time in the embedded moto server.

moto's ``TransactWriteItems`` deep-copies every table it touches (to undo a failed
transaction) while the server's other threads keep writing to them, and the copy
fails with "dictionary changed size during iteration". Several Step Functions
executions writing one ledger table at once (a fleet started together, a fleet-wide
halt) do exactly that. DynamoDB itself serialises writes to an item; here every item
operation of moto's backend takes one lock, which costs a rehearsal nothing it can
measure (each holds it for microseconds).
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from typing import Any

INSTALLED = "_rollout_serialised"
ITEM_OPERATIONS = ("put_item", "get_item", "update_item", "delete_item", "query", "scan",
                   "transact_write_items", "execute_statement", "execute_transaction")
"""The backend methods that read or write items, and so may meet a transaction's copy."""

_LOCK = threading.RLock()


def _serialised(method: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(method)
    def under_lock(*args: Any, **kwargs: Any) -> Any:
        with _LOCK:
            return method(*args, **kwargs)
    return under_lock


def install() -> None:
    """Make moto's DynamoDB backend take one lock per item operation; idempotent."""
    from moto.dynamodb.models import DynamoDBBackend

    if getattr(DynamoDBBackend, INSTALLED, False):
        return
    for name in ITEM_OPERATIONS:
        setattr(DynamoDBBackend, name, _serialised(getattr(DynamoDBBackend, name)))
    setattr(DynamoDBBackend, INSTALLED, True)
