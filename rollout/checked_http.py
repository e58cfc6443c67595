"""An HTTP(S) request that goes only where an allow-list says, and never shows its URL's secrets.

Webhook and callback URLs often carry a token, so a checked URL shows only its
scheme and host (:class:`CheckedTarget`). Where requests may go is an allow-list:
https to a public address, plain http only to this machine, anything internal
(private, link-local such as the cloud's metadata service, multicast, reserved) only
to a host the user names in a variable (:class:`UrlRules`). The host is resolved and
checked once, and :class:`CheckedConnection` goes to the checked address, so a second
DNS answer cannot swap it. It follows no redirect and uses no proxy from the
environment, since a proxy would make the address check moot. The webhook notifier
and the HTTP lifecycle hook both send this way.
"""

from __future__ import annotations

import http.client
import ipaddress
import socket
import ssl
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from rollout.errors import BadInput, RolloutFailed
from rollout.host_allow_list import address_of

Resolver = Callable[..., Sequence[tuple[Any, ...]]]
"""``socket.getaddrinfo``, or a test's stand-in for it."""


@dataclass(frozen=True)
class CheckedTarget:
    """A checked URL: where to connect, and what may be shown of it (scheme and host)."""

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

    @property
    def origin_and_port(self) -> str:
        """``scheme://host``, with ``:port`` when it is not the scheme's own."""
        default = 443 if self.scheme == "https" else 80
        return self.origin if self.port == default else f"{self.origin}:{self.port}"


@dataclass(frozen=True)
class UrlRules:
    """Whose URL it is (named in every refusal) and what lets an internal host through."""

    subject: str
    """``webhook``: refusals read ``webhook URL https://host: ...``."""
    goes: str
    """What goes to the URL, as refusals say it: ``notices go``."""
    allow_hosts_env: str
    """The variable naming hosts that may resolve to internal addresses."""

    def refuse(self, shown: str | None, problem: str) -> BadInput:
        where = f"{self.subject} URL {shown}" if shown else f"{self.subject} URL"
        return BadInput(f"{where}: {problem}")


def _kind(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> str:
    for kind in ("unspecified", "link_local", "multicast", "private", "reserved"):
        if getattr(address, f"is_{kind}"):
            return kind.replace("_", "-")
    return "non-public"


def check_url(url: str, rules: UrlRules, allow_hosts: Collection[str] = (),
              resolve: Resolver = socket.getaddrinfo) -> CheckedTarget:
    """Parse, resolve and vet a URL; :class:`BadInput` shows only scheme and host.

    Loopback is always allowed (a relay on this machine); other addresses must be
    public unless the host is in ``allow_hosts``; plain http must stay on loopback.
    """
    text = url.strip()
    if not text.isprintable() or any(c.isspace() for c in text):
        raise rules.refuse(None, "contains spaces or control characters")
    try:
        parts = urlsplit(text)
        host = parts.hostname
    except ValueError:
        raise rules.refuse(None, "has an invalid host; it should look like "
                                 "https://hooks.example/...") from None
    scheme = parts.scheme.lower()
    if scheme not in ("https", "http") or not host:
        raise rules.refuse(None, "is not an https:// URL with a host, like "
                                 "https://hooks.example/...")
    shown = f"{scheme}://{f'[{host}]' if ':' in host else host}"
    try:
        port = parts.port
    except ValueError:
        raise rules.refuse(shown, "the port is not a number from 1 to 65535") from None
    if "@" in parts.netloc:
        raise rules.refuse(shown, "must not carry user:password@; the receiver must take "
                                  "its token in the path, the query or a header")
    port = port or (443 if scheme == "https" else 80)
    try:
        found = resolve(host, port, type=socket.SOCK_STREAM)
    except UnicodeError:
        raise rules.refuse(shown, "the host name is not valid") from None
    except OSError as exc:
        raise RolloutFailed(f"cannot resolve the {rules.subject} host {host} "
                            f"({exc.strerror or exc}); nothing sent") from None
    addresses = tuple(dict.fromkeys(str(entry[4][0]) for entry in found))
    allowed = host.lower().rstrip(".") in {h.strip().lower().rstrip(".") for h in allow_hosts}
    for text_address in addresses:
        address = address_of(text_address)
        where = host if host == text_address else f"{host} resolves to {address}, which"
        if scheme == "http" and not address.is_loopback:
            raise rules.refuse(shown, f"plain http is only for this machine (loopback), and "
                                      f"{where} is not; use https")
        public = address.is_global and not address.is_multicast
        if not (address.is_loopback or public or allowed):
            raise rules.refuse(shown, f"{where} is a {_kind(address)} address; {rules.goes} "
                                      f"to public addresses only, unless "
                                      f"{rules.allow_hosts_env} names {host}")
    if not addresses:
        raise RolloutFailed(f"the {rules.subject} host {host} has no address; nothing sent")
    return CheckedTarget(scheme=scheme, host=host, port=port,
                         target=(parts.path or "/") + (f"?{parts.query}" if parts.query else ""),
                         addresses=addresses)


class CheckedConnection(http.client.HTTPConnection):
    """An HTTP(S) connection to the checked addresses, not to a fresh lookup of the host."""

    def __init__(self, target: CheckedTarget, timeout: float) -> None:
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
