"""Reach every boto3 client the toolkit makes, without touching product code.

All AWS access in ``rollout`` goes through :meth:`rollout.aws_clients.AwsClients.client`,
so wrapping that one method hands each new client to a callback, which registers
botocore event handlers on it. Clients a test makes itself with plain ``boto3``
are left alone: faults and counters apply to the tool under test only.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from rollout.aws_clients import AwsClients

ClientHook = Callable[[Any], None]

_hooks: list[ClientHook] = []
_original_client = AwsClients.client


def _client_with_hooks(self: AwsClients, service: str) -> Any:
    made = _original_client(self, service)
    for hook in list(_hooks):
        hook(made)
    return made


def add_client_hook(hook: ClientHook) -> None:
    """Call ``hook`` on every client handed out from now on (handlers need a ``unique_id``)."""
    _hooks.append(hook)
    AwsClients.client = _client_with_hooks  # type: ignore[method-assign]


def remove_client_hook(hook: ClientHook) -> None:
    _hooks.remove(hook)
    if not _hooks:
        AwsClients.client = _original_client  # type: ignore[method-assign]


@contextmanager
def client_hook(hook: ClientHook) -> Iterator[None]:
    """:func:`add_client_hook` for the duration of a block."""
    add_client_hook(hook)
    try:
        yield
    finally:
        remove_client_hook(hook)


READ_PREFIXES = ("Get", "Describe", "List", "Query", "Scan", "BatchGet", "Head", "Select",
                 "Search", "Lookup", "Filter", "Receive")


def is_write(operation: str) -> bool:
    """Whether an API operation can change anything in AWS (everything that is not a read)."""
    return not operation.startswith(READ_PREFIXES)


class WriteCounter:
    """Counts the AWS write calls the toolkit makes, as ``service:Operation``."""

    def __init__(self) -> None:
        self.calls: list[str] = []
        self._active = False

    def attach(self, client: Any) -> None:
        client.meta.events.register("before-call.*.*", self._seen,
                                    unique_id="tests-faults-write-counter")

    def _seen(self, model: Any, **_: Any) -> None:
        if self._active and is_write(model.name):
            self.calls.append(f"{model.service_model.service_name}:{model.name}")

    @contextmanager
    def counting(self) -> Iterator[list[str]]:
        """Collect the writes made inside a block; yields the list being filled."""
        self.calls = []
        self._active = True
        try:
            with client_hook(self.attach):
                yield self.calls
        finally:
            self._active = False
