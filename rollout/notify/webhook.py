"""Notices POSTed as JSON to a webhook (a ticketing system, a chat relay, a portal).

Webhook URLs often carry a token, so the URL comes from the environment or a
file (never the command line, where ``ps`` shows it) and every message names
only its scheme and host. Where notices may go is an allow-list: https to a
public address, plain http only to this machine, anything internal (private,
link-local such as the cloud's metadata service, multicast, reserved) only to a
host named in :data:`ALLOW_HOSTS_ENV`. The host is resolved and checked once,
and the connection goes to the checked address, so a second DNS answer cannot
swap it. Redirects are never followed: a 3xx is a failure. Proxies from the
environment are not used, since a proxy would make the address check moot.
"""

from __future__ import annotations

import http.client
import ipaddress
import json
import re
import socket
import ssl
import uuid
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, SecretStr

from rollout.aws_clients import AwsClients
from rollout.errors import BadInput, RolloutFailed
from rollout.host_allow_list import address_of
from rollout.notify.base import NOTIFIERS, Notice, Notifier, notifier_settings

URL_ENV = "ROLLOUT_WEBHOOK_URL"
"""Where ``rollout notify --channel webhook`` reads the webhook URL by default."""

ALLOW_HOSTS_ENV = "ROLLOUT_WEBHOOK_ALLOW_HOSTS"
"""Comma-separated host names (or IP addresses) that may resolve to internal addresses."""

REPLY_LIMIT = 65536
"""Bytes of a reply read at most: only its ``id`` is wanted."""

MESSAGE_ID = re.compile(r"[A-Za-z0-9._:@/+=-]{1,128}")
"""A message id the webhook gives is printed and stored only if it looks like one."""

Resolver = Callable[..., Sequence[tuple[Any, ...]]]


class WebhookSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: SecretStr
    timeout: float = Field(default=10.0, gt=0, le=60)
    allow_hosts: tuple[str, ...] = ()
    """Hosts allowed to resolve to internal addresses (from :data:`ALLOW_HOSTS_ENV`)."""


@dataclass(frozen=True)
class WebhookTarget:
    """A checked webhook: where to connect, and what may be shown of it (scheme and host)."""

    scheme: str
    host: str
    port: int
    target: str
    """Path and query: where the token usually is, so never shown."""
    addresses: tuple[str, ...]

    @property
    def origin(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{self.scheme}://{host}"


def _refuse(shown: str | None, problem: str) -> BadInput:
    return BadInput(f"webhook URL {shown}: {problem}" if shown else f"webhook URL: {problem}")


def _kind(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> str:
    for kind in ("unspecified", "link_local", "multicast", "private", "reserved"):
        if getattr(address, f"is_{kind}"):
            return kind.replace("_", "-")
    return "non-public"


def check_url(url: str, allow_hosts: Collection[str] = (),
              resolve: Resolver = socket.getaddrinfo) -> WebhookTarget:
    """Parse, resolve and vet a webhook URL; :class:`BadInput` shows only scheme and host.

    Loopback is always allowed (a relay on this machine); other addresses must be
    public unless the host is in ``allow_hosts``; plain http must stay on loopback.
    """
    text = url.strip()
    if not text.isprintable() or any(c.isspace() for c in text):
        raise _refuse(None, "contains spaces or control characters")
    try:
        parts = urlsplit(text)
        host = parts.hostname
    except ValueError:
        raise _refuse(None, "has an invalid host; it should look like "
                            "https://hooks.example/...") from None
    scheme = parts.scheme.lower()
    if scheme not in ("https", "http") or not host:
        raise _refuse(None, "is not an https:// URL with a host, like https://hooks.example/...")
    shown = f"{scheme}://{f'[{host}]' if ':' in host else host}"
    try:
        port = parts.port
    except ValueError:
        raise _refuse(shown, "the port is not a number from 1 to 65535") from None
    if "@" in parts.netloc:
        raise _refuse(shown, "must not carry user:password@; the receiver must take its "
                             "token in the path, the query or a header")
    port = port or (443 if scheme == "https" else 80)
    try:
        found = resolve(host, port, type=socket.SOCK_STREAM)
    except UnicodeError:
        raise _refuse(shown, "the host name is not valid") from None
    except OSError as exc:
        raise RolloutFailed(f"cannot resolve the webhook host {host} ({exc.strerror or exc}); "
                            "nothing sent") from None
    addresses = tuple(dict.fromkeys(str(entry[4][0]) for entry in found))
    allowed = host.lower().rstrip(".") in {h.strip().lower().rstrip(".") for h in allow_hosts}
    for text_address in addresses:
        address = address_of(text_address)
        where = host if host == text_address else f"{host} resolves to {address}, which"
        if scheme == "http" and not address.is_loopback:
            raise _refuse(shown, f"plain http is only for this machine (loopback), and {where} "
                                 "is not; use https")
        public = address.is_global and not address.is_multicast
        if not (address.is_loopback or public or allowed):
            raise _refuse(shown, f"{where} is a {_kind(address)} address; notices go to public "
                                 f"addresses only, unless {ALLOW_HOSTS_ENV} names {host}")
    if not addresses:
        raise RolloutFailed(f"the webhook host {host} has no address; nothing sent")
    return WebhookTarget(scheme=scheme, host=host, port=port,
                         target=(parts.path or "/") + (f"?{parts.query}" if parts.query else ""),
                         addresses=addresses)


class _CheckedConnection(http.client.HTTPConnection):
    """An HTTP(S) connection to the checked addresses, not to a fresh lookup of the host."""

    def __init__(self, target: WebhookTarget, timeout: float) -> None:
        super().__init__(target.host, target.port, timeout=timeout)
        self.default_port = 443 if target.scheme == "https" else 80
        self._addresses = target.addresses
        self._tls = ssl.create_default_context() if target.scheme == "https" else None

    def connect(self) -> None:
        failure: OSError = OSError(f"no address for {self.host}")
        for address in self._addresses:
            try:
                raw = socket.create_connection((address, self.port), self.timeout)
                break
            except OSError as exc:
                failure = exc
        else:
            raise failure
        if self._tls is None:
            self.sock = raw
            return
        try:
            self.sock = self._tls.wrap_socket(raw, server_hostname=self.host)
        except BaseException:
            raw.close()
            raise


class WebhookNotifier:
    """POSTs ``{tenant, release, contact, subject, body, slot_start, slot_end}``.

    The message id is the ``id`` of a JSON reply, or the ``X-Message-Id`` header,
    or else one we made up and sent as ``Idempotency-Key``.
    """

    channel = "webhook"

    def __init__(self, target: WebhookTarget, timeout: float) -> None:
        self._target = target
        self._timeout = timeout
        self.host = target.host

    def send(self, notice: Notice) -> str:
        key = uuid.uuid4().hex
        origin = self._target.origin
        connection = _CheckedConnection(self._target, self._timeout)
        try:
            connection.request("POST", self._target.target, body=notice.model_dump_json().encode(),
                               headers={"Content-Type": "application/json",
                                        "Idempotency-Key": key})
            response = connection.getresponse()
            status, header_id = response.status, response.getheader("X-Message-Id")
            reply = response.read(REPLY_LIMIT)
        except (OSError, http.client.HTTPException) as exc:
            reason = getattr(exc, "strerror", None) or type(exc).__name__
            raise RolloutFailed(f"cannot reach the webhook at {origin} ({reason}); "
                                f"no notice recorded for {notice.tenant}") from None
        finally:
            connection.close()
        if 300 <= status < 400:
            raise RolloutFailed(f"webhook at {origin} answered {status}, a redirect, which is "
                                f"not followed; set {URL_ENV} to the final address. No notice "
                                f"recorded for {notice.tenant}")
        if not 200 <= status < 300:
            raise RolloutFailed(f"webhook at {origin} answered {status} for tenant "
                                f"{notice.tenant}; no notice recorded, run notify again")
        return _reply_id(reply) or _plain_id(header_id) or key


def _plain_id(found: object) -> str | None:
    text = str(found) if found else None
    return text if text and MESSAGE_ID.fullmatch(text) else None


def _reply_id(reply: bytes) -> str | None:
    try:
        data = json.loads(reply)
    except ValueError:
        return None
    return _plain_id(data.get("id")) if isinstance(data, dict) else None


@NOTIFIERS.register("webhook")
def webhook_notifier(clients: AwsClients, settings: dict[str, Any]) -> Notifier:
    """Check the URL now, so a bad one is refused before any notice or ledger write."""
    checked = notifier_settings(WebhookSettings, "webhook", settings)
    target = check_url(checked.url.get_secret_value(), checked.allow_hosts)
    return WebhookNotifier(target, checked.timeout)
