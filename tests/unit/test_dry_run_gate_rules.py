"""``dry_run: true`` on a gate: its checks are marked and nothing obeys them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from rollout.errors import BadInput
from rollout.gates.base import GateContext, GateResult, Verdict
from rollout.gates.dry_run import DryRunGate
from rollout.gates.load import load_gate
from rollout.rollouts.stage_gate import decide_stage_gate
from rollout.rollouts.state import RolloutState, Status
from rollout.rollouts.strategy import parse_strategy

NOW = datetime(2026, 12, 7, 10, 0, tzinfo=UTC)


class Failing:
    """A gate that always fails."""

    name = "p99 latency"
    waits_for_human = False

    def check(self, context: GateContext) -> GateResult:
        return GateResult(gate=self.name, verdict=Verdict.FAIL, reason="p99 0.9 s > 0.4 s")


def test_a_dry_run_gate_reports_its_gate_s_verdict_marked_dry_run() -> None:
    context: Any = None  # the wrapped gate reads nothing from it
    found = DryRunGate(Failing()).check(context)
    assert (found.gate, found.verdict, found.dry_run) == ("p99 latency", Verdict.FAIL, True)
    assert Failing().check(context).dry_run is False


def test_dry_run_true_wraps_the_gate_keeping_its_name() -> None:
    gate = load_gate({"kind": "alarm", "alarms": ["api-5xx"], "name": "5xx", "dry_run": True})
    assert isinstance(gate, DryRunGate) and gate.name == "5xx"
    plain = load_gate({"kind": "alarm", "alarms": ["api-5xx"], "dry_run": False})
    assert not isinstance(plain, DryRunGate)


@pytest.mark.parametrize(("raw", "says"), [
    ({"kind": "alarm", "alarms": ["a"], "dry_run": "yes"},
     "gate.dry_run: must be true or false, got 'yes'"),
    ({"kind": "manual", "dry_run": True},
     "gate.dry_run: a manual gate waits for a person; in a dry run it would wait for nobody"),
])
def test_a_wrong_dry_run_names_the_field(raw: dict[str, object], says: str) -> None:
    with pytest.raises(BadInput, match=says):
        load_gate(raw)


def test_the_stage_gate_ignores_a_dry_run_gate_that_was_red() -> None:
    red = GateResult(gate="p99", verdict=Verdict.FAIL, reason="slow", dry_run=True)
    promoted = RolloutState(
        cohort="canary", release="1.5.0", old_version="1.4.2", old_colour="blue",
        new_colour="green", strategy="canary:10:1m", steps=parse_strategy("canary:10:1m").steps,
        weights={"blue": 0, "green": 100}, status=Status.PROMOTED, started_at=NOW,
        updated_at=NOW, promoted_at=NOW - timedelta(hours=1), last_gate_results=[red],
        versions={"blue": "1.4.2", "green": "1.5.0"}, last_known_good="1.5.0")
    decided = decide_stage_gate(promoted, source="canary", target="wave1", release="1.5.0",
                                now=NOW)
    assert decided.allowed, decided.message
    obeyed_red = promoted.model_copy(update={"last_gate_results": [
        red.model_copy(update={"dry_run": False})]})
    assert not decide_stage_gate(obeyed_red, source="canary", target="wave1",
                                 release="1.5.0", now=NOW).allowed
