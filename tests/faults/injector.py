"""Make chosen AWS calls fail the way AWS and networks really fail, through botocore events.

A :class:`FaultRule` names an operation, which call of it to hit (the Nth in this
process, counted per API call, not per retry attempt), how it fails and for how
many attempts of that call. The injector registers two handlers on every client
the toolkit makes (see :mod:`tests.faults.client_hooks`):

* ``before-call`` counts calls and arms the rule for the thread making the call
  (botocore runs a call and all its retries on one thread);
* ``before-send`` replaces an armed attempt's HTTP exchange with the fault.

The faults, and what AWS did with the request in each case:

=====================  ================================================  =============
kind                   what the client sees                              applied?
=====================  ================================================  =============
``throttling``         HTTP 400 ``ThrottlingException``/``Throttling``   no
``http-500``           HTTP 500 ``InternalFailure``                      no
``read-timeout``       ``ReadTimeoutError`` after the request was sent   **yes**
``connection-reset``   ``ConnectionClosedError`` before it was sent      no
=====================  ================================================  =============

``read-timeout`` is the nasty one: the write happened, the client does not know,
and botocore's retry sends it again. Everything goes through botocore's real
retry handler, so a fault on fewer attempts than the retry mode allows (8) is
absorbed, and a :data:`PERSISTENT` one reaches the toolkit's error handling.
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from botocore.awsrequest import AWSResponse
from botocore.exceptions import ConnectionClosedError, ReadTimeoutError
from botocore.httpsession import URLLib3Session
from botocore.retries import standard

from tests.faults.client_hooks import add_client_hook, remove_client_hook

PERSISTENT = 100
"""More attempts than any retry mode makes: the call fails for good."""


class FaultKind(StrEnum):
    THROTTLING = "throttling"
    HTTP_500 = "http-500"
    READ_TIMEOUT = "read-timeout"
    CONNECTION_RESET = "connection-reset"


@dataclass(frozen=True)
class FaultRule:
    """Fail attempts of the ``nth`` call of ``service``'s ``operation`` (boto3 names)."""

    service: str
    operation: str
    nth: int
    kind: FaultKind
    attempts: int = 1

    @property
    def spec(self) -> str:
        return f"{self.service}.{self.operation}#{self.nth}:{self.kind.value}*{self.attempts}"

    @classmethod
    def parse(cls, text: str) -> FaultRule:
        """``elbv2.ModifyListener#2:throttling*3`` (``*N`` optional, default 1)."""
        target, _, failure = text.strip().partition(":")
        call, _, nth = target.partition("#")
        service, _, operation = call.partition(".")
        kind, _, attempts = failure.partition("*")
        if not (service and operation and nth.isdigit() and kind):
            raise ValueError(f"fault {text!r} is not like elbv2.ModifyListener#2:throttling*3")
        return cls(service, operation, int(nth), FaultKind(kind),
                   int(attempts) if attempts else 1)


def parse_rules(text: str) -> list[FaultRule]:
    """Rules separated by commas."""
    return [FaultRule.parse(part) for part in text.split(",") if part.strip()]


@dataclass(frozen=True)
class Fired:
    """One attempt the injector failed."""

    rule: str
    attempt: int
    at: float


class _Armed(threading.local):
    """The rule armed for the call the current thread is making, if any."""

    rule: FaultRule | None = None
    left: int = 0
    attempt: int = 0
    protocol: str = "json"


def _error_body(protocol: str, code: str, message: str) -> tuple[dict[str, str], bytes]:
    """Headers and body of an AWS error response in ``protocol``'s wire format."""
    if protocol in ("json", "rest-json"):
        return ({"Content-Type": "application/x-amz-json-1.1", "x-amzn-ErrorType": code,
                 "x-amzn-query-error": f"{code};Sender"},
                json.dumps({"__type": code, "message": message}).encode())
    if protocol == "rest-xml":
        return ({"Content-Type": "application/xml"},
                f"<Error><Code>{code}</Code><Message>{message}</Message></Error>".encode())
    return ({"Content-Type": "text/xml"},
            (f"<ErrorResponse><Error><Type>Sender</Type><Code>{code}</Code>"
             f"<Message>{message}</Message></Error><RequestId>injected</RequestId>"
             "</ErrorResponse>").encode())


class _Body:
    """The ``raw`` of an :class:`AWSResponse`: a body read in one piece."""

    def __init__(self, data: bytes) -> None:
        self._data = data

    def stream(self, **_: Any) -> Iterator[bytes]:
        yield self._data


def _response(url: str, status: int, protocol: str, code: str) -> AWSResponse:
    headers, body = _error_body(protocol, code, f"{code} (injected by tests.faults)")
    all_headers: Any = {**headers, "x-amzn-RequestId": "injected"}
    return AWSResponse(url, status, all_headers, _Body(body))


THROTTLING_CODES = {"query": "Throttling", "rest-xml": "SlowDown"}


@dataclass
class FaultInjector:
    """Applies :class:`FaultRule` s to every client the toolkit makes while installed."""

    rules: list[FaultRule]
    fired: list[Fired] = field(default_factory=list)
    calls: Counter[str] = field(default_factory=Counter)
    log_path: str | None = None

    def __post_init__(self) -> None:
        self._armed = _Armed()
        self._lock = threading.Lock()
        self._active = False
        self._sender: URLLib3Session | None = None

    # installation --------------------------------------------------------
    def install(self) -> None:
        self._active = True
        add_client_hook(self.attach)

    def uninstall(self) -> None:
        self._active = False
        remove_client_hook(self.attach)

    @contextmanager
    def installed(self) -> Iterator[FaultInjector]:
        self.install()
        try:
            yield self
        finally:
            self.uninstall()

    def attach(self, client: Any) -> None:
        events = client.meta.events
        events.register("before-call.*.*", self._before_call,
                        unique_id="tests-faults-injector-call")
        events.register("before-send.*.*", self._before_send,
                        unique_id="tests-faults-injector-send")

    # handlers ------------------------------------------------------------
    def _before_call(self, model: Any, **_: Any) -> None:
        armed = self._armed
        armed.rule, armed.left, armed.attempt = None, 0, 0
        if not self._active:
            return
        service = model.service_model.service_name
        name = f"{service}.{model.name}"
        with self._lock:
            self.calls[name] += 1
            count = self.calls[name]
        for rule in self.rules:
            if (rule.service, rule.operation, rule.nth) == (service, model.name, count):
                service_model = model.service_model
                armed.rule, armed.left = rule, rule.attempts
                armed.protocol = str(getattr(service_model, "resolved_protocol", None)
                                     or service_model.protocol)
                return

    def _before_send(self, request: Any, **_: Any) -> AWSResponse | None:
        armed = self._armed
        rule = armed.rule
        if rule is None or armed.left <= 0 or not self._active:
            return None
        armed.left -= 1
        armed.attempt += 1
        self._record(Fired(rule.spec, armed.attempt, time.time()))
        if rule.kind == FaultKind.THROTTLING:
            return _response(request.url, 400, armed.protocol,
                             THROTTLING_CODES.get(armed.protocol, "ThrottlingException"))
        if rule.kind == FaultKind.HTTP_500:
            return _response(request.url, 500, armed.protocol, "InternalFailure")
        if rule.kind == FaultKind.READ_TIMEOUT:
            self._deliver(request)
            raise ReadTimeoutError(endpoint_url=request.url)
        raise ConnectionClosedError(endpoint_url=request.url)

    def _deliver(self, request: Any) -> None:
        """Send the request for real and drop the answer: AWS applied it, we never heard."""
        if self._sender is None:
            self._sender = URLLib3Session()
        self._sender.send(request)

    def _record(self, fired: Fired) -> None:
        with self._lock:
            self.fired.append(fired)
        if self.log_path:
            line = json.dumps({"rule": fired.rule, "attempt": fired.attempt, "at": fired.at})
            append_line(self.log_path, line)


def append_line(path: str, line: str) -> None:
    """Append one line with a single ``write``: processes sharing the file never interleave."""
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, (line + "\n").encode())
    finally:
        os.close(fd)


_original_delay = standard.ExponentialBackoff.delay_amount


def compress_backoff(scale: float) -> None:
    """Shorten botocore's retry sleeps by ``scale``; the attempts and their order stay.

    Throttling backs off from 1 s and doubles, so eight throttled attempts sleep
    about half a minute; tests keep the sequence and drop the wait.
    """

    def scaled(self: standard.ExponentialBackoff, context: Any) -> float:
        return float(_original_delay(self, context)) * scale

    standard.ExponentialBackoff.delay_amount = scaled  # type: ignore[method-assign]


def restore_backoff() -> None:
    standard.ExponentialBackoff.delay_amount = _original_delay  # type: ignore[method-assign]


@contextmanager
def compressed_backoff(scale: float) -> Iterator[None]:
    compress_backoff(scale)
    try:
        yield
    finally:
        restore_backoff()
