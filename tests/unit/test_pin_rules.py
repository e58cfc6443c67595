"""Packing tenant pins into ALB listener rules: fewest rules, fewest changes, quota errors."""

from __future__ import annotations

import math
from collections import Counter
from itertools import count

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rollout.errors import BadInput
from rollout.routers.pin_rules import (
    HOST_HEADER,
    HTTP_HEADER,
    MAX_VALUES_PER_RULE,
    PinLimits,
    PinMatch,
    PinRule,
    PinRulePlan,
    TenantPin,
    pins_of,
    plan_pin_rules,
)
from rollout.vocabulary.colours import Colour

_arns = count(1)


def applied(plan: PinRulePlan) -> list[PinRule]:
    """The listener's pin rules after ``plan``, as AWS would hold them (created rules get ARNs)."""
    return [rule if rule.arn else PinRule(rule.colour, rule.field, rule.matches, rule.priority,
                                          f"arn:rule/{next(_arns)}")
            for rule in plan.layout]


def hosted(n: int, colour: Colour = "blue", start: int = 0) -> list[TenantPin]:
    return [TenantPin(f"t{i:02d}", colour, f"t{i:02d}.acme.example")
            for i in range(start, start + n)]


def rule_count_floor(pins: list[TenantPin], header_too: bool = False) -> int:
    """Fewest rules any layout can use: ceil(n / 5) per colour and condition kind."""
    groups: Counter[tuple[str, str]] = Counter()
    for pin in pins:
        if pin.host:
            groups[(pin.colour, HOST_HEADER)] += 1
        if not pin.host or header_too:
            groups[(pin.colour, HTTP_HEADER)] += 1
    return sum(math.ceil(n / MAX_VALUES_PER_RULE) for n in groups.values())


def test_twelve_hosted_tenants_fit_in_three_rules_each_listed_once() -> None:
    plan = plan_pin_rules([], hosted(12), PinLimits(), "wave1")

    assert [len(rule.matches) for rule in plan.create] == [5, 5, 2]
    assert all(rule.field == HOST_HEADER and rule.colour == "blue" for rule in plan.create)
    values = [value for rule in plan.create for value in rule.values]
    assert sorted(values) == sorted(f"t{i:02d}.acme.example" for i in range(12))
    assert (plan.modify, plan.delete) == ((), ())


def test_tenants_without_host_are_matched_by_their_id_header() -> None:
    plan = plan_pin_rules(
        [], [TenantPin("acme", "green"), TenantPin("zeta", "green", "zeta.example")],
        PinLimits(), "canary")

    by_field = {rule.field: rule.values for rule in plan.create}
    assert by_field == {HTTP_HEADER: ["acme"], HOST_HEADER: ["zeta.example"]}


def test_header_too_adds_an_id_header_rule_for_hosted_tenants() -> None:
    plan = plan_pin_rules([], hosted(3), PinLimits(header_too=True), "canary")

    assert {rule.field: sorted(rule.values) for rule in plan.create} == {
        HOST_HEADER: ["t00.acme.example", "t01.acme.example", "t02.acme.example"],
        HTTP_HEADER: ["t00", "t01", "t02"],
    }


def test_colours_never_share_a_rule() -> None:
    plan = plan_pin_rules([], hosted(3, "blue") + hosted(3, "green", start=3), PinLimits(), "w")

    assert sorted((rule.colour, len(rule.matches)) for rule in plan.create) == [
        ("blue", 3), ("green", 3)]


def test_planning_the_same_pins_again_writes_nothing() -> None:
    rules = applied(plan_pin_rules([], hosted(12), PinLimits(), "wave1"))

    again = plan_pin_rules(rules, hosted(12), PinLimits(), "wave1")

    assert again.writes == 0
    assert again.layout == rules


def test_one_more_tenant_goes_into_the_rule_with_room() -> None:
    rules = applied(plan_pin_rules([], hosted(12), PinLimits(), "wave1"))

    plan = plan_pin_rules(rules, hosted(13), PinLimits(), "wave1")

    assert (len(plan.create), len(plan.modify), len(plan.delete)) == (0, 1, 0)
    assert len(plan.modify[0].after.matches) == 3


def test_moving_a_tenant_to_the_other_colour_takes_it_out_of_the_old_rule() -> None:
    rules = applied(plan_pin_rules([], hosted(6), PinLimits(), "wave1"))
    moved = [*hosted(5), TenantPin("t05", "green", "t05.acme.example")]

    layout = applied(plan_pin_rules(rules, moved, PinLimits(), "wave1"))

    assert pins_of(layout)["t05"].colour == "green"
    assert [r.colour for r in layout if "t05.acme.example" in r.values] == ["green"]
    assert len(layout) == 2


def test_unpinning_everyone_deletes_every_pin_rule() -> None:
    rules = applied(plan_pin_rules([], hosted(7), PinLimits(), "wave1"))

    plan = plan_pin_rules(rules, [], PinLimits(), "wave1")

    assert sorted(r.arn or "" for r in plan.delete) == sorted(r.arn or "" for r in rules)
    assert plan.layout == []


def test_emptied_rules_are_consolidated_back_to_the_minimum() -> None:
    rules = applied(plan_pin_rules([], hosted(15), PinLimits(), "wave1"))
    keep = [pin for pin in hosted(15) if pin.tenant_id not in {"t00", "t01", "t05", "t06"}]

    plan = plan_pin_rules(rules, keep, PinLimits(), "wave1")

    assert len(plan.layout) == 3 == math.ceil(11 / 5)
    assert len(plan.delete) == 0
    assert len(applied(plan_pin_rules(rules, keep[:8], PinLimits(), "wave1"))) == 2


def test_more_pins_than_the_quota_allows_name_the_quota() -> None:
    with pytest.raises(BadInput) as raised:
        plan_pin_rules([], hosted(11), PinLimits(max_rules=2), "wave1")

    message = str(raised.value)
    assert message.startswith("ALB quota: 5 values per condition x 2 rules per listener "
                              "= 10 pins; cohort wave1 needs 11")
    assert "max_rules" in message


def test_rules_that_are_not_pins_count_against_the_quota() -> None:
    plan_pin_rules([], hosted(10), PinLimits(max_rules=3, other_rules=1), "wave1")
    with pytest.raises(BadInput, match=r"\(2 taken by other rules\) = 5 pins; cohort c needs 10"):
        plan_pin_rules([], hosted(10), PinLimits(max_rules=3, other_rules=2), "c")


def test_new_rules_take_free_priorities_only() -> None:
    existing = applied(plan_pin_rules([], hosted(2), PinLimits(first_priority=10), "w"))
    limits = PinLimits(first_priority=10, taken_priorities=frozenset({11, 12}))

    plan = plan_pin_rules(existing, hosted(2) + hosted(6, "green", start=2), limits, "w")

    assert [rule.priority for rule in existing] == [10]
    assert [rule.priority for rule in plan.create] == [13, 14]


@pytest.mark.parametrize("host", ["bad host.example", "x" * 129, "a/b.example"])
def test_a_host_alb_cannot_match_is_bad_input(host: str) -> None:
    with pytest.raises(BadInput, match=r"tenant t1: host .* is not a valid ALB host-header"):
        plan_pin_rules([], [TenantPin("t1", "blue", host)], PinLimits(), "w")


def test_two_tenants_on_one_host_is_bad_input() -> None:
    claims = [TenantPin("a", "blue", "shared.example"), TenantPin("b", "green", "Shared.example")]

    with pytest.raises(BadInput, match=r"tenants a and b both use host shared\.example"):
        plan_pin_rules([], claims, PinLimits(), "w")


def test_a_drifted_rule_is_rewritten_even_when_its_matches_stay() -> None:
    match = PinMatch(HOST_HEADER, "t00.acme.example", "t00")
    drifted = PinRule("blue", HOST_HEADER, (match,), 1, "arn:rule/x", drifted=True)

    plan = plan_pin_rules([drifted], hosted(1), PinLimits(), "w")

    assert [change.after.arn for change in plan.modify] == ["arn:rule/x"]
    assert not plan.modify[0].after.drifted


def test_deletes_go_first_when_creating_first_would_break_the_quota() -> None:
    rules = applied(plan_pin_rules([], hosted(10), PinLimits(max_rules=2), "w"))
    all_green = [TenantPin(p.tenant_id, "green", p.host) for p in hosted(10)]

    plan = plan_pin_rules(rules, all_green, PinLimits(max_rules=2), "w")
    relaxed = plan_pin_rules(rules, all_green, PinLimits(max_rules=4), "w")

    assert (len(plan.create), len(plan.delete), plan.delete_first) == (2, 2, True)
    assert relaxed.delete_first is False


colours: st.SearchStrategy[Colour] = st.sampled_from(["blue", "green"])
tenant_pins = st.dictionaries(
    keys=st.sampled_from([f"t{i:02d}" for i in range(40)]),
    values=st.tuples(colours, st.booleans()),
    max_size=40,
).map(lambda d: [TenantPin(t, colour, f"{t}.acme.example" if has_host else None)
                 for t, (colour, has_host) in sorted(d.items())])


@settings(max_examples=150, deadline=None)
@given(first=tenant_pins, second=tenant_pins, header_too=st.booleans())
def test_any_change_of_pins_gives_a_minimal_layout_with_every_tenant_once(
        first: list[TenantPin], second: list[TenantPin], header_too: bool) -> None:
    limits = PinLimits(header_too=header_too, taken_priorities=frozenset({1, 3}))
    before = applied(plan_pin_rules([], first, limits, "w"))

    plan = plan_pin_rules(before, second, limits, "w")
    layout = applied(plan)

    assert all(1 <= len(rule.matches) <= MAX_VALUES_PER_RULE for rule in layout)
    assert len(layout) == rule_count_floor(second, header_too)
    seen = Counter((m.field, m.value) for rule in layout for m in rule.matches)
    assert all(times == 1 for times in seen.values())
    assert {t: p.colour for t, p in pins_of(layout).items()} == {p.tenant_id: p.colour
                                                                 for p in second}
    for rule in layout:
        assert all(m.field == rule.field for m in rule.matches)
    priorities = [rule.priority for rule in layout]
    assert len(set(priorities)) == len(priorities) and not {1, 3} & set(priorities)
    assert plan_pin_rules(layout, second, limits, "w").writes == 0
