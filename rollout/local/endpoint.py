"""Whether AWS clients point at a local endpoint (a moto server) rather than at AWS itself.

The local engine creates whatever the program declares through plain boto3, so
against real AWS it would create real load balancers; and its state bucket has a
fixed name, which on AWS belongs to whoever took it first. Both only make sense
against a local endpoint.
"""

from __future__ import annotations

from urllib.parse import urlparse

from rollout.aws_clients import AwsClients

AWS_DOMAINS = ("amazonaws.com", "amazonaws.com.cn", "api.aws")


def endpoint_of(clients: AwsClients) -> str:
    """The endpoint URL the clients send requests to."""
    return str(clients.client("s3").meta.endpoint_url)


def is_local(clients: AwsClients) -> bool:
    """True unless the clients talk to an AWS domain."""
    host = urlparse(endpoint_of(clients)).hostname or ""
    return not any(host == domain or host.endswith("." + domain) for domain in AWS_DOMAINS)
