"""Blue/green on the cohort's ALB listener: weighted forward, tenant pins as listener rules.

The listener's default action forwards to both colours' target groups with
weights; :meth:`AlbRouter.set_weights` rewrites it in one ``ModifyListener`` call
built from the cohort's known target groups (no read first), which is what makes
a rollback one write. Pinned tenants get listener rules that forward 100% to
their colour whatever the weights say. The rules are tagged, so the router can
read its pins back in a later process: ``rollout:pin-colour`` marks a pin rule and
``rollout:pin-tenant:<id>`` names the value that recognises each tenant (a host
name alone does not say which tenant it belongs to).

The test route (:mod:`rollout.vocabulary.test_route`) is one more rule, tagged
``rollout:test-route``: an ``http-header`` condition on ``test_header`` with the
rollout's token, forwarding to the idle colour. ALB evaluates rules by priority, lowest
first, so it sits at ``first_priority`` and pins start one above: a pinned tenant's
smoke test with the token reaches the new colour too. A pin an older layout left at that
priority is moved up first (``SetRulePriorities``); a rule of someone else's there is
refused, naming it.

``stickiness`` (a duration, 1 s to 7 days) turns on ALB's target group stickiness on the
weighted forward: a client's first answer comes from a colour drawn by weight, with a
cookie (``AWSALBTG``) that sends the client's later requests to that same colour for
``stickiness``, whatever the weights do meanwhile. A shift then moves *sessions* rather
than requests: a user who landed on green keeps seeing green while the weights go from
10 to 50, instead of flipping between versions request by request (Flagger's session
affinity and Argo Rollouts' ALB ``stickinessConfig`` do the same for canaries). The
price, as on ALB: a sticky client stays on its colour even once that colour's weight is
0, so a rollback reaches it only when its cookie expires; keep ``stickiness`` short
next to how fast a rollback must bite. Pinned tenants are not affected: their rules
forward to one colour and come before the weighted forward.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator

from rollout.aws_clients import AwsClients
from rollout.aws_errors import AwsErrors
from rollout.discovery import CohortResources
from rollout.errors import BadInput
from rollout.model.stack import TenantRef
from rollout.routers.base import (
    ROUTERS,
    IamStatement,
    ServiceRouter,
    Weights,
    checked_settings,
    validate_weights,
)
from rollout.routers.pin_rules import (
    DEFAULT_MAX_RULES,
    HOST_HEADER,
    HTTP_HEADER,
    MAX_PRIORITY,
    MatchField,
    PinLimits,
    PinMatch,
    PinRule,
    PinRulePlan,
    TenantPin,
    pins_of,
    plan_pin_rules,
)
from rollout.vocabulary.colours import COLOURS, Colour
from rollout.vocabulary.durations import Duration, format_duration
from rollout.vocabulary.tags import TAG_APP, TAG_COHORT
from rollout.vocabulary.test_route import DEFAULT_TEST_HEADER, TestRoute

PIN_COLOUR_TAG = "rollout:pin-colour"
PIN_TENANT_TAG = "rollout:pin-tenant:"
TEST_ROUTE_TAG = "rollout:test-route"
HEADER_NAME = r"^[A-Za-z0-9!#$%&'*+.^_`|~-]{1,40}$"
DESCRIBE_TAGS_BATCH = 20
DESCRIBE_RULES_PAGE = 400
MAX_STICKINESS = 604_800
"""ALB's longest target group stickiness: 7 days, in seconds (the shortest is 1 s)."""


class AlbSettings(BaseModel):
    """How the ALB router pins tenants; every field has a default that suits a fresh account.

    ``max_rules`` is the account's rules-per-listener quota (100 unless raised);
    ``header_too`` also pins hosted tenants by ``header_name``, for clients that
    reach the cohort through a shared host; ``first_priority`` is the test route's rule
    priority, pin rules taking the ones above it; ``test_header`` is the header a test
    route matches; ``stickiness`` (a duration such as ``1h``, 1 s to 7 days, in whole
    seconds as ALB counts them) keeps a client on the colour of its first answer for that
    long while weights move (ALB target group stickiness on the weighted forward; see
    the module's docstring for why, and what it costs a rollback).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    max_rules: int = Field(default=DEFAULT_MAX_RULES, ge=1, le=MAX_PRIORITY)
    header_name: str = Field(default="X-Tenant-Id", pattern=HEADER_NAME)
    header_too: bool = False
    first_priority: int = Field(default=1, ge=1, le=MAX_PRIORITY - 1)
    test_header: str = Field(default=DEFAULT_TEST_HEADER, pattern=HEADER_NAME)
    stickiness: Duration | None = Field(default=None, description="seconds")

    @field_validator("stickiness")
    @classmethod
    def _alb_stickiness(cls, seconds: float | None) -> float | None:
        if seconds is None:
            return None
        if not 1 <= seconds <= MAX_STICKINESS or seconds != int(seconds):
            raise ValueError(f"ALB keeps a client on one target group for whole seconds from "
                             f"1s to 7d, not {format_duration(seconds)}")
        return seconds

    @field_validator("test_header")
    @classmethod
    def _not_the_tenant_header(cls, name: str, info: ValidationInfo) -> str:
        if name.lower() == str(info.data.get("header_name", "")).lower():
            raise ValueError("the test route's header must differ from header_name, which "
                             "pins tenants")
        return name

    @property
    def stickiness_config(self) -> dict[str, Any] | None:
        """The forward's ``TargetGroupStickinessConfig``, or None without ``stickiness``."""
        if self.stickiness is None:
            return None
        return {"Enabled": True, "DurationSeconds": int(self.stickiness)}


@dataclass(frozen=True)
class ListenerRules:
    """The listener's rules as the router sees them: its pin rules and everyone else's."""

    pins: list[PinRule]
    tags: dict[str, dict[str, str]]
    other_priorities: frozenset[int]
    """Priorities of every rule that is not a pin (the test route's among them)."""
    test_routes: list[dict[str, Any]]
    """The test route rules as described (one, unless a crash left a second)."""


def listener_rule_arns(listener_arn: str) -> str:
    """ARN pattern of every rule of one listener (tenant pins are listener rules)."""
    return listener_arn.replace(":listener/", ":listener-rule/", 1) + "/*"


class AlbRouter(ServiceRouter[AlbSettings]):
    """Weights and pins of one cohort's listener."""

    can_pin = True
    service = "elbv2"

    def __init__(self, clients: AwsClients, cohort: CohortResources,
                 settings: AlbSettings | None = None) -> None:
        super().__init__(clients, cohort, settings or AlbSettings())

    def _refusals(self) -> AwsErrors:
        cohort = self._cohort
        return AwsErrors(
            "Elastic Load Balancing", f"the listener of cohort {cohort.cohort} "
            f"({cohort.listener_arn}) or one of its target groups",
            lambda code: code.endswith("NotFound"), "redeploy the cohort stack")

    def read_weights(self) -> Weights:
        with self._errors.mapped("reading the listener"):
            listener = self._client.describe_listeners(
                ListenerArns=[self._cohort.listener_arn])["Listeners"][0]
        weights: Weights = dict.fromkeys(COLOURS, 0)
        for action in listener["DefaultActions"]:
            if action["Type"] == "forward":
                for arn, weight in _forward_targets(action):
                    weights[self._cohort.colour_of(arn)] = weight
        return weights

    def set_weights(self, weights: Weights) -> None:
        """Both colours' weights in one ``ModifyListener``; with ``stickiness`` the forward
        keeps clients on the colour they first landed on (see the module's docstring)."""
        checked = validate_weights(weights)
        forward: dict[str, Any] = {"TargetGroups": [
            {"TargetGroupArn": self._target_group(colour), "Weight": checked[colour]}
            for colour in COLOURS]}
        stickiness = self._settings.stickiness_config
        if stickiness is not None:
            forward["TargetGroupStickinessConfig"] = stickiness
        with self._errors.mapped("setting weights"):
            self._client.modify_listener(
                ListenerArn=self._cohort.listener_arn,
                DefaultActions=[{"Type": "forward", "ForwardConfig": forward}])

    def pin(self, tenants: list[TenantRef], colour: Colour) -> None:
        if colour not in COLOURS:
            raise BadInput(f"unknown colour {colour!r} (colours: blue, green)")
        rules = self._listener_rules()
        current = pins_of(rules.pins)
        known_hosts = {t.id: t.host for t in self._cohort.tenants if t.host}
        for tenant in tenants:
            old = current.get(tenant.id)
            host = tenant.host or known_hosts.get(tenant.id) or (old.host if old else None)
            current[tenant.id] = TenantPin(tenant.id, colour, host)
        self._apply(rules, list(current.values()))

    def unpin(self, tenant_ids: list[str]) -> None:
        rules = self._listener_rules()
        current = pins_of(rules.pins)
        if not set(tenant_ids) & set(current):
            return
        self._apply(rules, [pin for tenant, pin in current.items() if tenant not in tenant_ids])

    def pins(self) -> dict[str, Colour]:
        return {tenant: pin.colour for tenant, pin in pins_of(self._listener_rules().pins).items()}

    def test_route(self) -> TestRoute | None:
        found = self._listener_rules().test_routes
        return self._read_test_route(found[0]) if found else None

    def open_test_route(self, colour: Colour, token: str) -> TestRoute:
        """One rule at ``first_priority`` forwarding ``test_header: token`` to ``colour``."""
        if colour not in COLOURS:
            raise BadInput(f"unknown colour {colour!r} (colours: blue, green)")
        rules = self._listener_rules()
        priority = self._settings.first_priority
        conditions = [{"Field": HTTP_HEADER, "HttpHeaderConfig": {
            "HttpHeaderName": self._settings.test_header, "Values": [token]}}]
        actions = self._forward_to(colour)
        with self._errors.mapped("opening the test route"):
            for stale in rules.test_routes[1:]:
                self._client.delete_rule(RuleArn=stale["RuleArn"])
            if rules.test_routes and int(rules.test_routes[0]["Priority"]) == priority:
                arn = str(rules.test_routes[0]["RuleArn"])
                self._client.modify_rule(RuleArn=arn, Conditions=conditions, Actions=actions)
                self._client.add_tags(ResourceArns=[arn], Tags=[
                    {"Key": TEST_ROUTE_TAG, "Value": colour}])
            else:
                for old in rules.test_routes[:1]:
                    self._client.delete_rule(RuleArn=old["RuleArn"])
                self._free_priority(rules, priority)
                arn = str(self._client.create_rule(
                    ListenerArn=self._cohort.listener_arn, Priority=priority,
                    Conditions=conditions, Actions=actions, Tags=[
                        {"Key": TAG_APP, "Value": self._cohort.app},
                        {"Key": TAG_COHORT, "Value": self._cohort.cohort},
                        {"Key": TEST_ROUTE_TAG, "Value": colour}])["Rules"][0]["RuleArn"])
        return TestRoute(self._settings.test_header, token, colour, arn)

    def close_test_route(self) -> None:
        found = self._listener_rules().test_routes
        with self._errors.mapped("closing the test route"):
            for rule in found:
                self._client.delete_rule(RuleArn=rule["RuleArn"])

    def _free_priority(self, rules: ListenerRules, priority: int) -> None:
        """Make ``priority`` free for the test route: a pin of an older layout there moves
        to the first free priority above; anyone else's rule there is refused."""
        holder = next((pin for pin in rules.pins if pin.priority == priority), None)
        if holder is None:
            if priority in rules.other_priorities:
                raise BadInput(
                    f"listener rule priority {priority} of cohort {self._cohort.cohort} is "
                    "taken by a rule rollout did not create; it is the test route's: free it "
                    "or set router.first_priority to a free priority")
            return
        taken = rules.other_priorities | {pin.priority for pin in rules.pins}
        free = next(p for p in range(priority + 1, MAX_PRIORITY + 1) if p not in taken)
        self._client.set_rule_priorities(RulePriorities=[
            {"RuleArn": holder.arn, "Priority": free}])

    def _read_test_route(self, rule: dict[str, Any]) -> TestRoute | None:
        """A test route rule read back; None when it is no longer one (edited by hand)."""
        conditions = rule.get("Conditions", [])
        colour = self._forward_colour(rule.get("Actions", []))
        config = conditions[0].get("HttpHeaderConfig", {}) if len(conditions) == 1 else {}
        values = list(config.get("Values") or [])
        if colour is None or len(values) != 1:
            return None
        return TestRoute(str(config.get("HttpHeaderName")), str(values[0]), colour,
                         str(rule["RuleArn"]))

    def iam_statements(self, account: str) -> list[IamStatement]:
        """The cohort's listener and its rules; ELB's reads have no resource-level grain."""
        return [
            IamStatement(sid="ReadTheListenerAndItsRules", resources=["*"], actions=[
                "elasticloadbalancing:DescribeListeners", "elasticloadbalancing:DescribeRules",
                "elasticloadbalancing:DescribeTags"]),
            IamStatement(sid="ShiftTrafficOnTheCohortListener",
                         resources=[self._cohort.listener_arn],
                         actions=["elasticloadbalancing:ModifyListener",
                                  "elasticloadbalancing:CreateRule"]),
            IamStatement(sid="PinTenantsWithListenerRules",
                         resources=[listener_rule_arns(self._cohort.listener_arn)], actions=[
                             "elasticloadbalancing:ModifyRule", "elasticloadbalancing:DeleteRule",
                             "elasticloadbalancing:SetRulePriorities",
                             "elasticloadbalancing:AddTags", "elasticloadbalancing:RemoveTags"]),
        ]

    def _target_group(self, colour: Colour) -> str:
        try:
            return self._cohort.target_group_arns[colour]
        except KeyError:
            raise BadInput(f"cohort {self._cohort.cohort} has no {colour} target group") from None

    def _listener_rules(self) -> ListenerRules:
        with self._errors.mapped("reading the listener rules"):
            pages = self._client.get_paginator("describe_rules").paginate(
                ListenerArn=self._cohort.listener_arn, PaginationConfig={
                    "PageSize": DESCRIBE_RULES_PAGE})
            described = [rule for page in pages for rule in page["Rules"]
                         if not rule.get("IsDefault")]
            tags: dict[str, dict[str, str]] = {}
            arns = [rule["RuleArn"] for rule in described]
            for start in range(0, len(arns), DESCRIBE_TAGS_BATCH):
                batch = self._client.describe_tags(
                    ResourceArns=arns[start:start + DESCRIBE_TAGS_BATCH])
                for item in batch["TagDescriptions"]:
                    tags[item["ResourceArn"]] = {t["Key"]: t["Value"] for t in item["Tags"]}
        pins: list[PinRule] = []
        others: set[int] = set()
        test_routes: list[dict[str, Any]] = []
        for rule in described:
            rule_tags = tags.get(rule["RuleArn"], {})
            if rule_tags.get(PIN_COLOUR_TAG) in COLOURS:
                pins.append(self._pin_rule(rule, rule_tags))
                continue
            others.add(int(rule["Priority"]))
            if TEST_ROUTE_TAG in rule_tags:
                test_routes.append(rule)
        return ListenerRules(pins, tags, frozenset(others), test_routes)

    def _pin_rule(self, rule: dict[str, Any], tags: dict[str, str]) -> PinRule:
        """Read one tagged rule back; anything it does beyond its tags marks it drifted."""
        tag_colour: Colour = "green" if tags[PIN_COLOUR_TAG] == "green" else "blue"
        tenants = {key.removeprefix(PIN_TENANT_TAG): value for key, value in tags.items()
                   if key.startswith(PIN_TENANT_TAG)}
        conditions = rule.get("Conditions", [])
        parsed = _condition(conditions[0], self._settings.header_name) if conditions else None
        colour = self._forward_colour(rule.get("Actions", []))
        if parsed is None or len(conditions) != 1 or colour is None:
            return PinRule(tag_colour, HOST_HEADER, (), int(rule["Priority"]), rule["RuleArn"],
                           drifted=True)
        field, values = parsed
        matches = [PinMatch(field, value, tenant) for tenant, value in tenants.items()
                   if value in values]
        explained = {match.value for match in matches}
        if field == HTTP_HEADER:
            matches += [PinMatch(field, value, value) for value in values
                        if value not in explained]
        drifted = (len(matches) != len(values) or len(matches) != len(tenants)
                   or colour != tag_colour)
        return PinRule(colour, field, tuple(sorted(matches)), int(rule["Priority"]),
                       rule["RuleArn"], drifted)

    def _forward_colour(self, actions: list[dict[str, Any]]) -> Colour | None:
        """The colour a rule forwards 100% to, or None if it does anything else."""
        if len(actions) != 1 or actions[0]["Type"] != "forward":
            return None
        targets = [arn for arn, weight in _forward_targets(actions[0]) if weight > 0]
        colours = [c for c in COLOURS if [self._cohort.target_group_arns.get(c)] == targets]
        return colours[0] if colours else None

    def _apply(self, rules: ListenerRules, wanted: list[TenantPin]) -> None:
        """Plan the layout, then write only the difference: new rules first, deletions last.

        A tenant moving to a new rule is routed by both for a moment rather than
        by neither; a crash part-way leaves rules that the next pin call repairs.
        """
        limits = PinLimits(
            max_rules=self._settings.max_rules, other_rules=len(rules.other_priorities),
            taken_priorities=rules.other_priorities,
            first_priority=self._settings.first_priority + 1,
            header_too=self._settings.header_too)
        plan = plan_pin_rules(rules.pins, wanted, limits, self._cohort.cohort)
        with self._errors.mapped("changing pin rules"):
            if plan.delete_first:
                self._delete(plan)
            for rule in plan.create:
                self._client.create_rule(
                    ListenerArn=self._cohort.listener_arn, Priority=rule.priority,
                    Conditions=self._conditions(rule), Actions=self._actions(rule),
                    Tags=[{"Key": k, "Value": v} for k, v in self._tags(rule).items()])
            for change in plan.modify:
                self._modify(change.after, rules.tags.get(change.after.arn or "", {}))
            if not plan.delete_first:
                self._delete(plan)

    def _delete(self, plan: PinRulePlan) -> None:
        for rule in plan.delete:
            self._client.delete_rule(RuleArn=rule.arn)

    def _modify(self, rule: PinRule, actual_tags: dict[str, str]) -> None:
        self._client.modify_rule(RuleArn=rule.arn, Conditions=self._conditions(rule),
                                 Actions=self._actions(rule))
        wanted = self._tags(rule)
        add = [{"Key": k, "Value": v} for k, v in wanted.items() if actual_tags.get(k) != v]
        stale = [k for k in actual_tags if k.startswith(PIN_TENANT_TAG) and k not in wanted]
        if add:
            self._client.add_tags(ResourceArns=[rule.arn], Tags=add)
        if stale:
            self._client.remove_tags(ResourceArns=[rule.arn], TagKeys=stale)

    def _conditions(self, rule: PinRule) -> list[dict[str, Any]]:
        if rule.field == HOST_HEADER:
            return [{"Field": HOST_HEADER, "HostHeaderConfig": {"Values": rule.values}}]
        return [{"Field": HTTP_HEADER, "HttpHeaderConfig": {
            "HttpHeaderName": self._settings.header_name, "Values": rule.values}}]

    def _actions(self, rule: PinRule) -> list[dict[str, Any]]:
        return self._forward_to(rule.colour)

    def _forward_to(self, colour: Colour) -> list[dict[str, Any]]:
        return [{"Type": "forward", "ForwardConfig": {"TargetGroups": [
            {"TargetGroupArn": self._target_group(colour), "Weight": 1}]}}]

    def _tags(self, rule: PinRule) -> dict[str, str]:
        return {TAG_APP: self._cohort.app, TAG_COHORT: self._cohort.cohort,
                PIN_COLOUR_TAG: rule.colour,
                **{f"{PIN_TENANT_TAG}{m.tenant_id}": m.value for m in rule.matches}}


def _forward_targets(action: dict[str, Any]) -> list[tuple[str, int]]:
    """(target group ARN, weight) pairs of a forward action, in either of its API shapes."""
    groups = action.get("ForwardConfig", {}).get("TargetGroups")
    if groups:
        return [(group["TargetGroupArn"], int(group.get("Weight", 1))) for group in groups]
    if action.get("TargetGroupArn"):
        return [(action["TargetGroupArn"], 1)]
    return []


def _condition(condition: dict[str, Any], header_name: str) -> tuple[MatchField, list[str]] | None:
    """A pin rule's one condition as (kind, values), or None if it is not one of ours."""
    if condition.get("Field") == HOST_HEADER:
        values = condition.get("HostHeaderConfig", {}).get("Values") or condition.get("Values")
        return (HOST_HEADER, [v.lower() for v in values or []])
    config = condition.get("HttpHeaderConfig", {})
    if (condition.get("Field") == HTTP_HEADER
            and str(config.get("HttpHeaderName", "")).lower() == header_name.lower()):
        return (HTTP_HEADER, list(config.get("Values") or []))
    return None


@ROUTERS.register("alb")
def alb_router(clients: AwsClients, cohort: CohortResources,
               settings: Mapping[str, Any]) -> AlbRouter:
    """The ``alb`` router of ``cohort``; ``settings`` are checked against :class:`AlbSettings`."""
    return AlbRouter(clients, cohort, checked_settings(AlbSettings, "alb", settings))
