"""boto3 clients configured the same way everywhere: standard AWS settings, botocore retries.

Region, profile and endpoint come from the standard environment (``AWS_REGION``,
``AWS_PROFILE``, ``AWS_ENDPOINT_URL``); throttling and transient errors are retried
by botocore's own ``standard`` or ``adaptive`` retry mode, never by a loop of ours.
"""

from __future__ import annotations

import os
import threading
from typing import Any, Literal, cast

import boto3
from botocore.config import Config

DEFAULT_REGION = "eu-west-1"
RetryMode = Literal["standard", "adaptive"]


def region() -> str:
    """The region from the standard environment, or the toolkit's default."""
    return os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or DEFAULT_REGION


class AwsClients:
    """A small cache of boto3 clients sharing one session and one retry policy."""

    def __init__(self, *, retry_mode: RetryMode = "standard", max_attempts: int = 8,
                 max_pool_connections: int = 32) -> None:
        self._session = boto3.session.Session(region_name=region())
        self._config = Config(
            retries={"mode": retry_mode, "max_attempts": max_attempts},
            max_pool_connections=max_pool_connections,
        )
        self._clients: dict[str, Any] = {}
        self._lock = threading.Lock()

    @property
    def region(self) -> str:
        return self._session.region_name or DEFAULT_REGION

    def client(self, service: str) -> Any:
        """A client for ``service``; created once, shared by threads (clients are thread-safe)."""
        with self._lock:
            if service not in self._clients:
                session = cast(Any, self._session)
                self._clients[service] = session.client(service, config=self._config)
            return self._clients[service]
