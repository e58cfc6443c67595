"""What the steps of one rollout command share: the run, the step base, the plan.

Split from :mod:`rollout.rollouts.command_plans` so that the capacity steps
(:mod:`rollout.rollouts.capacity_plans`) and the command plans build on the same
pieces without importing each other.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, ClassVar

from rollout.plans import Plan, PlanStep, StepReport, execute
from rollout.rollouts.state import RolloutState

if TYPE_CHECKING:
    from rollout.rollouts.executor import CohortRollout


@dataclass
class RolloutRun:
    """What the steps of one command share while it runs: the rollout and its latest state."""

    rollout: CohortRollout
    state: RolloutState | None = None
    stopped_elsewhere: bool = False
    """Another stop made the one write before ours: nothing left for us to write."""

    @property
    def cohort(self) -> str:
        return self.rollout.cohort.cohort

    def current(self) -> RolloutState:
        if self.state is None:
            raise RuntimeError("a plan step ran before the rollout had a state")
        return self.state


@dataclass(frozen=True)
class RolloutStep:
    """A step of a rollout command: it reads, and moves on, the run the command's steps share."""

    run: RolloutRun = field(compare=False)
    kind: ClassVar[str]

    def facts(self) -> Mapping[str, object]:
        return {}


@dataclass(frozen=True)
class CommandPlan:
    """A command's plan and the run its steps share."""

    plan: Plan
    run: RolloutRun

    def execute(self, report: StepReport | None = None) -> None:
        """Apply every step in order, telling ``report`` before each."""
        execute(self.plan, report)

    @property
    def final(self) -> RolloutState:
        """The rollout's state after :meth:`execute`."""
        return self.run.current()


def command_plan(command: str, run: RolloutRun, steps: Sequence[PlanStep]) -> CommandPlan:
    return CommandPlan(Plan(command, tuple(steps)), run)
