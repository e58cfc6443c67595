"""The Lambda alias router against a moto server: weights as the alias's routing config.

Only functions, versions and aliases are created here; nothing is invoked, so
moto never needs Docker.
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
from rollout.routers.base import ROUTERS, TrafficRouter

pytestmark = pytest.mark.integration

COHORT = CohortResources(
    app="fn", cohort="canary", artefact_bucket="unused", ledger_table="unused",
    notices_topic_arn="arn:aws:sns:eu-west-1:123456789012:unused",
    listener_arn="arn:aws:elasticloadbalancing:eu-west-1:123456789012:listener/app/u/1/2",
    load_balancer_arn="arn:aws:elasticloadbalancing:eu-west-1:123456789012:loadbalancer/app/u/1",
    target_group_arns={"blue": "tg-blue", "green": "tg-green"},
    versions={"blue": "1.4.2", "green": "1.5.0"}, param_prefix="/fn/canary")


@dataclass(frozen=True)
class Function:
    name: str
    blue: str
    green: str


@contextmanager
def lambda_writes(clients: AwsClients) -> Iterator[list[str]]:
    """Names of the Lambda calls that change something, made through ``clients`` meanwhile."""
    calls: list[str] = []

    def record(model: Any, **_: Any) -> None:
        if not model.name.startswith(("Get", "List")):
            calls.append(model.name)

    events = clients.client("lambda").meta.events
    events.register("before-call.lambda.*", record)
    try:
        yield calls
    finally:
        events.unregister("before-call.lambda.*", record)


def handler_zip(body: str) -> bytes:
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


@pytest.fixture(scope="module")
def function(moto_endpoint: str) -> Function:
    return two_published_versions("orders")


@pytest.fixture
def alias(function: Function) -> str:
    """A fresh alias with all traffic on blue."""
    name = f"live-{uuid.uuid4().hex[:6]}"
    boto3.client("lambda").create_alias(FunctionName=function.name, Name=name,
                                        FunctionVersion=function.blue)
    return name


def router_for(aws: AwsClients, function: Function, alias: str) -> TrafficRouter:
    router: TrafficRouter = ROUTERS.get("lambda-alias")(aws, COHORT, {
        "function_name": function.name, "alias": alias,
        "versions": {"blue": int(function.blue), "green": function.green}})
    return router


def routing(function: Function, alias: str) -> tuple[str, dict[str, float]]:
    """(primary version, additional version weights) of the alias, read with plain boto3."""
    found = boto3.client("lambda").get_alias(FunctionName=function.name, Name=alias)
    return found["FunctionVersion"], found.get("RoutingConfig", {}).get(
        "AdditionalVersionWeights", {})


def test_every_step_is_one_update_of_the_alias(
        aws: AwsClients, function: Function, alias: str) -> None:
    router = router_for(aws, function, alias)
    expected = {
        25: (function.blue, {function.green: 0.25}),
        50: (function.blue, {function.green: 0.5}),
        75: (function.green, {function.blue: 0.25}),
        100: (function.green, {}),
    }

    for green, (primary, extra) in expected.items():
        with lambda_writes(aws) as writes:
            router.set_weights({"blue": 100 - green, "green": green})

        assert writes == ["UpdateAlias"]
        assert routing(function, alias) == (primary, extra)
        assert router.read_weights() == {"blue": 100 - green, "green": green}


def test_rolling_back_clears_the_split_in_one_write(
        aws: AwsClients, function: Function, alias: str) -> None:
    router = router_for(aws, function, alias)
    router.set_weights({"blue": 25, "green": 75})

    with lambda_writes(aws) as writes:
        router.set_weights({"blue": 100, "green": 0})

    assert writes == ["UpdateAlias"]
    assert routing(function, alias) == (function.blue, {})
    assert router.read_weights() == {"blue": 100, "green": 0}


@pytest.mark.parametrize(("weights", "complaint"), [
    ({"blue": -1, "green": 101}, "weight of blue must be between 0 and 999, got -1"),
    ({"blue": 0, "green": 1000}, "weight of green must be between 0 and 999, got 1000"),
    ({"blue": 0, "green": 0}, "at least one colour needs a non-zero weight"),
    ({"blue": 50, "red": 50}, "unknown colour 'red'"),
])
def test_invalid_weights_are_refused_before_any_write(
        aws: AwsClients, function: Function, alias: str, weights: dict[str, int],
        complaint: str) -> None:
    router = router_for(aws, function, alias)
    router.set_weights({"blue": 90, "green": 10})

    with lambda_writes(aws) as writes, pytest.raises(BadInput) as raised:
        router.set_weights(weights)  # type: ignore[arg-type]

    assert complaint in str(raised.value)
    assert writes == []
    assert routing(function, alias) == (function.blue, {function.green: 0.1})


def test_an_alias_on_a_version_of_neither_colour_is_reported(
        aws: AwsClients, function: Function, alias: str) -> None:
    router = router_for(aws, function, alias)
    boto3.client("lambda").update_alias(FunctionName=function.name, Name=alias,
                                        FunctionVersion="$LATEST")

    with pytest.raises(BadInput, match=r"routes to version \$LATEST, which is neither blue"):
        router.read_weights()


def test_lambda_cannot_pin_tenants(aws: AwsClients, function: Function, alias: str) -> None:
    router = router_for(aws, function, alias)

    with pytest.raises(BadInput) as raised:
        router.pin([], "green")

    assert str(raised.value) == "the lambda-alias router cannot pin tenants; use the alb router"
    assert router.pins() == {}


@pytest.mark.parametrize(("versions", "complaint"), [
    ({"blue": 3, "green": 3}, "blue and green must be different versions"),
    ({"blue": "$LATEST", "green": 2}, "version of blue must be a published version number"),
    ({"blue": 1}, "versions needs a published version number for green"),
])
def test_bad_settings_are_bad_input(aws: AwsClients, versions: dict[str, Any],
                                    complaint: str) -> None:
    with pytest.raises(BadInput, match=r"^lambda-alias router settings: ") as raised:
        ROUTERS.get("lambda-alias")(aws, COHORT, {
            "function_name": "orders", "alias": "live", "versions": versions})

    assert complaint in str(raised.value)


def test_an_unknown_function_is_bad_input(aws: AwsClients, function: Function) -> None:
    router = router_for(aws, Function("no-such-function", function.blue, function.green),
                        "live")

    with pytest.raises(BadInput, match="ResourceNotFoundException"):
        router.set_weights({"blue": 100, "green": 0})
