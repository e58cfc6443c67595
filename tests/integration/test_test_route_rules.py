"""Where the test route's rule goes among the listener's rules, on a moto server.

ALB evaluates rules lowest priority first, so the test route takes ``first_priority`` and
the pins the priorities above it. A pin an older layout left at that priority is moved up;
a rule rollout did not create there is refused, nothing written.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest

from rollout.errors import BadInput
from rollout.routers.alb import PIN_COLOUR_TAG, PIN_TENANT_TAG, AlbRouter, AlbSettings
from tests.conftest import Fleet, deploy_fleet

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def fleet(moto_endpoint: str, tmp_path_factory: pytest.TempPathFactory) -> Fleet:
    return deploy_fleet(tmp_path_factory.mktemp("test-route-rules"), {"r": ["aurora", "birch"]})


@pytest.fixture
def router(fleet: Fleet) -> Iterator[AlbRouter]:
    alb = AlbRouter(fleet.clients, fleet.cohorts["r"])
    yield alb
    alb.close_test_route()
    alb.unpin(list(alb.pins()))
    elbv2 = boto3.client("elbv2")
    for rule in _rules(fleet):
        elbv2.delete_rule(RuleArn=rule["RuleArn"])


def _rules(fleet: Fleet) -> list[dict[str, Any]]:
    return [rule for rule in boto3.client("elbv2").describe_rules(
        ListenerArn=fleet.cohorts["r"].listener_arn)["Rules"] if not rule["IsDefault"]]


def _priorities(fleet: Fleet) -> dict[str, int]:
    """Rule ARN → priority."""
    return {rule["RuleArn"]: int(rule["Priority"]) for rule in _rules(fleet)}


def _forward(fleet: Fleet, colour: str) -> list[dict[str, Any]]:
    return [{"Type": "forward", "TargetGroupArn": fleet.cohorts["r"].target_group_arns[colour]}]


def test_the_test_route_comes_before_every_pin(fleet: Fleet, router: AlbRouter) -> None:
    cohort = fleet.cohorts["r"]
    router.pin(cohort.tenants, "blue")
    route = router.open_test_route("green", "a-token")

    priorities = _priorities(fleet)
    assert route.rule is not None and priorities.pop(route.rule) == 1
    assert priorities and min(priorities.values()) > 1
    assert router.pins() == {"aurora": "blue", "birch": "blue"}


def test_a_pin_an_older_layout_left_at_the_test_routes_priority_moves_up(
        fleet: Fleet, router: AlbRouter) -> None:
    cohort = fleet.cohorts["r"]
    aurora = cohort.tenants[0]
    old = boto3.client("elbv2").create_rule(
        ListenerArn=cohort.listener_arn, Priority=1, Actions=_forward(fleet, "blue"),
        Conditions=[{"Field": "host-header", "HostHeaderConfig": {"Values": [aurora.host]}}],
        Tags=[{"Key": PIN_COLOUR_TAG, "Value": "blue"},
              {"Key": f"{PIN_TENANT_TAG}{aurora.id}", "Value": str(aurora.host)}],
    )["Rules"][0]["RuleArn"]

    route = router.open_test_route("green", "a-token")

    priorities = _priorities(fleet)
    assert route.rule is not None and priorities[route.rule] == 1
    assert priorities[old] == 2
    assert router.pins() == {aurora.id: "blue"}


def test_someone_elses_rule_at_that_priority_is_refused_and_nothing_is_written(
        fleet: Fleet, router: AlbRouter) -> None:
    theirs = boto3.client("elbv2").create_rule(
        ListenerArn=fleet.cohorts["r"].listener_arn, Priority=1, Actions=_forward(fleet, "blue"),
        Conditions=[{"Field": "path-pattern", "PathPatternConfig": {"Values": ["/admin/*"]}}],
    )["Rules"][0]["RuleArn"]

    with pytest.raises(BadInput, match=r"priority 1 of cohort r is taken by a rule rollout "
                                       r"did not create.*router.first_priority"):
        router.open_test_route("green", "a-token")
    assert _priorities(fleet) == {theirs: 1}

    moved = AlbRouter(fleet.clients, fleet.cohorts["r"], AlbSettings(first_priority=5))
    route = moved.open_test_route("green", "a-token")
    assert route.rule is not None and _priorities(fleet)[route.rule] == 5


def test_the_test_header_may_not_be_the_tenant_header() -> None:
    with pytest.raises(ValueError, match="must differ from header_name"):
        AlbSettings(header_name="X-Tenant", test_header="x-tenant")
