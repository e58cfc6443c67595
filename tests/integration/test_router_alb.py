"""The ALB router against a moto server: real listener weights, real pin rules, one write."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest

from rollout.aws_clients import AwsClients
from rollout.discovery import CohortResources
from rollout.errors import BadInput
from rollout.model.stack import TenantRef
from rollout.routers.alb import AlbRouter, AlbSettings
from rollout.routers.base import ROUTERS
from tests.conftest import Fleet, listener_weights
from tests.router_checks import INVALID_WEIGHTS, refusal_and_writes, writes_of

pytestmark = pytest.mark.integration


@pytest.fixture
def elbv2(moto_endpoint: str) -> Any:
    """A plain boto3 client, to check what the router wrote without going through it."""
    return boto3.client("elbv2")


def pin_rules(elbv2: Any, cohort: CohortResources) -> list[dict[str, Any]]:
    rules = elbv2.describe_rules(ListenerArn=cohort.listener_arn)["Rules"]
    return [rule for rule in rules if not rule["IsDefault"]]


def forwards_to(rule: dict[str, Any]) -> list[tuple[str, int]]:
    action = rule["Actions"][0]
    groups = action.get("ForwardConfig", {}).get("TargetGroups") or [
        {"TargetGroupArn": action["TargetGroupArn"], "Weight": 1}]
    return [(g["TargetGroupArn"], g["Weight"]) for g in groups if g["Weight"] > 0]


def rule_values(rule: dict[str, Any]) -> list[str]:
    condition = rule["Conditions"][0]
    config = condition.get("HostHeaderConfig") or condition["HttpHeaderConfig"]
    return list(config["Values"])


def tenants(fleet: Fleet, count: int, prefix: str = "x") -> list[TenantRef]:
    return [TenantRef(id=f"{prefix}{i:02d}", host=f"{prefix}{i:02d}.{fleet.app}.example")
            for i in range(count)]


@pytest.fixture
def wave1(fleet: Fleet, aws: AwsClients) -> Iterator[AlbRouter]:
    """The wave1 router; every pin a test leaves behind is removed afterwards."""
    router = AlbRouter(aws, fleet.cohorts["wave1"])
    yield router
    router.unpin(list(router.pins()))


@pytest.mark.parametrize("green", [25, 50, 75, 100])
def test_every_step_lands_on_the_listener_in_one_write(
        fleet: Fleet, aws: AwsClients, green: int) -> None:
    cohort = fleet.cohorts["canary"]
    router = ROUTERS.get("alb")(aws, cohort, {})

    with writes_of(aws, "elbv2") as writes:
        router.set_weights({"blue": 100 - green, "green": green})

    assert writes == ["ModifyListener"]
    assert listener_weights(cohort) == {"blue": 100 - green, "green": green}
    assert router.read_weights() == {"blue": 100 - green, "green": green}


@pytest.mark.parametrize(("weights", "complaint"), INVALID_WEIGHTS)
def test_invalid_weights_are_refused_before_any_write(
        fleet: Fleet, aws: AwsClients, weights: dict[str, int], complaint: str) -> None:
    cohort = fleet.cohorts["canary"]
    router = AlbRouter(aws, cohort)
    router.set_weights({"blue": 70, "green": 30})

    message, writes = refusal_and_writes(router, aws, "elbv2", weights)

    assert complaint in message
    assert writes == []
    assert listener_weights(cohort) == {"blue": 70, "green": 30}


def test_twelve_pins_take_three_rules_and_read_back(
        fleet: Fleet, aws: AwsClients, elbv2: Any, wave1: AlbRouter) -> None:
    cohort = fleet.cohorts["wave1"]
    twelve = tenants(fleet, 12)

    with writes_of(aws, "elbv2") as writes:
        wave1.pin(twelve, "blue")

    assert writes == ["CreateRule"] * 3
    rules = pin_rules(elbv2, cohort)
    assert sorted(len(rule_values(rule)) for rule in rules) == [2, 5, 5]
    assert sorted(v for rule in rules for v in rule_values(rule)) == sorted(
        t.host or "" for t in twelve)
    assert all(forwards_to(rule) == [(cohort.target_group_arns["blue"], 1)] for rule in rules)
    assert AlbRouter(aws, cohort).pins() == {t.id: "blue" for t in twelve}

    with writes_of(aws, "elbv2") as again:
        wave1.pin(twelve[:4], "blue")
    assert again == []


def test_a_pinned_tenant_keeps_the_old_colour_after_a_full_shift(
        fleet: Fleet, aws: AwsClients, elbv2: Any, wave1: AlbRouter) -> None:
    cohort = fleet.cohorts["wave1"]
    wave1.pin([TenantRef(id="cedar")], "blue")

    wave1.set_weights({"blue": 0, "green": 100})

    assert listener_weights(cohort) == {"blue": 0, "green": 100}
    [rule] = pin_rules(elbv2, cohort)
    assert rule_values(rule) == [f"cedar.{fleet.app}.example"]
    assert forwards_to(rule) == [(cohort.target_group_arns["blue"], 1)]
    assert wave1.pins() == {"cedar": "blue"}


def test_pins_move_between_colours_and_unpin_without_duplicates(
        fleet: Fleet, aws: AwsClients, elbv2: Any, wave1: AlbRouter) -> None:
    cohort = fleet.cohorts["wave1"]
    three = tenants(fleet, 3, prefix="m")
    wave1.pin(three, "blue")

    wave1.pin([three[0]], "green")
    wave1.pin([three[0]], "green")

    assert wave1.pins() == {"m00": "green", "m01": "blue", "m02": "blue"}
    by_colour = {cohort.colour_of(forwards_to(r)[0][0]): sorted(rule_values(r))
                 for r in pin_rules(elbv2, cohort)}
    assert by_colour == {"green": [three[0].host], "blue": [three[1].host, three[2].host]}

    wave1.unpin(["m00", "m01"])
    with writes_of(aws, "elbv2") as writes:
        wave1.unpin(["m00", "nobody"])

    assert wave1.pins() == {"m02": "blue"}
    assert writes == []
    assert [rule_values(r) for r in pin_rules(elbv2, cohort)] == [[three[2].host]]


def test_tenants_without_host_are_pinned_by_the_tenant_header(
        fleet: Fleet, elbv2: Any, wave1: AlbRouter) -> None:
    wave1.pin([TenantRef(id="headless-a"), TenantRef(id="headless-b")], "green")

    [rule] = pin_rules(elbv2, fleet.cohorts["wave1"])
    condition = rule["Conditions"][0]
    assert condition["Field"] == "http-header"
    assert condition["HttpHeaderConfig"]["HttpHeaderName"] == "X-Tenant-Id"
    assert sorted(condition["HttpHeaderConfig"]["Values"]) == ["headless-a", "headless-b"]
    assert wave1.pins() == {"headless-a": "green", "headless-b": "green"}


def test_more_pins_than_the_rule_quota_is_bad_input_and_writes_nothing(
        fleet: Fleet, aws: AwsClients, elbv2: Any) -> None:
    cohort = fleet.cohorts["wave1"]
    router = ROUTERS.get("alb")(aws, cohort, {"max_rules": 2})

    with writes_of(aws, "elbv2") as writes, pytest.raises(BadInput) as raised:
        router.pin(tenants(fleet, 11, prefix="q"), "blue")

    assert str(raised.value).startswith(
        "ALB quota: 5 values per condition x 2 rules per listener = 10 pins; "
        "cohort wave1 needs 11")
    assert writes == []
    assert pin_rules(elbv2, cohort) == []


def test_a_hand_edited_pin_rule_is_put_back(
        fleet: Fleet, aws: AwsClients, elbv2: Any, wave1: AlbRouter) -> None:
    cohort = fleet.cohorts["wave1"]
    wave1.pin(tenants(fleet, 2, prefix="d"), "blue")
    [rule] = pin_rules(elbv2, cohort)
    elbv2.modify_rule(RuleArn=rule["RuleArn"], Conditions=[{
        "Field": "host-header", "HostHeaderConfig": {"Values": [
            *rule_values(rule), "intruder.example"]}}])

    wave1.pin(tenants(fleet, 2, prefix="d"), "blue")

    [repaired] = pin_rules(elbv2, cohort)
    assert sorted(rule_values(repaired)) == sorted(t.host or "" for t in tenants(fleet, 2, "d"))


def test_unknown_colour_and_bad_settings_are_bad_input(
        fleet: Fleet, aws: AwsClients, wave1: AlbRouter) -> None:
    with writes_of(aws, "elbv2") as writes, pytest.raises(BadInput, match="unknown colour 'red'"):
        wave1.pin([TenantRef(id="cedar")], "red")  # type: ignore[arg-type]
    assert writes == []
    with pytest.raises(BadInput, match=r"^alb router settings: max_rules: "):
        ROUTERS.get("alb")(aws, fleet.cohorts["wave1"], {"max_rules": 0})
    with pytest.raises(BadInput, match=r"^alb router settings: colour: Extra inputs"):
        ROUTERS.get("alb")(aws, fleet.cohorts["wave1"], {"colour": "blue"})
    assert AlbSettings().max_rules == 100
