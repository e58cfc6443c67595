"""The Lambda alias router against a moto server: weights as the alias's routing config.

Only functions, versions and aliases are created here; nothing is invoked, so
moto never needs Docker.
"""

from __future__ import annotations

import uuid
from typing import Any

import boto3
import pytest

from rollout.aws_clients import AwsClients
from rollout.errors import BadInput
from rollout.routers.base import ROUTERS, TrafficRouter
from tests.router_checks import (
    INVALID_WEIGHTS,
    Function,
    refusal_and_writes,
    stand_in_cohort,
    two_published_versions,
    writes_of,
)

pytestmark = pytest.mark.integration

COHORT = stand_in_cohort("fn")


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
        with writes_of(aws, "lambda") as writes:
            router.set_weights({"blue": 100 - green, "green": green})

        assert writes == ["UpdateAlias"]
        assert routing(function, alias) == (primary, extra)
        assert router.read_weights() == {"blue": 100 - green, "green": green}


def test_rolling_back_clears_the_split_in_one_write(
        aws: AwsClients, function: Function, alias: str) -> None:
    router = router_for(aws, function, alias)
    router.set_weights({"blue": 25, "green": 75})

    with writes_of(aws, "lambda") as writes:
        router.set_weights({"blue": 100, "green": 0})

    assert writes == ["UpdateAlias"]
    assert routing(function, alias) == (function.blue, {})
    assert router.read_weights() == {"blue": 100, "green": 0}


@pytest.mark.parametrize(("weights", "complaint"), INVALID_WEIGHTS)
def test_invalid_weights_are_refused_before_any_write(
        aws: AwsClients, function: Function, alias: str, weights: dict[str, int],
        complaint: str) -> None:
    router = router_for(aws, function, alias)
    router.set_weights({"blue": 90, "green": 10})

    message, writes = refusal_and_writes(router, aws, "lambda", weights)

    assert complaint in message
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
