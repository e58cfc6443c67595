"""Plan, then execute: every mutating command first says what it will do, as data.

After Chalice's deployer: a command builds a :class:`Plan` of typed steps, each a
frozen dataclass that can describe itself and apply itself. :func:`execute` applies
them in order; :func:`display` only describes them. Both walk the same steps, so a
``--dry-run`` prints exactly what the real run then does, by construction, and a
test can assert on a plan without touching AWS.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Protocol


class PlanStep(Protocol):
    """One thing a command will do."""

    @property
    def kind(self) -> str:
        """A stable name for the kind of step (``set-weights``, ``write-parameter``...)."""
        ...

    def describe(self) -> str:
        """One line a person reads: what this step will do."""
        ...

    def facts(self) -> Mapping[str, object]:
        """What ``--json`` says about the step (never a secret value)."""
        ...

    def apply(self) -> None:
        """Do it."""
        ...


@dataclass(frozen=True)
class Plan:
    """The steps of one command, in the order they run."""

    command: str
    steps: tuple[PlanStep, ...]

    def lines(self) -> list[str]:
        return [step.describe() for step in self.steps]

    def as_json(self, *, dry_run: bool) -> dict[str, object]:
        return {"command": self.command, "dry_run": dry_run,
                "steps": [{"kind": step.kind, "summary": step.describe(), **step.facts()}
                          for step in self.steps]}


StepReport = Callable[[PlanStep], None]


def execute(plan: Plan, report: StepReport | None = None) -> list[str]:
    """Apply every step in order, telling ``report`` before each; the lines applied.

    A step that raises stops the plan there: later steps never run, and the error
    says what failed (each step leaves the system in a state the next command reads).
    """
    done: list[str] = []
    for step in plan.steps:
        if report is not None:
            report(step)
        step.apply()
        done.append(step.describe())
    return done


def display(plan: Plan, report: StepReport | None = None) -> list[str]:
    """Describe every step without applying any: the dry run of :func:`execute`."""
    for step in plan.steps:
        if report is not None:
            report(step)
    return plan.lines()
