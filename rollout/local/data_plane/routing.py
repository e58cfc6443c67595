"""The listener's routing as ALB applies it: rules by priority, then a weighted forward.

Pure (no boto3, no I/O), so the local listener routes exactly what these functions say
and the unit tests can check every ALB rule of matching on its own: rules in ascending
priority, all conditions of a rule must match, any value of one condition matches,
values compare without case and take ``*`` and ``?`` wildcards, the host is compared
without its port; no matching rule means the listener's default action. A forward's
target group is chosen by a ``draw`` in [0, 1) against the cumulative weights of the
groups that have a weight above zero, so a group at weight 0 never gets a request.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

ConditionField = Literal["host-header", "http-header"]
FIELDS: tuple[ConditionField, ...] = ("host-header", "http-header")


class NoTargetGroup(LookupError):
    """The action chosen sends nowhere (no group with a weight above zero, or not a forward);
    the listener answers such a request itself, as ALB does, with a 503."""


@dataclass(frozen=True)
class Forward:
    """A forward action: (target group ARN, weight) pairs."""

    groups: tuple[tuple[str, int], ...]

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
        """The target group ARN a request for ``host`` with ``headers`` goes to.

        :class:`NoTargetGroup` when the matching action sends nowhere.
        """
        if not 0.0 <= draw < 1.0:
            raise ValueError(f"draw must be in [0, 1), got {draw}")
        for rule in self._ordered:
            if rule.matches(host, headers):
                return rule.forward.choose(draw)
        return self.default.choose(draw)


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


def table_from_aws(listener: Mapping[str, Any], rules: Sequence[Mapping[str, Any]]) -> RoutingTable:
    """The table of elbv2 ``describe_listeners()["Listeners"][0]`` and its
    ``describe_rules()["Rules"]``; the ``default`` rule repeats the listener's default
    action, so it is skipped. :class:`ValueError` for a condition the stand-in cannot
    route by (anything but host and HTTP header): routing without it would send
    requests where ALB would not."""
    read = [_rule(rule) for rule in rules
            if not rule.get("IsDefault") and str(rule.get("Priority")) != "default"]
    return RoutingTable(tuple(sorted(read, key=lambda r: r.priority)),
                        _forward(listener.get("DefaultActions") or []))


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
    groups = (action.get("ForwardConfig") or {}).get("TargetGroups")
    if groups:
        return Forward(tuple((g["TargetGroupArn"], int(g.get("Weight", 1))) for g in groups))
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
