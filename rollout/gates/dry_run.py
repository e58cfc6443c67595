"""Dry-run gates: checked and recorded, never obeyed (Argo Rollouts' ``dryRun``).

Any gate but a manual one takes ``dry_run: true``::

    - kind: metric
      metric: latency-p99
      max: 400                  # ms
      dry_run: true

A team watches what a new gate would have said before trusting it to stop a rollout:
its verdicts are in ``status`` and the report with the others, marked dry run, and the
first time per step it would have failed the ledger records a ``dry_run`` event; the
rollout goes on as if the gate were not there.
"""

from __future__ import annotations

from rollout.gates.base import Gate, GateContext, GateResult

SETTING = "dry_run"


class DryRunGate:
    """Another gate, its results marked so that nothing obeys them."""

    waits_for_human = False

    def __init__(self, gate: Gate) -> None:
        self.gate = gate
        self.name = gate.name

    def check(self, context: GateContext) -> GateResult:
        return self.gate.check(context).model_copy(update={"dry_run": True})
