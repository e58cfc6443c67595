"""The local deployer's guard: it only ever talks to a local endpoint (a moto server).

The local deployer creates whatever the program declares through plain boto3, so
against real AWS it would create real VPCs, load balancers, policies and keys.
The rule is an allow-list: an endpoint is local when its host is one the user
named in :data:`ALLOW_HOSTS_VARIABLE`, or when every address the host resolves
to is a loopback address. botocore resolves an endpoint per service and region
(``AWS_ENDPOINT_URL_<SERVICE>``, ``AWS_ENDPOINT_URL``, the config file's
``services`` section and ``endpoint_url``), so the guard looks at the endpoint
each real client resolved, for every service, in the region it is used in, and
requires them all to be the same one: a single moto server. Every request's URL
is checked again just before it is sent (a host's addresses are resolved once per
process, so a name that later resolves elsewhere is a remaining gap; prefer
127.0.0.1 or a name in the allow-list), and credentials come from static sources
only (environment, credentials and config files) or are moto's fake ones: a
credential provider such as SSO, assume-role, a credential process or instance
metadata would itself go over the network.
"""

from __future__ import annotations

import ipaddress
import os
import socket
import threading
from collections.abc import Iterable
from typing import Any, cast
from urllib.parse import urlsplit

from botocore.config import Config
from botocore.credentials import CredentialResolver, create_credential_resolver

from rollout.aws_clients import AwsClients, new_session, region
from rollout.errors import BadInput
from rollout.host_allow_list import address_of, hosts_named_in

ALLOW_HOSTS_VARIABLE = "ROLLOUT_LOCAL_ALLOW_HOSTS"
"""Comma-separated host names the user trusts to be local although they do not resolve to
loopback addresses (say, a moto container's name); compared exactly, without wildcards."""

DEPLOYER_SERVICES = ("s3", "sts", "dynamodb", "sns", "ec2", "elbv2", "iam", "kms", "lambda", "ecs")
"""What the local deployer and its resource handlers talk to: all checked before the first
request. A client for any other service is checked when it is created."""

STATIC_CREDENTIAL_SOURCES = frozenset({"env", "shared-credentials-file", "config-file"})
FAKE_KEYS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing",
             "aws_session_token": "testing"}
REFUSAL = "the local deployer only deploys into moto"
ADVICE = ("point AWS_ENDPOINT_URL at `rollout local server` and remove service-specific "
          f"endpoints, or name a host you trust in {ALLOW_HOSTS_VARIABLE}; real deployments "
          "use `pulumi up`")


def allowed_hosts() -> frozenset[str]:
    """The hosts named in :data:`ALLOW_HOSTS_VARIABLE`, lower-case, without a trailing dot."""
    return hosts_named_in(ALLOW_HOSTS_VARIABLE)


def _loopback(address: str) -> bool:
    return address_of(address).is_loopback


def why_not_local(url: str, allowed: frozenset[str]) -> str | None:
    """Why requests to ``url`` might leave this machine, or None when the guard lets them go."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if not host:
        return f"{shown(url)} names no host"
    if host.rstrip(".") in allowed:
        return None
    try:
        literal = ipaddress.ip_address(host)
    except ValueError:
        literal = None
    if literal is not None:
        return None if _loopback(host) else f"{host} is not a loopback address"
    try:
        found = socket.getaddrinfo(host, parts.port or 0, proto=socket.IPPROTO_TCP)
    except (OSError, UnicodeError, ValueError):
        return f"{host} does not resolve"
    addresses = list(dict.fromkeys(str(info[4][0]) for info in found))
    if not addresses:
        return f"{host} does not resolve"
    outside = [address for address in addresses if not _loopback(address)]
    if outside:
        more = f" and {len(outside) - 3} more" if len(outside) > 3 else ""
        return f"{host} resolves to {', '.join(outside[:3])}{more}, not a loopback address"
    return None


def shown(url: str) -> str:
    """``url`` without any ``user:password@`` part, fit for a message."""
    parts = urlsplit(url)
    if "@" not in parts.netloc:
        return url
    return parts._replace(netloc=parts.netloc.rsplit("@", 1)[1]).geturl()


def endpoint_source(session: Any, client: Any) -> str:
    """Where botocore took ``client``'s endpoint from, as the user would look for it."""
    url = str(client.meta.endpoint_url)
    key = client.meta.service_model.service_id.hyphenize().replace("-", "_")
    for variable in (f"AWS_ENDPOINT_URL_{key.upper()}", "AWS_ENDPOINT_URL"):
        if os.environ.get(variable) == url:
            return f"from {variable}"
    scoped = session.get_scoped_config()
    section = scoped.get("services")
    services = session.full_config.get("services", {}).get(section, {}) if section else {}
    if services.get(key, {}).get("endpoint_url") == url:
        return f"from the [services {section}] section of the AWS config file"
    if scoped.get("endpoint_url") == url:
        return "from endpoint_url in the AWS config file"
    return "AWS's own endpoint: nothing points it elsewhere"


class EndpointGuard:
    """A :data:`~rollout.aws_clients.ClientCheck` that lets only local clients through.

    The first client's endpoint is the one every later client must share; every
    request's host is checked before botocore sends it.
    """

    def __init__(self, session: Any, allowed: frozenset[str]) -> None:
        self._session = session
        self._allowed = allowed
        self._first: tuple[str, str] | None = None
        self._local_hosts: set[str] = set()
        self._lock = threading.Lock()

    def __call__(self, service: str, region_name: str, client: Any) -> None:
        url = str(client.meta.endpoint_url).rstrip("/")
        where = f"{shown(url)} ({endpoint_source(self._session, client)})"
        reason = why_not_local(url, self._allowed)
        if reason is not None:
            raise BadInput(f"{REFUSAL}, but {service} in {region_name} would send requests to "
                           f"{where}: {reason}; {ADVICE}")
        with self._lock:
            if self._first is None:
                self._first = (url, f"{service} to {where}")
            elif self._first[0] != url:
                raise BadInput(f"{REFUSAL} (one server for everything), but {service} in "
                               f"{region_name} would send requests to {where} and "
                               f"{self._first[1]}; {ADVICE}")
            self._local_hosts.add(urlsplit(url).hostname or "")
        client.meta.events.register("before-send", self._before_send)

    def _before_send(self, request: Any, **_: Any) -> None:
        host = urlsplit(request.url).hostname or ""
        if host in self._local_hosts:
            return
        reason = why_not_local(request.url, self._allowed)
        if reason is not None:
            raise BadInput(f"the local deployer refused to send a request to {host}: {reason}; "
                           f"{ADVICE}")
        with self._lock:
            self._local_hosts.add(host)


def static_keys(session: Any) -> dict[str, str]:
    """Credentials from static sources only, or moto's fake ones when there are none."""
    resolver = create_credential_resolver(session)
    static = CredentialResolver([provider for provider in resolver.providers
                                 if provider.METHOD in STATIC_CREDENTIAL_SOURCES])
    found = static.load_credentials()
    if found is None:
        return dict(FAKE_KEYS)
    frozen = found.get_frozen_credentials()
    keys = {"aws_access_key_id": str(frozen.access_key),
            "aws_secret_access_key": str(frozen.secret_key)}
    if frozen.token:
        keys["aws_session_token"] = str(frozen.token)
    return keys


def local_deployer_clients(region_name: str | None = None) -> AwsClients:
    """Clients for the local deployer: guarded, static credentials, path-style S3 addressing.

    Path-style keeps S3 requests on the endpoint's own host rather than on a
    ``<bucket>.<host>`` name the guard would have to resolve again.
    """
    session = new_session(region_name=region_name or region())
    core = cast(Any, session)._session
    keys = static_keys(core)
    core.set_credentials(keys["aws_access_key_id"], keys["aws_secret_access_key"],
                         keys.get("aws_session_token"))
    return AwsClients(session=session, config=Config(s3={"addressing_style": "path"}),
                      check=EndpointGuard(core, allowed_hosts()))


def check_local(clients: AwsClients, regions: Iterable[str]) -> None:
    """:class:`BadInput` unless every deployer service is local in each of ``regions``.

    Creating a client sends nothing; its guard refuses before anything could.
    """
    for region_name in dict.fromkeys(regions):
        for service in DEPLOYER_SERVICES:
            clients.for_region(region_name).client(service)


def endpoint_of(clients: AwsClients) -> str:
    """The endpoint URL the clients send S3 requests to."""
    return str(clients.client("s3").meta.endpoint_url)


def is_local(clients: AwsClients) -> bool:
    """Whether ``clients`` send S3 requests to a local endpoint (by the same allow-list)."""
    return why_not_local(endpoint_of(clients), allowed_hosts()) is None
