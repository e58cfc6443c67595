"""The local listener's routing, as ALB applies it: rules by priority, then weighted forward."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rollout.local.data_plane.routing import (
    STICKINESS_COOKIE,
    STICKINESS_CORS_COOKIE,
    Condition,
    Forward,
    NoTargetGroup,
    Routed,
    RoutingTable,
    Rule,
    sticky_value,
    table_from_aws,
)

BLUE = "arn:aws:elasticloadbalancing:eu-west-1:123456789012:targetgroup/app-c-blue/1111"
GREEN = "arn:aws:elasticloadbalancing:eu-west-1:123456789012:targetgroup/app-c-green/2222"
OTHER = "arn:aws:elasticloadbalancing:eu-west-1:123456789012:targetgroup/app-c-other/3333"
SPLIT = Forward(((BLUE, 25), (GREEN, 75)))


def only(arn: str) -> Forward:
    return Forward(((arn, 1),))


def host_rule(priority: int, arn: str, *values: str) -> Rule:
    return Rule(priority, (Condition("host-header", values),), only(arn))


def header_rule(priority: int, arn: str, header: str, *values: str) -> Rule:
    return Rule(priority, (Condition("http-header", values, header),), only(arn))


def route(table: RoutingTable, host: str, headers: dict[str, str] | None = None,
          draw: float = 0.0) -> str:
    return table.route(host, headers or {}, draw)


def test_no_rule_matching_means_the_default_forward() -> None:
    table = RoutingTable((host_rule(1, OTHER, "aurora.acme.example"),), only(BLUE))
    assert route(table, "birch.acme.example") == BLUE


def test_rules_apply_by_ascending_priority_whatever_their_order() -> None:
    table = RoutingTable((host_rule(7, GREEN, "*.acme.example"),
                          host_rule(3, OTHER, "aurora.acme.example")), only(BLUE))
    assert route(table, "aurora.acme.example") == OTHER
    assert route(table, "birch.acme.example") == GREEN


@pytest.mark.parametrize(("pattern", "host", "matches"), [
    ("aurora.acme.example", "AURORA.Acme.Example", True),
    ("Aurora.ACME.example", "aurora.acme.example", True),
    ("aurora.acme.example", "aurora.acme.example:8080", True),
    ("*.acme.example", "aurora.acme.example", True),
    ("*.acme.example", "acme.example", False),
    ("aur?ra.acme.example", "aurora.acme.example", True),
    ("aur?ra.acme.example", "aurra.acme.example", False),
    ("aurora.acme.example", "aurora.acme.example.evil", False),
    ("aurora.acme.example", "xaurora.acme.example", False),
    ("a.b", "axb", False),
])
def test_host_values_match_without_case_or_port_and_with_wildcards(
        pattern: str, host: str, matches: bool) -> None:
    table = RoutingTable((host_rule(1, GREEN, pattern),), only(BLUE))
    assert route(table, host) == (GREEN if matches else BLUE)


def test_any_value_of_a_condition_matches() -> None:
    table = RoutingTable((host_rule(1, GREEN, "aurora.acme.example", "birch.acme.example"),),
                         only(BLUE))
    assert [route(table, h) for h in ("aurora.acme.example", "birch.acme.example",
                                      "cedar.acme.example")] == [GREEN, GREEN, BLUE]


@pytest.mark.parametrize(("headers", "matches"), [
    ({"X-Tenant-Id": "aurora"}, True),
    ({"x-tenant-id": "AURORA"}, True),
    ({"X-TENANT-ID": "aurora"}, True),
    ({"X-Tenant-Id": "aurora2"}, False),
    ({"X-Other": "aurora"}, False),
    ({}, False),
])
def test_header_names_and_values_ignore_case(headers: dict[str, str], matches: bool) -> None:
    table = RoutingTable((header_rule(1, GREEN, "X-Tenant-Id", "aurora"),), only(BLUE))
    assert route(table, "any.example", headers) == (GREEN if matches else BLUE)


def test_header_values_take_wildcards() -> None:
    table = RoutingTable((header_rule(1, GREEN, "x-tenant-id", "beta-*", "t?"),), only(BLUE))
    routed = [route(table, "h", {"X-Tenant-Id": value})
              for value in ("beta-7", "t1", "t12", "alpha")]
    assert routed == [GREEN, GREEN, BLUE, BLUE]


def test_every_condition_of_a_rule_must_match() -> None:
    both = Rule(1, (Condition("host-header", ("aurora.acme.example",)),
                    Condition("http-header", ("canary",), "X-Lane")), only(GREEN))
    table = RoutingTable((both,), only(BLUE))
    assert route(table, "aurora.acme.example", {"X-Lane": "canary"}) == GREEN
    assert route(table, "aurora.acme.example") == BLUE
    assert route(table, "birch.acme.example", {"X-Lane": "canary"}) == BLUE


@pytest.mark.parametrize(("draw", "expected"), [
    (0.0, BLUE), (0.2499, BLUE), (0.25, GREEN), (0.9999, GREEN)])
def test_the_draw_picks_by_cumulative_weight(draw: float, expected: str) -> None:
    assert route(RoutingTable((), SPLIT), "h", draw=draw) == expected


@given(st.floats(min_value=0.0, max_value=1.0, exclude_max=True))
def test_a_zero_weight_group_is_never_chosen(draw: float) -> None:
    table = RoutingTable((), Forward(((BLUE, 0), (GREEN, 100), (OTHER, 0))))
    assert route(table, "h", draw=draw) == GREEN


def test_weights_split_draws_in_proportion() -> None:
    table = RoutingTable((), Forward(((BLUE, 1), (GREEN, 3))))
    chosen = [route(table, "h", draw=i / 1000) for i in range(1000)]
    assert chosen.count(BLUE) == 250


def test_a_forward_with_no_positive_weight_sends_nowhere() -> None:
    table = RoutingTable((), Forward(((BLUE, 0), (GREEN, 0))))
    with pytest.raises(NoTargetGroup):
        route(table, "h")


@pytest.mark.parametrize("draw", [-0.1, 1.0])
def test_a_draw_outside_zero_to_one_is_refused(draw: float) -> None:
    with pytest.raises(ValueError, match="draw"):
        route(RoutingTable((), SPLIT), "h", draw=draw)


def forward_action(*groups: tuple[str, int]) -> dict[str, Any]:
    return {"Type": "forward", "ForwardConfig": {
        "TargetGroups": [{"TargetGroupArn": arn, "Weight": w} for arn, w in groups],
        "TargetGroupStickinessConfig": {"Enabled": False}}}


def default_rule(action: dict[str, Any]) -> dict[str, Any]:
    """The listener's default action as ``describe_rules`` lists it: the default rule."""
    return {"RuleArn": "arn:rule/default", "Priority": "default", "IsDefault": True,
            "Conditions": [], "Actions": [action]}


DEFAULT = default_rule(forward_action((BLUE, 25), (GREEN, 75)))
"""After ``AlbRouter.set_weights`` (25/75)."""

RULES: list[dict[str, Any]] = [
    {"RuleArn": "arn:rule/3", "Priority": "3", "IsDefault": False,
     "Conditions": [{"Field": "http-header", "HttpHeaderConfig": {
         "HttpHeaderName": "X-Tenant-Id", "Values": ["zed"]}}],
     "Actions": [forward_action((GREEN, 1))]},
    {"RuleArn": "arn:rule/1", "Priority": "1", "IsDefault": False,
     "Conditions": [{"Field": "host-header", "HostHeaderConfig": {
         "Values": ["aurora.acme.example"]}}],
     "Actions": [forward_action((BLUE, 1))]},
    DEFAULT,
]
"""``describe_rules()["Rules"]``: aurora pinned by host to blue, zed by header to green,
and the rest split 25/75 by the default rule."""


def test_table_from_aws_reads_the_shapes_the_alb_router_writes() -> None:
    table = table_from_aws(RULES)
    assert table == RoutingTable(
        (host_rule(1, BLUE, "aurora.acme.example"),
         header_rule(3, GREEN, "X-Tenant-Id", "zed")),
        Forward(((BLUE, 25), (GREEN, 75))))


def test_the_default_rule_is_the_default_forward_not_a_rule() -> None:
    table = table_from_aws(RULES)
    assert route(table, "birch.acme.example", draw=0.1) == BLUE
    assert route(table, "birch.acme.example", draw=0.9) == GREEN
    assert len(table.rules) == 2


@pytest.mark.parametrize("defaults", [0, 2])
def test_rules_without_exactly_one_default_rule_are_refused(defaults: int) -> None:
    rules = [rule for rule in RULES if rule is not DEFAULT] + [DEFAULT] * defaults
    with pytest.raises(ValueError, match=f"{defaults} default rules"):
        table_from_aws(rules)


def test_table_from_aws_reads_plain_target_group_arns_and_legacy_conditions() -> None:
    rules = [{"Priority": "5", "Conditions": [
        {"Field": "host-header", "Values": ["*.acme.example"]}],
        "Actions": [{"Type": "forward", "TargetGroupArn": GREEN}]},
        default_rule({"Type": "forward", "TargetGroupArn": BLUE})]
    table = table_from_aws(rules)
    assert table == RoutingTable((host_rule(5, GREEN, "*.acme.example"),), only(BLUE))


def test_a_rule_that_does_not_forward_sends_nowhere() -> None:
    rules = [{"Priority": "1", "Conditions": [
        {"Field": "host-header", "HostHeaderConfig": {"Values": ["down.acme.example"]}}],
        "Actions": [{"Type": "fixed-response", "FixedResponseConfig": {"StatusCode": "503"}}]},
        default_rule(forward_action((BLUE, 1)))]
    table = table_from_aws(rules)
    with pytest.raises(NoTargetGroup):
        route(table, "down.acme.example")
    assert route(table, "up.acme.example") == BLUE


def test_a_condition_the_stand_in_cannot_route_by_is_refused() -> None:
    rules = [{"Priority": "1", "Conditions": [
        {"Field": "path-pattern", "PathPatternConfig": {"Values": ["/api/*"]}}],
        "Actions": [forward_action((GREEN, 1))]}, DEFAULT]
    with pytest.raises(ValueError, match="path-pattern"):
        table_from_aws(rules)


STICKY = Forward(((BLUE, 90), (GREEN, 10)), stickiness=3600)
"""The default forward as ``AlbRouter(stickiness="1h").set_weights`` writes it at 90/10."""


def on(arn: str, cookie: str = STICKINESS_COOKIE) -> dict[str, str]:
    """The cookies of a client that ALB made sticky to ``arn``."""
    return {cookie: sticky_value(arn)}


def decide(table: RoutingTable, cookies: dict[str, str], draw: float = 0.0,
           host: str = "birch.acme.example") -> Routed:
    return table.decide(host, {}, draw, cookies)


def test_table_from_aws_reads_the_forward_s_stickiness() -> None:
    sticky = {"Type": "forward", "ForwardConfig": {
        "TargetGroups": [{"TargetGroupArn": BLUE, "Weight": 90},
                         {"TargetGroupArn": GREEN, "Weight": 10}],
        "TargetGroupStickinessConfig": {"Enabled": True, "DurationSeconds": 3600}}}
    assert table_from_aws([default_rule(sticky)]).default == STICKY
    assert table_from_aws(RULES).default.stickiness is None


def test_without_a_cookie_a_sticky_forward_draws_by_weight_and_sets_the_cookie() -> None:
    table = RoutingTable((), STICKY)
    assert decide(table, {}, draw=0.5) == Routed(BLUE, stick_for=3600)
    assert decide(table, {}, draw=0.95) == Routed(GREEN, stick_for=3600)
    assert decide(table, {}, draw=0.95).cookie_value == sticky_value(GREEN)


@given(st.floats(min_value=0.0, max_value=1.0, exclude_max=True),
       st.sampled_from([STICKINESS_COOKIE, STICKINESS_CORS_COOKIE]))
def test_a_client_with_the_cookie_stays_on_its_group_whatever_the_draw(
        draw: float, cookie: str) -> None:
    table = RoutingTable((), STICKY)
    assert decide(table, on(GREEN, cookie), draw) == Routed(GREEN)
    assert decide(table, on(BLUE, cookie), draw) == Routed(BLUE)


def test_the_cookie_wins_over_a_weight_of_zero_as_on_alb() -> None:
    rolled_back = RoutingTable((), Forward(((BLUE, 100), (GREEN, 0)), stickiness=3600))
    assert decide(rolled_back, on(GREEN), draw=0.5) == Routed(GREEN)
    assert decide(rolled_back, {}, draw=0.99) == Routed(BLUE, stick_for=3600)


@pytest.mark.parametrize("cookie", [
    sticky_value(OTHER), GREEN, "garbage", "", sticky_value(GREEN).upper()])
def test_a_cookie_naming_no_group_of_the_action_is_ignored_and_replaced(cookie: str) -> None:
    table = RoutingTable((), STICKY)
    assert decide(table, {STICKINESS_COOKIE: cookie}, draw=0.5) == Routed(BLUE, 3600)


def test_each_group_has_its_own_opaque_cookie_value() -> None:
    values = {sticky_value(arn) for arn in (BLUE, GREEN, OTHER)}
    assert len(values) == 3
    assert not any("targetgroup" in value or "app-c" in value for value in values)


def test_a_forward_without_stickiness_ignores_the_cookie_and_sets_none() -> None:
    table = RoutingTable((), Forward(((BLUE, 90), (GREEN, 10))))
    assert decide(table, on(GREEN), draw=0.5) == Routed(BLUE)


def test_a_pin_rule_comes_before_the_cookie_of_the_weighted_forward() -> None:
    table = RoutingTable((host_rule(1, BLUE, "aurora.acme.example"),), STICKY)
    assert decide(table, on(GREEN), host="aurora.acme.example") == Routed(BLUE)
    assert decide(table, on(GREEN), draw=0.1) == Routed(GREEN)


def test_a_sticky_client_is_routed_even_when_no_group_has_weight() -> None:
    drained = RoutingTable((), Forward(((BLUE, 0), (GREEN, 0)), stickiness=60))
    assert decide(drained, on(BLUE)) == Routed(BLUE)
    with pytest.raises(NoTargetGroup):
        decide(drained, {})
