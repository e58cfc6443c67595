"""What the router tests share: the writes a router makes, the weights every router
refuses, a cohort for routers that route something other than its load balancer, and
a Lambda function for the one that routes an alias.

The function is only created and published, never invoked, so moto needs no Docker.
"""

from __future__ import annotations

import io
import json
import uuid
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import boto3
import pytest

from rollout.aws_clients import AwsClients
from rollout.discovery import CohortResources
from rollout.errors import BadInput
from rollout.routers.base import TrafficRouter

INVALID_WEIGHTS: list[tuple[dict[str, int], str]] = [
    ({"blue": -1, "green": 101}, "weight of blue must be between 0 and 999, got -1"),
    ({"blue": 0, "green": 1000}, "weight of green must be between 0 and 999, got 1000"),
    ({"blue": 0, "green": 0}, "at least one colour needs a non-zero weight"),
    ({"blue": 50, "red": 50}, "unknown colour 'red'"),
]
"""Weights every router refuses before it writes, and what it says (a parametrize list)."""


READS = {"elbv2": ("Describe",), "lambda": ("Get", "List"), "route53": ("List", "Get")}
"""How the names of each routed service's calls that change nothing begin."""


@contextmanager
def writes_of(clients: AwsClients, service: str) -> Iterator[list[str]]:
    """Names of the ``service`` calls that change something, made through ``clients``
    meanwhile (the router under test is given the same clients)."""
    calls: list[str] = []

    def record(model: Any, **_: Any) -> None:
        if not model.name.startswith(READS[service]):
            calls.append(model.name)

    client = clients.client(service)
    event = f"before-call.{client.meta.service_model.service_id.hyphenize()}.*"
    client.meta.events.register(event, record)
    try:
        yield calls
    finally:
        client.meta.events.unregister(event, record)


def refusal_and_writes(router: TrafficRouter, clients: AwsClients, service: str,
                       weights: dict[str, int]) -> tuple[str, list[str]]:
    """What ``router`` says refusing ``weights`` (it must raise :class:`BadInput`), and the
    ``service`` writes it made meanwhile."""
    with writes_of(clients, service) as writes, pytest.raises(BadInput) as raised:
        router.set_weights(weights)  # type: ignore[arg-type]
    return str(raised.value), writes


def stand_in_cohort(app: str) -> CohortResources:
    """A cohort of ``app`` whose load balancer, table and bucket do not exist: enough for a
    router that routes DNS records or a function alias, which never reads them."""
    return CohortResources(
        app=app, cohort="canary", artefact_bucket="unused", ledger_table="unused",
        notices_topic_arn="arn:aws:sns:eu-west-1:123456789012:unused",
        listener_arn="arn:aws:elasticloadbalancing:eu-west-1:123456789012:listener/app/u/1/2",
        load_balancer_arn=(
            "arn:aws:elasticloadbalancing:eu-west-1:123456789012:loadbalancer/app/u/1"),
        target_group_arns={"blue": "tg-blue", "green": "tg-green"},
        versions={"blue": "1.4.2", "green": "1.5.0"}, param_prefix=f"/{app}/canary")


@dataclass(frozen=True)
class Function:
    """A Lambda function and the published versions its colours run."""

    name: str
    blue: str
    green: str


def handler_zip(body: str) -> bytes:
    """A deployment package whose handler returns ``body``."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("index.py", f"def handler(event, context):\n    return {body!r}\n")
    return buffer.getvalue()


def two_published_versions(prefix: str) -> Function:
    """A new function with two published versions (blue = 1.4.2, green = 1.5.0)."""
    name = f"{prefix}-{uuid.uuid4().hex[:8]}"
    role = boto3.client("iam").create_role(
        RoleName=name, AssumeRolePolicyDocument=json.dumps({
            "Version": "2012-10-17", "Statement": [{
                "Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"},
                "Action": "sts:AssumeRole"}]}))["Role"]["Arn"]
    client = boto3.client("lambda")
    client.create_function(FunctionName=name, Runtime="python3.11", Role=role,
                           Handler="index.handler", Code={"ZipFile": handler_zip("1.4.2")})
    blue = client.publish_version(FunctionName=name)["Version"]
    client.update_function_code(FunctionName=name, ZipFile=handler_zip("1.5.0"))
    green = client.publish_version(FunctionName=name)["Version"]
    return Function(name, blue, green)
