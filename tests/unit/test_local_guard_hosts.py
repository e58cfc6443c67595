"""The local deployer's allow-list, host by host (no name here is looked up in DNS)."""

from __future__ import annotations

import socket
from typing import Any

import pytest

from rollout.local.endpoint import ALLOW_HOSTS_VARIABLE, allowed_hosts, shown, why_not_local

NAMES = {"localhost": ["127.0.0.1", "::1"], "mapped.example": ["::ffff:127.0.0.1"],
         "lan.example": ["192.168.1.20"]}


@pytest.fixture(autouse=True)
def resolver(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Numeric hosts as the system parses them; names from :data:`NAMES` only."""
    looked_up: list[str] = []
    real = socket.getaddrinfo

    def getaddrinfo(host: str, port: Any, *args: Any, **kwargs: Any) -> Any:
        looked_up.append(host)
        try:
            return real(host, port, *args, flags=socket.AI_NUMERICHOST)
        except socket.gaierror:
            pass
        if host not in NAMES:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return [(socket.AF_INET6 if ":" in a else socket.AF_INET, socket.SOCK_STREAM, 6, "",
                 (a, port)) for a in NAMES[host]]

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    return looked_up


@pytest.mark.parametrize("url", [
    "http://127.0.0.1:5000", "http://127.8.9.10:5000", "http://[::1]:5000",
    "http://localhost:5000", "http://mapped.example:5000", "http://127.1:5000",
])
def test_loopback_endpoints_are_local(url: str) -> None:
    assert why_not_local(url, frozenset()) is None


@pytest.mark.parametrize(("url", "reason"), [
    ("http://0.0.0.0:5000", "0.0.0.0 is not a loopback address"),
    ("http://[::ffff:10.0.0.1]:5000", "::ffff:10.0.0.1 is not a loopback address"),
    ("http://lan.example:5000", "lan.example resolves to 192.168.1.20, not a loopback address"),
    ("http://localhost.evil.example:5000", "localhost.evil.example does not resolve"),
    ("https://s3.amazonaws.com.", "s3.amazonaws.com. does not resolve"),
    ("http://:5000", "http://:5000 names no host"),
])
def test_anything_else_is_not(url: str, reason: str) -> None:
    assert why_not_local(url, frozenset()) == reason


def test_hosts_the_user_names_are_taken_as_they_are_written(
        monkeypatch: pytest.MonkeyPatch, resolver: list[str]) -> None:
    monkeypatch.setenv(ALLOW_HOSTS_VARIABLE, " Moto.Internal. ,lan.example,,")
    allowed = allowed_hosts()
    assert allowed == {"moto.internal", "lan.example"}
    assert why_not_local("http://moto.internal:5000", allowed) is None
    assert why_not_local("http://moto.internal.:5000", allowed) is None
    assert why_not_local("http://lan.example:5000", allowed) is None
    assert resolver == [], "a named host is not looked up"
    assert why_not_local("http://other.moto.internal:5000", allowed) == (
        "other.moto.internal does not resolve"), "no wildcards"


def test_a_password_in_an_endpoint_url_is_never_shown() -> None:
    assert shown("http://ops:s3cret@192.0.2.1:5000/x") == "http://192.0.2.1:5000/x"
    assert why_not_local("http://ops:s3cret@:5000", frozenset()) == "http://:5000 names no host"
