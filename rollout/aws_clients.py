"""boto3 clients configured the same way everywhere: standard AWS settings, botocore retries.

Region, profile and endpoint come from the standard environment (``AWS_REGION``,
``AWS_PROFILE``, ``AWS_ENDPOINT_URL``); throttling and transient errors are retried
by botocore's own ``standard`` or ``adaptive`` retry mode, never by a loop of ours.

A cohort's resources live in its stack's region, which need not be the
environment's: :meth:`AwsClients.for_region` gives clients for another region
that share the session (and so the credentials) and the retry policy.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from typing import Any, Literal, cast

import boto3
from botocore.config import Config

DEFAULT_REGION = "eu-west-1"
REGION_VARIABLES = ("AWS_REGION", "AWS_DEFAULT_REGION")
RetryMode = Literal["standard", "adaptive"]
ClientCheck = Callable[[str, str, Any], None]
"""Called with (service, region, client) for every new client, before anything can use it."""


def region() -> str:
    """The region from the standard environment, or the toolkit's default."""
    return next((os.environ[name] for name in REGION_VARIABLES if os.environ.get(name)),
                DEFAULT_REGION)


def environment_region() -> tuple[str, str] | None:
    """The variable naming the environment's region and its value, when one does."""
    return next(((name, os.environ[name]) for name in REGION_VARIABLES if os.environ.get(name)),
                None)


_loader_lock = threading.Lock()
_loader: Any = None


def new_session(**settings: Any) -> boto3.session.Session:
    """A boto3 session (``settings`` as for its constructor) sharing loaded service models.

    Every session would otherwise parse each service's model anew (EC2's alone
    takes a few hundred milliseconds); the models are read-only data.
    """
    global _loader
    session = boto3.session.Session(**settings)
    core = cast(Any, session)._session
    with _loader_lock:
        if _loader is None:
            _loader = core.get_component("data_loader")
        else:
            core.register_component("data_loader", _loader)
    return session


class _Pool:
    """What all regions of one :class:`AwsClients` share: session, config, clients, lock."""

    def __init__(self, session: boto3.session.Session, config: Config,
                 check: ClientCheck | None) -> None:
        self.session = session
        self.config = config
        self.check = check
        self.clients: dict[tuple[str, str], Any] = {}
        self.views: dict[str, AwsClients] = {}
        self.lock = threading.Lock()


class AwsClients:
    """A small cache of boto3 clients sharing one session and one retry policy.

    ``session`` and ``config`` replace the environment's session and add to the
    retry settings; ``check`` sees every client before it is handed out (the
    local deployer's endpoint guard).
    """

    def __init__(self, *, retry_mode: RetryMode = "standard", max_attempts: int = 8,
                 max_pool_connections: int = 32, session: boto3.session.Session | None = None,
                 config: Config | None = None, check: ClientCheck | None = None) -> None:
        settings = Config(retries={"mode": retry_mode, "max_attempts": max_attempts},
                          max_pool_connections=max_pool_connections)
        session = session or new_session(region_name=region())
        self._pool = _Pool(session, settings.merge(config) if config else settings, check)
        self._region = session.region_name or DEFAULT_REGION
        self._pool.views[self._region] = self

    @property
    def region(self) -> str:
        return self._region

    def for_region(self, region_name: str | None) -> AwsClients:
        """These clients in ``region_name`` (these very ones when None or the same region)."""
        if not region_name or region_name == self._region:
            return self
        with self._pool.lock:
            view = self._pool.views.get(region_name)
            if view is None:
                view = object.__new__(AwsClients)
                view._pool, view._region = self._pool, region_name
                self._pool.views[region_name] = view
            return view

    def client(self, service: str) -> Any:
        """A client for ``service``; created once, shared by threads (clients are thread-safe)."""
        key = (self._region, service)
        with self._pool.lock:
            if key not in self._pool.clients:
                session = cast(Any, self._pool.session)
                made = session.client(service, region_name=self._region,
                                      config=self._pool.config)
                if self._pool.check is not None:
                    self._pool.check(service, self._region, made)
                self._pool.clients[key] = made
            return self._pool.clients[key]
