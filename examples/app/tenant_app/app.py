"""The ASGI app: which tenant is asking, and what that tenant customised on this colour.

The tenant is the ``X-Tenant-Id`` header when there is one (the load balancer's pin
rules match the same header; a public deployment must set or strip it at its edge),
else the Host: looked up in ``ROLLOUT_TENANT_HOSTS``, else the host's first label. Its
settings are read on every request from this colour's own namespace
(``ROLLOUT_CONFIG_PATH``), so an edit shows at once and the other colour's settings are
never seen. A SecureString is listed by name only: its value is never read decrypted
and never returned. A tenant this colour holds no settings for is unknown here (404).
"""

from __future__ import annotations

import asyncio
import math
import os
import threading
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import boto3
from botocore.exceptions import BotoCoreError, ClientError
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from tenant_app.settings import TENANT_ID, AppSettings, Defect, load_settings

if TYPE_CHECKING:
    from mypy_boto3_ssm import SSMClient

TENANT_HEADER = "x-tenant-id"
SECRET = "(secret)"
SETTINGS_TTL = 1.0
"""Seconds a tenant's settings are kept before SSM is read again."""


def host_name(header: str) -> str:
    """The Host header without its port, lower case, no trailing dot."""
    host = header.strip().lower()
    if host.startswith("["):
        return host.partition("]")[0] + "]"
    return host.rpartition(":")[0].rstrip(".") if ":" in host else host.rstrip(".")


def tenant_of(headers: Mapping[str, str], hosts: Mapping[str, str]) -> str | None:
    """The tenant a request names, or None when what it names cannot be a tenant id."""
    named = headers.get(TENANT_HEADER, "").strip()
    if not named:
        host = host_name(headers.get("host", ""))
        named = hosts.get(host) or host.partition(".")[0]
    return named if TENANT_ID.fullmatch(named) else None


def shown(parameter: Mapping[str, Any]) -> object:
    """What a parameter's value looks like in an answer: a secret never shows its value."""
    if parameter["Type"] == "SecureString":
        return SECRET
    value = str(parameter["Value"])
    return value.split(",") if parameter["Type"] == "StringList" else value


class TenantSettings:
    """One colour's tenant settings in SSM: ``<config path>/<tenant>/<key>``.

    Each tenant's settings are kept for :data:`SETTINGS_TTL` seconds, as the AWS
    Parameters and Secrets Lambda Extension keeps them: a busy tenant costs one SSM read
    a second, not one per request, and an edit shows within that second.
    """

    def __init__(self, ssm: SSMClient, config_path: str, ttl: float = SETTINGS_TTL) -> None:
        self._ssm = ssm
        self._config_path = config_path
        self._ttl = ttl
        self._kept: dict[str, tuple[float, dict[str, object]]] = {}

    def read(self, tenant: str) -> dict[str, object]:
        """The tenant's settings by key, sorted; empty when this colour holds none for it."""
        kept = self._kept.get(tenant)
        if kept is not None and time.monotonic() - kept[0] < self._ttl:
            return kept[1]
        found = self._read(tenant)
        self._kept[tenant] = (time.monotonic(), found)
        return found

    def _read(self, tenant: str) -> dict[str, object]:
        prefix = f"{self._config_path}/{tenant}/"
        found: dict[str, object] = {}
        pages = self._ssm.get_paginator("get_parameters_by_path").paginate(
            Path=prefix, Recursive=True, WithDecryption=False)
        for page in pages:
            for parameter in page.get("Parameters", []):
                if parameter["Name"].startswith(prefix):
                    found[parameter["Name"][len(prefix):]] = shown(parameter)
        return dict(sorted(found.items()))


class InjectedErrors:
    """Fails exactly ``share`` of the calls, spread evenly (1 in 20 for 0.05), not at random,
    so a rehearsal's error rate is the one asked for, on any number of requests."""

    def __init__(self, defect: Defect) -> None:
        self._share = defect.error_share
        self._calls = 0
        self._lock = threading.Lock()

    def next_fails(self) -> bool:
        with self._lock:
            before = math.floor(self._calls * self._share)
            self._calls += 1
            return math.floor(self._calls * self._share) > before


class SlowRoutes:
    """ASGI middleware: the defect's slow routes wait before they are served."""

    def __init__(self, app: ASGIApp, delays: Mapping[str, float]) -> None:
        self.app = app
        self.delays = delays

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        delay = self.delays.get(scope["path"]) if scope["type"] == "http" else None
        if delay:
            await asyncio.sleep(delay)
        await self.app(scope, receive, send)


async def health(request: Request) -> JSONResponse:
    return JSONResponse({"status": "ok"})


async def home(request: Request) -> JSONResponse:
    state = request.app.state
    settings: AppSettings = state.settings
    if state.errors.next_fails():
        return JSONResponse({"error": "injected defect", "defect": "errors"}, status_code=500)
    tenant = tenant_of(request.headers, settings.hosts)
    if tenant is None:
        return JSONResponse({"error": "unknown tenant", "tenant": None}, status_code=404)
    try:
        values = await run_in_threadpool(state.tenant_settings.read, tenant)
    except (BotoCoreError, ClientError) as exc:
        reason = (exc.response.get("Error", {}).get("Code") if isinstance(exc, ClientError)
                  else type(exc).__name__)
        return JSONResponse({"error": "settings unavailable", "reason": reason},
                            status_code=503)
    if not values:
        return JSONResponse({"error": "unknown tenant", "tenant": tenant}, status_code=404)
    return JSONResponse({"tenant": tenant, "version": settings.version,
                         "colour": settings.colour, "settings": values})


def create_app(settings: AppSettings | None = None, ssm: SSMClient | None = None) -> Starlette:
    """The app; its settings from the environment unless given (a bad one raises here)."""
    settings = settings or load_settings(os.environ)
    app = Starlette(routes=[Route("/health", health), Route("/", home)],
                    middleware=[Middleware(SlowRoutes, delays=settings.defect.slow_routes)])
    app.state.settings = settings
    app.state.errors = InjectedErrors(settings.defect)
    app.state.tenant_settings = TenantSettings(ssm or boto3.client("ssm"), settings.config_path)
    return app
