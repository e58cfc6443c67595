"""Manual gate: the step waits until someone runs ``rollout promote`` for it.

Settings (YAML)::

    - kind: manual

For CI stage promotions and cautious cohorts. The engine sets ``approved`` on the
context when ``rollout promote --cohort C`` was run for the current step. Waiting for
a person is expected, not a sign of trouble, so the gate says ``waits_for_human``:
its inconclusive checks must not count towards the pause limit that protects
rollouts from gates starved of data.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rollout.gates.base import GATES, GateContext, GateResult, Verdict
from rollout.gates.load import GateSettings


class ManualSettings(GateSettings):
    """Nothing to set but the optional display name."""


def judge_approval(gate: str, cohort: str, approved: bool) -> GateResult:
    """Pass once approved; until then, say exactly what to run."""
    if approved:
        return GateResult(gate=gate, verdict=Verdict.PASS, reason="approved by `rollout promote`")
    return GateResult(gate=gate, verdict=Verdict.INCONCLUSIVE,
                      reason=f"waiting for approval: run `rollout promote --cohort {cohort}`")


class ManualGate:
    """Holds the step until a person approves it."""

    waits_for_human = True

    def __init__(self, settings: ManualSettings) -> None:
        self.name = settings.name or "manual approval"
        self.settings = settings

    def check(self, context: GateContext) -> GateResult:
        return judge_approval(self.name, context.cohort.cohort, context.approved)


@GATES.register("manual")
def manual_gate(settings: Mapping[str, Any]) -> ManualGate:
    """Raises pydantic's ValidationError; :mod:`rollout.gates.load` turns it into BadInput."""
    return ManualGate(ManualSettings.model_validate(settings))
