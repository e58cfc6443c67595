"""Pack tenant pins into as few ALB listener rules as ALB's quotas allow.

Pure and boto3-free: the ALB router reads the listener's pin rules, asks
:func:`plan_pin_rules` for a layout that routes the wanted pins, and applies only
the difference. ALB ANDs the conditions of one rule and counts condition values
across the whole rule, so one rule can hold at most five values of one kind (host
names *or* tenant-id header values) forwarding to one colour. A group of ``n``
pins of one kind and colour therefore needs ``ceil(n / 5)`` rules, and no layout
can use fewer; the plan always reaches exactly that count.

The plan starts from the rules that exist and moves as few values as it can, so
pinning one more tenant usually touches one rule instead of reshuffling them all.
"""

from __future__ import annotations

import math
import re
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, replace
from typing import Literal

from rollout.errors import BadInput
from rollout.vocabulary.colours import Colour

MAX_VALUES_PER_RULE = 5
DEFAULT_MAX_RULES = 100
MAX_PRIORITY = 50_000
HOST_VALUE = re.compile(r"^[a-z0-9.*?-]{1,128}$")

MatchField = Literal["host-header", "http-header"]
HOST_HEADER: MatchField = "host-header"
HTTP_HEADER: MatchField = "http-header"
Group = tuple[Colour, MatchField]


@dataclass(frozen=True)
class TenantPin:
    """A tenant held on one colour; its requests are recognised by host name or by header."""

    tenant_id: str
    colour: Colour
    host: str | None = None


@dataclass(frozen=True, order=True)
class PinMatch:
    """One condition value of a pin rule, and the tenant it stands for."""

    field: MatchField
    value: str
    tenant_id: str


@dataclass(frozen=True)
class PinRule:
    """A listener rule forwarding every request it matches to ``colour``.

    ``arn`` is None for a rule the plan wants created. ``drifted`` marks a rule
    whose conditions, action or tags on AWS say more than ``matches`` (someone
    edited it), so the plan rewrites it even when its matches stay the same.
    """

    colour: Colour
    field: MatchField
    matches: tuple[PinMatch, ...]
    priority: int
    arn: str | None = None
    drifted: bool = False

    @property
    def group(self) -> Group:
        return (self.colour, self.field)

    @property
    def values(self) -> list[str]:
        return [match.value for match in self.matches]


@dataclass(frozen=True)
class RuleChange:
    """An existing rule whose matches change (same colour and kind, same ARN)."""

    before: PinRule
    after: PinRule


@dataclass(frozen=True)
class PinLimits:
    """What constrains the layout: ALB quotas, and the listener's rules that are not pins."""

    max_rules: int = DEFAULT_MAX_RULES
    other_rules: int = 0
    taken_priorities: frozenset[int] = frozenset()
    first_priority: int = 1
    header_too: bool = False


@dataclass(frozen=True)
class PinRulePlan:
    """The rule writes that turn the current pin rules into the wanted layout.

    ``delete_first`` is set when creating before deleting would, for a moment,
    put more rules on the listener than the quota allows; otherwise deletes come
    last, so a tenant moving out of a deleted rule is never briefly unpinned.
    """

    create: tuple[PinRule, ...] = ()
    modify: tuple[RuleChange, ...] = ()
    delete: tuple[PinRule, ...] = ()
    unchanged: tuple[PinRule, ...] = ()
    delete_first: bool = False

    @property
    def layout(self) -> list[PinRule]:
        """Every pin rule once the plan is applied, by priority."""
        rules = [*self.unchanged, *(change.after for change in self.modify), *self.create]
        return sorted(rules, key=lambda rule: rule.priority)

    @property
    def writes(self) -> int:
        """Rules the plan creates, rewrites or deletes (each at least one API write)."""
        return len(self.create) + len(self.modify) + len(self.delete)


def matches_of(pin: TenantPin, header_too: bool) -> list[PinMatch]:
    """The values that recognise ``pin``'s tenant: its host, else (or also) its id header."""
    found: list[PinMatch] = []
    if pin.host:
        found.append(PinMatch(HOST_HEADER, pin.host.lower(), pin.tenant_id))
    if not pin.host or header_too:
        found.append(PinMatch(HTTP_HEADER, pin.tenant_id, pin.tenant_id))
    return found


def pins_of(rules: Iterable[PinRule]) -> dict[str, TenantPin]:
    """Tenant id → pin, as the rules route it (the rule ALB evaluates first wins)."""
    colours: dict[str, Colour] = {}
    hosts: dict[str, str] = {}
    for rule in sorted(rules, key=lambda r: r.priority):
        for match in rule.matches:
            colours.setdefault(match.tenant_id, rule.colour)
            if match.field == HOST_HEADER:
                hosts.setdefault(match.tenant_id, match.value)
    return {tenant: TenantPin(tenant, colour, hosts.get(tenant))
            for tenant, colour in colours.items()}


def plan_pin_rules(current: Sequence[PinRule], wanted: Iterable[TenantPin], limits: PinLimits,
                   cohort: str) -> PinRulePlan:
    """The fewest rule writes that route exactly ``wanted``, in the minimum number of rules.

    Raises :class:`BadInput` (before anything is written) when a host is not a
    valid ALB host-header value, two tenants claim one host, or the pins do not
    fit the listener's rule quota.
    """
    groups = _wanted_groups(wanted, limits.header_too)
    needed = {group: math.ceil(len(matches) / MAX_VALUES_PER_RULE)
              for group, matches in groups.items()}
    _check_quota(sum(len(m) for m in groups.values()), sum(needed.values()), limits, cohort)

    candidates: dict[Group, list[tuple[PinRule, list[PinMatch]]]] = defaultdict(list)
    claimed: set[PinMatch] = set()
    delete: list[PinRule] = []
    for rule in sorted(current, key=lambda r: r.priority):
        if rule.arn is None or rule.group not in groups:
            delete.append(rule)
            continue
        kept = sorted({m for m in rule.matches if m in groups[rule.group] and m not in claimed})
        claimed.update(kept)
        candidates[rule.group].append((rule, kept))

    free = _free_priorities(limits, current)
    create: list[PinRule] = []
    modify: list[RuleChange] = []
    unchanged: list[PinRule] = []
    for group in sorted(groups):
        ranked = sorted(candidates[group], key=lambda c: (-len(c[1]), c[0].priority))
        keep, drop = ranked[:needed[group]], ranked[needed[group]:]
        delete.extend(rule for rule, _ in drop)
        placed = {match for _, matches in keep for match in matches}
        waiting = sorted(groups[group] - placed)
        for rule, matches in keep:
            room = MAX_VALUES_PER_RULE - len(matches)
            filled = tuple(sorted([*matches, *waiting[:room]]))
            waiting = waiting[room:]
            if not filled:
                delete.append(rule)
            elif not rule.drifted and filled == tuple(sorted(rule.matches)):
                unchanged.append(rule)
            else:
                modify.append(RuleChange(rule, replace(rule, matches=filled, drifted=False)))
        for start in range(0, len(waiting), MAX_VALUES_PER_RULE):
            chunk = tuple(waiting[start:start + MAX_VALUES_PER_RULE])
            create.append(PinRule(group[0], group[1], chunk, next(free)))

    delete_first = len(current) + len(create) + limits.other_rules > limits.max_rules
    return PinRulePlan(tuple(create), tuple(modify), tuple(delete), tuple(unchanged),
                       delete_first)


def _wanted_groups(wanted: Iterable[TenantPin], header_too: bool) -> dict[Group, set[PinMatch]]:
    """Wanted matches per (colour, kind); the last pin of a tenant wins."""
    by_tenant = {pin.tenant_id: pin for pin in wanted}
    groups: dict[Group, set[PinMatch]] = defaultdict(set)
    owners: dict[tuple[MatchField, str], str] = {}
    for pin in by_tenant.values():
        for match in matches_of(pin, header_too):
            if match.field == HOST_HEADER and not HOST_VALUE.match(match.value):
                raise BadInput(f"tenant {pin.tenant_id}: host {pin.host!r} is not a valid ALB "
                               "host-header value (letters, digits, - . * ?, up to 128)")
            owner = owners.setdefault((match.field, match.value), pin.tenant_id)
            if owner != pin.tenant_id:
                raise BadInput(f"tenants {owner} and {pin.tenant_id} both use host "
                               f"{match.value}; a host can be pinned for one tenant only")
            groups[(pin.colour, match.field)].add(match)
    return dict(groups)


def _check_quota(values: int, rules: int, limits: PinLimits, cohort: str) -> None:
    room = limits.max_rules - limits.other_rules
    if rules <= room:
        return
    others = f" ({limits.other_rules} taken by other rules)" if limits.other_rules else ""
    capacity = MAX_VALUES_PER_RULE * max(room, 0)
    raise BadInput(
        f"ALB quota: {MAX_VALUES_PER_RULE} values per condition x {limits.max_rules} rules "
        f"per listener{others} = {capacity} pins; cohort {cohort} needs {values} "
        f"in {rules} rules (raise the listener rules quota and the router's max_rules, "
        "or pin fewer tenants)")


def _free_priorities(limits: PinLimits, current: Sequence[PinRule]) -> Iterator[int]:
    """Unused rule priorities from ``first_priority`` up (current pin rules' stay taken)."""
    taken = set(limits.taken_priorities) | {rule.priority for rule in current}
    for priority in range(limits.first_priority, MAX_PRIORITY + 1):
        if priority not in taken:
            yield priority
    raise BadInput(f"no free listener rule priority between {limits.first_priority} "
                   f"and {MAX_PRIORITY} for a pin rule")

