"""A hook that POSTs the rollout's facts to a URL: a QA service, a test orchestrator.

The receiver gets ``{app, cohort, release, old_version, old_colour, new_colour, stage,
started_at, hook, test_route}`` as JSON (``test_route`` is ``{header, token}`` or
null) and passes the hook by answering 2xx within the timeout; a redirect (never
followed), any other status, no connection or no answer in time fails it. Where it
may POST is the webhook's allow-list (:mod:`rollout.checked_http`), with internal
hosts named in :data:`ALLOW_HOSTS_ENV`: checked when the hooks are built, so a bad
URL stops the rollout before it writes anything, and again for each call, whose
connection goes to the address just checked. A URL often carries a token, so the
hook shows only its scheme, host and port.
"""

from __future__ import annotations

import hashlib
import http.client
import json
import socket
import threading
import time
from collections.abc import Collection
from contextlib import suppress
from dataclasses import dataclass, field
from typing import Any

from pydantic import SecretStr

from rollout.checked_http import (
    CheckedConnection,
    CheckedTarget,
    Resolver,
    UrlRules,
    check_url,
)
from rollout.discovery import CohortResources
from rollout.errors import BadInput, RolloutError
from rollout.hooks.base import HOOKS, HookFacts, HookOutcome, HookStage, LifecycleHook
from rollout.hooks.settings import HookSettings
from rollout.host_allow_list import hosts_named_in
from rollout.vocabulary.durations import format_duration

KIND = "http"
DEFAULT_TIMEOUT = 30.0
ALLOW_HOSTS_ENV = "ROLLOUT_HOOK_ALLOW_HOSTS"
"""Comma-separated host names (or IP addresses) a hook may call at internal addresses."""
RULES = UrlRules(subject="hook", goes="hook calls go", allow_hosts_env=ALLOW_HOSTS_ENV)


def request_body(hook: str, facts: HookFacts) -> bytes:
    """The JSON a receiver gets: the public facts, the hook's name and the test route."""
    route = facts.test_route
    body: dict[str, Any] = {**facts.public(), "hook": hook, "test_route": None if route is None
                            else {"header": route.header, "token": route.token}}
    return json.dumps(body).encode()


def idempotency_key(hook: str, facts: HookFacts) -> str:
    """The same for every call of one hook in one rollout: a resumed rollout that calls a
    hook again lets the receiver tell it from a new rollout."""
    parts = (facts.app, facts.cohort, facts.release, facts.started_at.isoformat(),
             facts.stage, hook)
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()[:32]


@dataclass
class _Exchange:
    """One POST, made in a worker thread so a receiver that trickles or never answers
    cannot hold the rollout past the timeout (a socket's timeout is per read)."""

    done: threading.Event = field(default_factory=threading.Event)
    connection: CheckedConnection | None = None
    status: int | None = None
    problem: str | None = None

    def abandon(self) -> None:
        """Unblock the worker; what it finds out after the timeout is not used."""
        sock = self.connection.sock if self.connection is not None else None
        if sock is not None:
            with suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)


class HttpCallback:
    """POSTs the rollout's facts at its stage; a 2xx within the timeout passes."""

    def __init__(self, name: str, stage: HookStage, url: SecretStr, timeout: float, *,
                 allow_hosts: Collection[str], resolve: Resolver) -> None:
        """Checks ``url`` now: :class:`BadInput` (naming only scheme and host) if refused."""
        self.name = name
        self.stage: HookStage = stage
        self._url = url
        self._timeout = timeout
        self._allow_hosts = frozenset(allow_hosts)
        self._resolve = resolve
        try:
            self.shown = self._checked_url().origin_and_port
        except RolloutError as exc:
            raise BadInput(str(exc)) from None

    def __repr__(self) -> str:
        return f"HttpCallback({self.describe()!r})"

    def _checked_url(self) -> CheckedTarget:
        return check_url(self._url.get_secret_value(), RULES, self._allow_hosts, self._resolve)

    def describe(self) -> str:
        return (f"{self.stage} hook {self.name}: POST the rollout's facts to {self.shown} "
                f"(2xx within {format_duration(self._timeout)})")

    def run(self, facts: HookFacts) -> HookOutcome:
        started = time.monotonic()
        exchange = _Exchange()
        threading.Thread(target=self._post, args=(exchange, facts), daemon=True,
                         name=f"hook {self.name}").start()
        if not exchange.done.wait(self._timeout):
            exchange.abandon()
            return self._outcome(False, f"no answer within {format_duration(self._timeout)}",
                                 started)
        status = exchange.status
        if status is None:
            return self._outcome(False, exchange.problem or "no answer", started)
        if 200 <= status < 300:
            return self._outcome(True, f"answered {status}", started)
        if 300 <= status < 400:
            return self._outcome(False, f"answered {status}, a redirect, which is not "
                                        "followed; point the hook at the final address", started)
        return self._outcome(False, f"answered {status}; a hook passes on 2xx only", started)

    def _outcome(self, passed: bool, what: str, started: float) -> HookOutcome:
        seconds = time.monotonic() - started
        return HookOutcome(hook=self.name, stage=self.stage, passed=passed, seconds=seconds,
                           summary=f"POST to {self.shown}: {what} ({seconds:.1f} s)")

    def _post(self, exchange: _Exchange, facts: HookFacts) -> None:
        """The worker: check the URL again, POST, and keep the status or what went wrong."""
        try:
            target = self._checked_url()
            exchange.connection = CheckedConnection(target, self._timeout)
            exchange.connection.request("POST", target.target, body=request_body(self.name, facts),
                                        headers={"Content-Type": "application/json",
                                                 "Idempotency-Key": idempotency_key(self.name,
                                                                                    facts),
                                                 "User-Agent": "tenant-rollout-hook"})
            exchange.status = exchange.connection.getresponse().status
        except RolloutError as exc:
            exchange.problem = str(exc)
        except TimeoutError:  # the socket's own timeout, at the same moment as the deadline
            exchange.problem = f"no answer within {format_duration(self._timeout)}"
        except (OSError, http.client.HTTPException) as exc:
            reason = getattr(exc, "strerror", None) or type(exc).__name__
            exchange.problem = f"cannot connect or read the answer ({reason})"
        except Exception as exc:  # a worker's surprise must still end as an outcome
            exchange.problem = f"failed ({type(exc).__name__})"
        finally:
            if exchange.connection is not None:
                exchange.connection.close()
            exchange.done.set()


@HOOKS.register(KIND)
def http_hook(settings: HookSettings, name: str, stage: HookStage,
              cohort: CohortResources) -> LifecycleHook:
    """The hook a ``url:`` entry describes, its URL checked against :data:`ALLOW_HOSTS_ENV`."""
    if settings.url is None:
        raise BadInput("an http hook needs a url")
    return HttpCallback(name, stage, settings.url, settings.timeout or DEFAULT_TIMEOUT,
                        allow_hosts=hosts_named_in(ALLOW_HOSTS_ENV),
                        resolve=socket.getaddrinfo)
