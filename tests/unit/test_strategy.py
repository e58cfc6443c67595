"""Step plans: the weights a user's strategy spec turns into."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rollout.errors import BadInput
from rollout.rollouts.strategy import parse_strategy
from rollout.vocabulary.durations import parse_duration


def weights(spec: str) -> list[int]:
    return [step.weight for step in parse_strategy(spec).steps]


def test_linear_steps_every_twenty_percent() -> None:
    plan = parse_strategy("linear:20:5m")
    assert [s.weight for s in plan.steps] == [20, 40, 60, 80, 100]
    assert {s.bake_seconds for s in plan.steps} == {300.0}


def test_linear_that_does_not_divide_100_still_ends_at_100() -> None:
    assert weights("linear:30:1s") == [30, 60, 90, 100]


def test_canary_then_everyone() -> None:
    plan = parse_strategy("canary:10:90s")
    assert [(s.weight, s.bake_seconds) for s in plan.steps] == [(10, 90.0), (100, 90.0)]


def test_all_at_once() -> None:
    assert weights("all-at-once") == [100]


@pytest.mark.parametrize("spec", ["linear:0:5m", "linear:150:1m", "linear:20", "canary:x:1m",
                                  "linear:20:5 minutes", "blue-green", ""])
def test_bad_specs_are_rejected_with_a_clear_message(spec: str) -> None:
    with pytest.raises(BadInput) as caught:
        parse_strategy(spec)
    assert "strategy" in str(caught.value) or "duration" in str(caught.value)


def test_custom_steps_from_a_file(tmp_path: Path) -> None:
    path = tmp_path / "steps.yaml"
    path.write_text("steps:\n  - {weight: 5, bake: 10m, gates: [{kind: manual}]}\n"
                    "  - {weight: 50, bake: 30m}\n  - {weight: 100}\n")
    plan = parse_strategy(f"file:{path}")
    assert [s.weight for s in plan.steps] == [5, 50, 100]
    assert plan.steps[0].gates == [{"kind": "manual"}]


def test_custom_steps_that_go_down_name_the_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "steps.yaml"
    path.write_text("steps:\n  - {weight: 50}\n  - {weight: 20}\n  - {weight: 100}\n")
    with pytest.raises(BadInput, match=rf"{path.name}:\d+: steps: .*increase"):
        parse_strategy(f"file:{path}")


def test_durations() -> None:
    assert parse_duration("90s") == 90
    assert parse_duration("5m") == 300
    assert parse_duration("2h") == 7200
    assert parse_duration("250ms") == 0.25


@settings(max_examples=100, deadline=None)
@given(kind=st.sampled_from(["linear", "canary"]), percent=st.integers(1, 99),
       bake=st.integers(0, 3600))
def test_every_plan_is_monotone_bounded_and_ends_at_100(kind: str, percent: int,
                                                        bake: int) -> None:
    steps = weights(f"{kind}:{percent}:{bake}s")
    assert steps[-1] == 100
    assert all(0 < w <= 100 for w in steps)
    assert all(b > a for a, b in itertools.pairwise(steps))
