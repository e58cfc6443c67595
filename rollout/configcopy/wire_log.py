"""Keep SSM and Secrets Manager bodies out of botocore's debug log while settings are copied.

With debug logging on (``logging.basicConfig(level=DEBUG)``, a CI job chasing a
problem), botocore logs every request's parameters and every response body, so
a decrypted ``GetParameters`` page, a ``PutParameter`` of a SecureString, or
AWS's refusal of one (validation messages quote the value sent) would land in
the log in plain text.

While a diff, copy, verification or carry-back runs (:func:`withheld_wire_bodies`),
every record botocore logs about an SSM or Secrets Manager call is let through
only when its message template is one known to carry no body
(:data:`SAFE_TEMPLATES`, an allow-list); any other is replaced by its opening
words and :data:`WITHHELD`. A thread inside a call of the copy's own SSM or
Secrets Manager clients (:func:`watch_calls`) is guarded, whatever else it logs
meanwhile (a credential refresh calls STS from inside the call). Elsewhere, the
service a record belongs to is learnt from the records botocore logs as each
call starts (``Making request for ...`` and its ``Event
<stage>.<service>.<Operation>`` hook records), per thread; a record on a thread
with no known call is guarded too. Other services' records (the ledger's
DynamoDB calls) are left as they are.

Outside those operations a looser guard stays on, as before: a body mentioning
a secret-bearing field is withheld (:func:`guard_wire_logs`).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

BODY_LOGGERS = ("botocore.endpoint", "botocore.parsers")
SECRET_MARKERS = ("SecureString", "SecretString", "SecretBinary")
WITHHELD = "(request or response body withheld: it may hold a secret)"
GUARDED_SERVICES = frozenset({"ssm", "secretsmanager", "secrets-manager"})
"""Service names (``service_name``) and event ids (``service_id``, hyphenised) guarded."""

MAKING_REQUEST = "Making request for %s with params: %s"
HOOK_EVENT = "Event %s: calling handler %s"

SAFE_TEMPLATES: frozenset[tuple[str, str]] = frozenset({
    ("botocore.hooks", HOOK_EVENT),
    ("botocore.hooks", "Changing event name from %s to %s"),
    ("botocore.auth", "Calculating signature using v4 auth."),
    ("botocore.auth", "Signature:\n%s"),
    ("botocore.endpoint", "Sending http request: %s"),
    ("botocore.endpoint", "Setting %s timeout as %s"),
    ("botocore.endpoint", "Response received to retry, sleeping for %s seconds"),
    ("botocore.parsers", "Response headers: %r"),
    ("botocore.handlers", "injecting idempotency token (%s) into param '%s'."),
    ("botocore.regions", "Calling endpoint provider with parameters: %s"),
    ("botocore.regions", "Endpoint provider result: %s"),
    ("botocore.retries.standard", "Not retrying request."),
    ("botocore.retries.standard", "Retry needed, retrying request after delay of: %s"),
    ("botocore.retries.standard", "Max attempts of %s reached."),
    ("botocore.retryhandler", "No retry needed."),
    ("botocore.retryhandler", "Retry needed, action of: %s"),
    ("botocore.loaders", "Loading JSON file: %s"),
    ("botocore.credentials", "Looking for credentials via: %s"),
    ("botocore.credentials", "Found credentials in environment variables."),
    ("botocore.configprovider", "Looking for endpoint for %s via: %s"),
    ("botocore.configprovider", "Found endpoint for %s via: %s."),
    ("botocore.client", "Registering retry handlers for service: %s"),
})
"""Messages botocore logs during an SSM or Secrets Manager call that quote no body.

Among those left out on purpose: the request parameters, the response body, the
SigV4 canonical request and string to sign (each holds the sha256 of the body,
from which a short secret can be guessed), and parse errors (they quote the body).
"""


class _Guard(threading.local):
    """Which service the current thread's botocore call is for, and in which window.

    ``depth`` counts the watched calls the thread is inside.
    """

    service: str | None = None
    window: int = 0
    depth: int = 0


_guard = _Guard()
_lock = threading.Lock()
_open = 0
_window = 0


def _opening_words(template: object) -> str:
    text = template if isinstance(template, str) else ""
    return text.split("%", 1)[0].strip().rstrip(":")


def _withhold(record: logging.LogRecord, message: str) -> None:
    record.msg = message
    record.args = None
    record.exc_info = None
    record.exc_text = None
    record.stack_info = None


def _service_of_call(record: logging.LogRecord) -> str | None:
    """The service a call-start record names: ``Making request`` or a per-call hook event."""
    args = record.args if isinstance(record.args, tuple) else ()
    if record.name == "botocore.endpoint" and record.msg == MAKING_REQUEST and args:
        service_model = getattr(args[0], "service_model", None)
        name = getattr(service_model, "service_name", None)
        return name if isinstance(name, str) else None
    if record.name == "botocore.hooks" and record.msg == HOOK_EVENT and args:
        parts = str(args[0]).split(".")
        return parts[1] if len(parts) >= 3 else None
    return None


class WireBodyFilter(logging.Filter):
    """Rewrites botocore records that may quote an SSM or Secrets Manager body."""

    def filter(self, record: logging.LogRecord) -> bool:
        if _open:
            self._strict(record)
        elif record.name in BODY_LOGGERS:
            self._loose(record)
        return True

    @staticmethod
    def _strict(record: logging.LogRecord) -> None:
        started = _service_of_call(record)
        if started is not None:
            _guard.service, _guard.window = started, _window
        service = _guard.service if _guard.window == _window else None
        if not _guard.depth and service is not None and service not in GUARDED_SERVICES:
            return
        if (record.name, record.msg) in SAFE_TEMPLATES:
            return
        if record.msg == MAKING_REQUEST and isinstance(record.args, tuple) and record.args:
            operation = getattr(record.args[0], "name", "?")
            _withhold(record, f"Making request for {service} {operation}: {WITHHELD}")
            return
        _withhold(record, f"{_opening_words(record.msg)}: {WITHHELD}")

    @staticmethod
    def _loose(record: logging.LogRecord) -> None:
        try:
            text = record.getMessage()
        except (TypeError, ValueError):
            return
        if any(marker in text for marker in SECRET_MARKERS):
            _withhold(record, WITHHELD)


def _entered(**_: Any) -> None:
    _guard.depth += 1


def _left(**_: Any) -> None:
    _guard.depth = max(0, _guard.depth - 1)


def watch_calls(client: Any) -> None:
    """Guard what botocore logs on a thread for as long as it is inside a call of ``client``.

    ``after-call-error`` follows every call that raised once started, so the count
    cannot stay up; registering twice (a shared client) changes nothing.
    """
    events = client.meta.events
    events.register("before-call", _entered, unique_id="rollout-wire-log-entered")
    events.register("after-call", _left, unique_id="rollout-wire-log-left")
    events.register("after-call-error", _left, unique_id="rollout-wire-log-failed")


def _botocore_loggers() -> list[logging.Logger]:
    names = {*BODY_LOGGERS, "botocore", *(
        name for name in list(logging.root.manager.loggerDict)
        if name.startswith("botocore."))}
    return [logging.getLogger(name) for name in sorted(names)]


def guard_wire_logs() -> None:
    """Put the filter on every botocore logger there is (once per logger)."""
    for logger in _botocore_loggers():
        if not any(isinstance(f, WireBodyFilter) for f in logger.filters):
            logger.addFilter(WireBodyFilter())


@contextmanager
def withheld_wire_bodies() -> Iterator[None]:
    """For the duration of a block (any thread): no SSM or Secrets Manager body in the log.

    Blocks may overlap (two copies in two threads): the strict rule holds until the
    last one ends.
    """
    global _open, _window
    guard_wire_logs()
    with _lock:
        if _open == 0:
            _window += 1
        _open += 1
    try:
        yield
    finally:
        with _lock:
            _open -= 1
