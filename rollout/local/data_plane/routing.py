"""The listener's routing as ALB applies it: rules by priority, then a weighted forward.

Pure (no boto3, no I/O), so the local listener routes exactly what these functions say
and the unit tests can check every ALB rule of matching on its own: rules in ascending
priority, all conditions of a rule must match, any value of one condition matches,
values compare without case and take ``*`` and ``?`` wildcards, the host is compared
without its port; no matching rule means the listener's default action. A forward's
target group is chosen by a ``draw`` in [0, 1) against the cumulative weights of the
groups that have a weight above zero, so a group at weight 0 never gets a drawn request.

A forward with target group stickiness (``TargetGroupStickinessConfig`` enabled, as the
ALB router's ``stickiness`` writes it) routes as ALB's documentation says: a request
carrying the stickiness cookie (``AWSALBTG``, or its ``SameSite=None`` twin
``AWSALBTGCORS``) for one of the action's target groups goes to that group; any other
request is drawn by weight and its answer sets the cookie for the drawn group, for the
configured duration (an honoured cookie is not set again, so a session is sticky for that
long from its first answer, however busy it stays). The cookie wins over the weights,
even a weight of 0: ALB routes "to the target group specified in the cookie" and makes
no exception for weight, so a sticky client leaves a colour whose weight fell to 0 (a
rollback) only when its cookie expires. The cookie's value is opaque, as ALB's (which
ALB encrypts): a digest of the target group ARN, which names one group of one account
and region, so it cannot be mistaken for another listener's group; a value naming no
group of the action (another listener's, a forged or stale one) is ignored and the
request drawn anew.
"""

from __future__ import annotations

import functools
import hashlib
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

ConditionField = Literal["host-header", "http-header"]
FIELDS: tuple[ConditionField, ...] = ("host-header", "http-header")
STICKINESS_COOKIE = "AWSALBTG"
STICKINESS_CORS_COOKIE = "AWSALBTGCORS"
"""The same value as :data:`STICKINESS_COOKIE`, set ``SameSite=None; Secure`` for
cross-origin requests; ALB sets both and reads either."""


class NoTargetGroup(LookupError):
    """The action chosen sends nowhere (no group with a weight above zero, or not a forward);
    the listener answers such a request itself, as ALB does, with a 503."""


def sticky_value(target_group_arn: str) -> str:
    """The stickiness cookie's value for one target group: opaque, one per group ARN."""
    return hashlib.sha256(target_group_arn.encode()).hexdigest()[:32]


@dataclass(frozen=True)
class Routed:
    """Where a request goes, and whether its answer sets the stickiness cookie."""

    target_group: str
    stick_for: int | None = None
    """Seconds the answer's cookie keeps the client on ``target_group``; None when the
    answer sets no cookie (a forward without stickiness, or a cookie honoured)."""

    @property
    def cookie_value(self) -> str:
        return sticky_value(self.target_group)


@dataclass(frozen=True)
class Forward:
    """A forward action: (target group ARN, weight) pairs, and its target group
    stickiness in seconds when enabled."""

    groups: tuple[tuple[str, int], ...]
    stickiness: int | None = None

    def choose(self, draw: float) -> str:
        """The group ``draw`` falls on among the cumulative positive weights."""
        live = [(arn, weight) for arn, weight in self.groups if weight > 0]
        total = sum(weight for _, weight in live)
        if not live:
            raise NoTargetGroup("the action forwards to no target group with a weight above 0")
        point = draw * total
        reached = 0
        for arn, weight in live:
            reached += weight
            if point < reached:
                return arn
        return live[-1][0]

    def decide(self, draw: float, cookies: Mapping[str, str]) -> Routed:
        """The sticky group of ``cookies`` when this forward is sticky and the cookie names
        one of its groups (whatever that group's weight); else the group ``draw`` picks."""
        if self.stickiness is None:
            return Routed(self.choose(draw))
        presented = {cookies.get(STICKINESS_COOKIE), cookies.get(STICKINESS_CORS_COOKIE)}
        for arn, _ in self.groups:
            if sticky_value(arn) in presented:
                return Routed(arn)
        return Routed(self.choose(draw), self.stickiness)


@dataclass(frozen=True)
class Condition:
    """One rule condition: ``host-header``, or ``http-header`` named by ``header``."""

    field: ConditionField
    values: tuple[str, ...]
    header: str | None = None

    def matches(self, host: str, headers: Mapping[str, str]) -> bool:
        if self.field == "host-header":
            seen: str | None = _without_port(host)
        else:
            wanted = (self.header or "").lower()
            seen = next((value for name, value in headers.items() if name.lower() == wanted),
                        None)
        return seen is not None and any(_pattern(value).fullmatch(seen) for value in self.values)


@dataclass(frozen=True)
class Rule:
    """A listener rule: where requests go when all its conditions match."""

    priority: int
    conditions: tuple[Condition, ...]
    forward: Forward

    def matches(self, host: str, headers: Mapping[str, str]) -> bool:
        return all(condition.matches(host, headers) for condition in self.conditions)


@dataclass(frozen=True)
class RoutingTable:
    """A listener's rules and its default action."""

    rules: tuple[Rule, ...]
    default: Forward

    @functools.cached_property
    def _ordered(self) -> tuple[Rule, ...]:
        return tuple(sorted(self.rules, key=lambda r: r.priority))

    def route(self, host: str, headers: Mapping[str, str], draw: float) -> str:
        """The target group ARN a request for ``host`` with ``headers`` and no cookie goes
        to; :class:`NoTargetGroup` when the matching action sends nowhere."""
        return self.decide(host, headers, draw, {}).target_group

    def decide(self, host: str, headers: Mapping[str, str], draw: float,
               cookies: Mapping[str, str]) -> Routed:
        """Where a request for ``host`` with ``headers`` and ``cookies`` goes, and the
        stickiness cookie its answer sets; :class:`NoTargetGroup` when the matching
        action sends nowhere."""
        if not 0.0 <= draw < 1.0:
            raise ValueError(f"draw must be in [0, 1), got {draw}")
        for rule in self._ordered:
            if rule.matches(host, headers):
                return rule.forward.decide(draw, cookies)
        return self.default.decide(draw, cookies)


def _without_port(host: str) -> str:
    """``host`` without a ``:port`` (an IPv6 literal keeps its brackets)."""
    if host.startswith("["):
        end = host.find("]")
        return host[:end + 1] if end >= 0 else host
    name, colon, port = host.rpartition(":")
    return name if colon and port.isdigit() else host


@functools.lru_cache(maxsize=4096)
def _pattern(value: str) -> re.Pattern[str]:
    """An ALB match value as a case-insensitive regex: ``*`` any run, ``?`` one character."""
    parts = ("." if char == "?" else ".*" if char == "*" else re.escape(char) for char in value)
    return re.compile("".join(parts), re.IGNORECASE | re.DOTALL)


def table_from_aws(rules: Sequence[Mapping[str, Any]]) -> RoutingTable:
    """The table of elbv2 ``describe_rules()["Rules"]``: the ``default`` rule carries the
    listener's default action, so one read holds the weights and the pins together.
    :class:`ValueError` without a default rule, or for a condition the stand-in cannot
    route by (anything but host and HTTP header): routing without it would send
    requests where ALB would not."""
    defaults = [rule for rule in rules if _is_default(rule)]
    if len(defaults) != 1:
        raise ValueError(f"the listener's rules hold {len(defaults)} default rules, not one")
    read = [_rule(rule) for rule in rules if not _is_default(rule)]
    return RoutingTable(tuple(sorted(read, key=lambda r: r.priority)),
                        _forward(defaults[0].get("Actions") or []))


def _is_default(rule: Mapping[str, Any]) -> bool:
    return bool(rule.get("IsDefault")) or str(rule.get("Priority")) == "default"


def _rule(rule: Mapping[str, Any]) -> Rule:
    priority = int(rule["Priority"])
    return Rule(priority, tuple(_condition(c, priority) for c in rule.get("Conditions") or []),
                _forward(rule.get("Actions") or []))


def _forward(actions: Sequence[Mapping[str, Any]]) -> Forward:
    """The first action, when it forwards; anything else (redirect, fixed response) sends
    nowhere here."""
    if not actions or actions[0].get("Type") != "forward":
        return Forward(())
    action = actions[0]
    config = action.get("ForwardConfig") or {}
    groups = config.get("TargetGroups")
    if groups:
        sticky = config.get("TargetGroupStickinessConfig") or {}
        stickiness = int(sticky.get("DurationSeconds") or 0) if sticky.get("Enabled") else 0
        return Forward(tuple((g["TargetGroupArn"], int(g.get("Weight", 1))) for g in groups),
                       stickiness or None)
    if action.get("TargetGroupArn"):
        return Forward(((action["TargetGroupArn"], 1),))
    return Forward(())


def _condition(condition: Mapping[str, Any], priority: int) -> Condition:
    field = condition.get("Field")
    if field == "host-header":
        config = condition.get("HostHeaderConfig") or {}
        return Condition("host-header", tuple(config.get("Values") or condition.get("Values")
                                              or ()))
    if field == "http-header":
        config = condition.get("HttpHeaderConfig") or {}
        return Condition("http-header", tuple(config.get("Values") or ()),
                         str(config.get("HttpHeaderName") or ""))
    raise ValueError(f"rule priority {priority}: the local data plane routes by "
                     f"{' and '.join(FIELDS)} conditions only, not {field}")
