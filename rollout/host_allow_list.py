"""Hosts a user trusts by name, and addresses read the way the allow-lists judge them.

The local engine's endpoint guard and the webhook notifier both decide by address
what a host may be (loopback only; public unless named): both read their named
hosts and their addresses here, so an IPv4-mapped IPv6 address or a zone id can
never slip past one of them and not the other.
"""

from __future__ import annotations

import ipaddress
import os
import re

IpAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


def hosts_named_in(variable: str) -> frozenset[str]:
    """The host names in environment ``variable`` (comma or space separated), normalised."""
    return frozenset(name.lower().rstrip(".")
                     for name in re.split(r"[,\s]+", os.environ.get(variable, "")) if name)


def address_of(text: str) -> IpAddress:
    """``text`` as an address, without a zone id; an IPv4-mapped IPv6 address as IPv4."""
    found = ipaddress.ip_address(text.partition("%")[0])
    if isinstance(found, ipaddress.IPv6Address) and found.ipv4_mapped is not None:
        return found.ipv4_mapped
    return found
