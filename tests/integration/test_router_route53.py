"""The Route 53 router against a moto server: two weighted records moved in one change batch."""

from __future__ import annotations

import uuid
from typing import Any

import boto3
import pytest

from rollout.aws_clients import AwsClients
from rollout.errors import BadInput
from rollout.routers.base import ROUTERS, TrafficRouter
from tests.router_checks import INVALID_WEIGHTS, refusal_and_writes, stand_in_cohort, writes_of

pytestmark = pytest.mark.integration

COHORT = stand_in_cohort("dns")


@pytest.fixture(scope="module")
def zone_id(moto_endpoint: str) -> str:
    zone = boto3.client("route53").create_hosted_zone(
        Name="acme.example", CallerReference=uuid.uuid4().hex)["HostedZone"]["Id"]
    return str(zone)


def weighted(zone_id: str, name: str) -> dict[str, tuple[int, list[str]]]:
    """Set identifier → (weight, values) of ``name``'s records, read with plain boto3."""
    records = boto3.client("route53").list_resource_record_sets(
        HostedZoneId=zone_id, StartRecordName=name)["ResourceRecordSets"]
    return {r["SetIdentifier"]: (r["Weight"], [v["Value"] for v in r["ResourceRecords"]])
            for r in records if r["Name"] == f"{name}." and "SetIdentifier" in r}


def router_for(aws: AwsClients, zone_id: str, name: str, **extra: Any) -> TrafficRouter:
    settings = {"hosted_zone_id": zone_id, "record_name": name,
                "targets": {"blue": f"blue.{name}", "green": f"green.{name}"}, **extra}
    router: TrafficRouter = ROUTERS.get("route53")(aws, COHORT, settings)
    return router


def fresh_name() -> str:
    return f"app-{uuid.uuid4().hex[:8]}.acme.example"


def test_every_step_moves_both_records_in_one_change_batch(
        aws: AwsClients, zone_id: str) -> None:
    name = fresh_name()
    router = router_for(aws, zone_id, name, ttl=30)

    for green in (25, 50, 75, 100):
        with writes_of(aws, "route53") as writes:
            router.set_weights({"blue": 100 - green, "green": green})

        assert writes == ["ChangeResourceRecordSets"]
        assert weighted(zone_id, name) == {"blue": (100 - green, [f"blue.{name}"]),
                                           "green": (green, [f"green.{name}"])}
        assert router.read_weights() == {"blue": 100 - green, "green": green}


@pytest.mark.parametrize(("weights", "complaint"), [
    *INVALID_WEIGHTS[:2],
    ({"blue": 0, "green": 256}, "weight of green must be between 0 and 255 for Route 53"),
    *INVALID_WEIGHTS[2:],
])
def test_invalid_weights_are_refused_before_any_write(
        aws: AwsClients, zone_id: str, weights: dict[str, int], complaint: str) -> None:
    name = fresh_name()
    router = router_for(aws, zone_id, name)
    router.set_weights({"blue": 90, "green": 10})

    message, writes = refusal_and_writes(router, aws, "route53", weights)

    assert complaint in message
    assert writes == []
    assert {k: w for k, (w, _) in weighted(zone_id, name).items()} == {"blue": 90, "green": 10}


def test_a_records_carry_every_target_of_a_colour(aws: AwsClients, zone_id: str) -> None:
    name = fresh_name()
    router = router_for(aws, zone_id, name, record_type="A", targets={
        "blue": ["10.0.0.1", "10.0.0.2"], "green": "10.1.0.1"})

    router.set_weights({"blue": 0, "green": 1})

    assert weighted(zone_id, name) == {"blue": (0, ["10.0.0.1", "10.0.0.2"]),
                                       "green": (1, ["10.1.0.1"])}


def test_reading_weights_before_the_records_exist_says_so(
        aws: AwsClients, zone_id: str) -> None:
    name = fresh_name()

    with pytest.raises(BadInput, match=rf"has no weighted CNAME record {name}\. with set"):
        router_for(aws, zone_id, name).read_weights()


def test_route53_cannot_pin_tenants(aws: AwsClients, zone_id: str) -> None:
    router = router_for(aws, zone_id, fresh_name())

    with pytest.raises(BadInput) as raised:
        router.pin([], "blue")

    assert str(raised.value) == "the route53 router cannot pin tenants; use the alb router"
    assert router.pins() == {}


@pytest.mark.parametrize(("settings", "complaint"), [
    ({"targets": {"blue": ["a.example", "b.example"], "green": "g.example"}},
     "a CNAME record has exactly one value; blue has 2"),
    ({"targets": {"blue": "b.example"}}, "targets needs at least one value for green"),
    ({"ttl": -5}, "ttl: Input should be greater than or equal to 0"),
])
def test_bad_settings_name_the_field(aws: AwsClients, zone_id: str, settings: dict[str, Any],
                                     complaint: str) -> None:
    with pytest.raises(BadInput, match=r"^route53 router settings: ") as raised:
        router_for(aws, zone_id, fresh_name(), **settings)

    assert complaint in str(raised.value)


def test_an_unknown_hosted_zone_is_bad_input(aws: AwsClients) -> None:
    router = router_for(aws, "Z0NOSUCHZONE", fresh_name())

    with pytest.raises(BadInput, match="NoSuchHostedZone"):
        router.set_weights({"blue": 100, "green": 0})
