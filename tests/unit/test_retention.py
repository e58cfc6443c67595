"""Retention: keep the newest N and every version a cohort runs, pins or could roll back to."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rollout.artefacts.retention import plan_retention
from rollout.artefacts.usage import UseKind, VersionUse, cohort_uses
from rollout.discovery import CohortResources
from rollout.errors import BadInput
from rollout.rollouts.state import RolloutState, Status
from rollout.rollouts.strategy import Step
from rollout.vocabulary.colours import Colour
from rollout.vocabulary.versions import semver_key

NOW = datetime(2025, 6, 3, 9, 0, tzinfo=UTC)


def resources(cohort: str, blue: str, green: str) -> CohortResources:
    return CohortResources(
        app="acme", artefact_bucket="b", ledger_table="t", notices_topic_arn="arn:sns",
        cohort=cohort, listener_arn="arn:listener", load_balancer_arn="arn:lb",
        target_group_arns={"blue": "arn:tg/blue", "green": "arn:tg/green"},
        versions={"blue": blue, "green": green}, param_prefix=f"/acme/{cohort}")


def state(cohort: str, *, old: str, new: str, last_known_good: str,
          pinned: dict[str, Colour] | None = None,
          status: Status = Status.PROMOTED) -> RolloutState:
    return RolloutState(
        cohort=cohort, release=new, old_version=old, old_colour="blue", new_colour="green",
        strategy="all-at-once", steps=[Step(weight=100)], weights={"blue": 0, "green": 100},
        status=status, started_at=NOW, updated_at=NOW, versions={"blue": old, "green": new},
        last_known_good=last_known_good, pinned=pinned or {})


def test_keeps_newest_by_semver_not_by_text() -> None:
    plan = plan_retention(["1.9.0", "1.10.0", "1.2.0"], [], keep_newest=1)

    assert plan.kept == ["1.10.0"]
    assert plan.deleted == ["1.9.0", "1.2.0"]
    assert plan.decisions[0].reasons == ["one of the newest 1"]


def test_versions_in_use_pinned_or_rollback_targets_survive_keep_1() -> None:
    uses = [
        *cohort_uses(resources("canary", "1.5.0", "1.6.0"),
                     state("canary", old="1.5.0", new="1.6.0", last_known_good="1.6.0")),
        *cohort_uses(resources("wave1", "1.4.2", "1.4.2"),
                     state("wave1", old="1.3.0", new="1.4.2", last_known_good="1.4.2")),
        *cohort_uses(resources("wave2", "1.4.0", "1.4.2"),
                     state("wave2", old="1.4.0", new="1.4.2", last_known_good="1.4.0",
                           pinned={"gorse": "blue"}, status=Status.PAUSED)),
    ]
    published = ["1.2.0", "1.3.0", "1.4.0", "1.4.2", "1.5.0", "1.6.0", "1.1.0"]

    plan = plan_retention(published, uses, keep_newest=1)

    assert plan.deleted == ["1.2.0", "1.1.0"]
    reasons = {d.version: d.reasons for d in plan.decisions}
    assert reasons["1.3.0"] == ["rollback target of wave1"]
    assert "tenant gorse pinned to wave2/blue" in reasons["1.4.0"]
    assert reasons["1.6.0"][:2] == ["one of the newest 1", "canary/green runs it"]
    assert plan.not_in_store == []


def test_a_version_in_use_but_not_published_is_reported() -> None:
    uses = cohort_uses(resources("canary", "0.9.0", "1.0.0"), None)

    plan = plan_retention(["1.0.0"], uses, keep_newest=1)

    assert [(u.version, u.describe()) for u in plan.not_in_store] == [
        ("0.9.0", "canary/blue runs it")]


def test_keep_must_be_positive() -> None:
    with pytest.raises(BadInput, match="--keep must be at least 1"):
        plan_retention(["1.0.0"], [], keep_newest=0)


versions = st.builds(lambda a, b, c: f"{a}.{b}.{c}", st.integers(0, 3), st.integers(0, 12),
                     st.integers(0, 12))
uses_strategy = st.lists(st.builds(
    lambda version, kind: VersionUse(version=version, cohort="c", kind=kind,
                                     colour="blue" if kind is UseKind.COLOUR else None),
    versions, st.sampled_from(list(UseKind))), max_size=8)


@given(st.lists(versions, max_size=15), uses_strategy, st.integers(1, 5))
def test_never_deletes_a_used_version_and_always_keeps_the_newest(
        published: list[str], uses: list[VersionUse], keep: int) -> None:
    plan = plan_retention(published, uses, keep_newest=keep)

    used = {use.version for use in uses}
    assert not used & set(plan.deleted)
    assert set(plan.kept) | set(plan.deleted) == set(published)
    newest = sorted(set(published), key=semver_key, reverse=True)[:keep]
    assert set(newest) <= set(plan.kept)
    assert all(semver_key(d) < semver_key(newest[-1]) for d in plan.deleted)
    assert {u.version for u in plan.not_in_store} == used - set(published)


def test_pins_read_from_the_router_count_even_without_a_ledger_state() -> None:
    uses = cohort_uses(resources("wave2", "1.4.0", "1.4.2"), None, {"fern": "green"})

    plan = plan_retention(["1.4.2", "1.4.0", "1.3.0"], uses, keep_newest=1)

    assert plan.deleted == ["1.3.0"]
    assert "tenant fern pinned to wave2/green" in plan.decisions[0].reasons
