"""A tenant's host: the one exact DNS name its requests carry, and pins match."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Annotated

from pydantic import BeforeValidator

MAX_HOST = 253
"""The longest DNS name."""
_DNS_LABEL = r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"
_DNS_NAME = re.compile(rf"{_DNS_LABEL}(?:\.{_DNS_LABEL})+")


def _is_host(value: object) -> str:
    """``value`` in lower case if it is one exact DNS name; why not, if it is not.

    A pin becomes a listener rule matching this host, so anything that could match
    more than one tenant (a wildcard, a pattern, a bare label, an address) is
    refused by allowing only the shape of a fully qualified name. DNS ignores case,
    so the name is kept in lower case and two spellings of one host are one host.
    """
    shape = ("is not an exact DNS name like acme.example.com (dot-separated labels of "
             "letters, digits and inner hyphens, at most 63 characters each)")
    if not isinstance(value, str):
        raise ValueError(f"{value!r} {shape}")
    host = value.lower()
    if any(mark in host for mark in "*?"):
        raise ValueError(f"{value!r} is a pattern, not an exact DNS name: a pin on it would "
                         "catch other tenants; name the tenant's own host")
    if host.endswith(".") and host != ".":
        raise ValueError(f"{value!r} is not an exact DNS name: drop the trailing dot")
    if len(host) > MAX_HOST:
        raise ValueError(f"{value[:40]!r}... is not an exact DNS name: it has {len(host)} "
                         f"characters, DNS allows {MAX_HOST}")
    if not host.isascii():
        raise ValueError(f"{value!r} {shape}; write an international name in its "
                         "xn-- (punycode) form")
    if not _DNS_NAME.fullmatch(host):
        raise ValueError(f"{value!r} {shape}")
    if host.rpartition(".")[2].isdigit():
        raise ValueError(f"{value!r} is an IP address, not an exact DNS name; name the "
                         "tenant's host")
    return host


Host = Annotated[str, BeforeValidator(_is_host)]
"""A tenant's host: one exact DNS name, in lower case."""



def shared_host(hosts: Sequence[str | None]) -> tuple[int, int] | None:
    """(first, second) positions of the first host two tenants share, if any."""
    seen: dict[str, int] = {}
    for index, host in enumerate(hosts):
        if host is None:
            continue
        if host in seen:
            return seen[host], index
        seen[host] = index
    return None
