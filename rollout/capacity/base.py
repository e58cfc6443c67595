"""What a colour can serve, and how to resize it: one protocol, one file per compute kind.

A rollout must never shift weight onto a colour that cannot take it: Flagger #869 and
#1600 are a shrunk primary overloaded by a one-shot rollback. Each compute kind says how
big a colour is (ECS tasks, Lambda provisioned executions) and how to resize it; every
kind is judged *ready* the same way, by its colour's target group, because that is what
the load balancer routes by.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from typing import Any, Protocol

from rollout.aws_clients import AwsClients
from rollout.discovery import CohortResources, RunningCompute
from rollout.errors import Blocked
from rollout.plugins import Registry
from rollout.routers.base import IamStatement
from rollout.vocabulary.colours import Colour


@dataclass(frozen=True)
class TargetState:
    """One registered target as the load balancer sees it."""

    target: str
    state: str
    reason: str | None = None


@dataclass(frozen=True)
class TargetStates:
    """A colour's targets and their health, and how many must be healthy for it to serve."""

    colour: Colour
    targets: tuple[TargetState, ...]
    needed: int = 1

    @property
    def healthy(self) -> int:
        return sum(1 for target in self.targets if target.state == "healthy")

    @property
    def serves(self) -> bool:
        """Whether the colour may take traffic: at least ``needed`` healthy targets."""
        return self.healthy >= max(1, self.needed)

    def describe(self) -> str:
        """``green: 1 of 2 needed targets healthy (10.0.0.7 initial: Elb.Registration...)``."""
        if not self.targets:
            return f"{self.colour}: no targets registered"
        states = ", ".join(f"{t.target} {t.state}" + (f" ({t.reason})" if t.reason else "")
                           for t in self.targets)
        return f"{self.colour}: {self.healthy} of {max(1, self.needed)} needed targets " \
               f"healthy ({states})"


class ColourCapacity(Protocol):
    """A cohort's compute kind at run time: each colour's size, its resize, its readiness."""

    kind: str
    unit: str
    """What a size counts (``tasks``, ``provisioned executions``), for messages."""

    def size(self, colour: Colour) -> int | None:
        """How big ``colour`` is now; None when its size is not ours to set (on-demand)."""
        ...

    def resize(self, colour: Colour, size: int) -> None:
        """Ask for ``size`` (0: scaled down; what runs and its artefact stay deployed)."""
        ...

    def health(self, colour: Colour) -> TargetStates:
        """``colour``'s targets as the load balancer sees them, and how many it needs."""
        ...

    def iam_statements(self, account: str) -> list[IamStatement]:
        """What a role needs, in ``account``, to do all of the above and nothing more."""
        ...


class TargetGroupCapacity:
    """What every kind shares: readiness read off the colour's target group."""

    kind: str
    unit: str = "targets"

    def __init__(self, clients: AwsClients, cohort: CohortResources) -> None:
        self._clients = clients
        self._cohort = cohort

    @cached_property
    def _elbv2(self) -> Any:
        return self._clients.client("elbv2")

    def running(self, colour: Colour) -> RunningCompute:
        """What the stack deployed into ``colour`` (empty when it deployed nothing)."""
        return self._cohort.compute.get(colour) or RunningCompute()

    def nothing_deployed(self, colour: Colour, what: str) -> Blocked:
        """Why ``colour`` cannot be sized: the stack deployed no ``what`` into it yet."""
        cohort = self._cohort.cohort
        return Blocked(f"{colour} of cohort {cohort} runs no {what}: deploy a version into it "
                       f"first (`rollout stacks up --cohort {cohort} --version V`)")

    def size(self, colour: Colour) -> int | None:
        return None

    def resize(self, colour: Colour, size: int) -> None:
        """Nothing of ours to resize."""

    def needed(self, colour: Colour) -> int:
        """How many healthy targets make ``colour`` ready: one, unless the kind knows more."""
        return 1

    def health(self, colour: Colour) -> TargetStates:
        answer = self._elbv2.describe_target_health(
            TargetGroupArn=self._cohort.target_group_arns[colour])
        targets = tuple(TargetState(str(item["Target"]["Id"]),
                                    str(item["TargetHealth"].get("State", "unknown")),
                                    item["TargetHealth"].get("Reason"))
                        for item in answer.get("TargetHealthDescriptions", []))
        return TargetStates(colour, targets, self.needed(colour))

    def iam_statements(self, account: str) -> list[IamStatement]:
        return [IamStatement(sid="ReadTargetHealth", resources=["*"],
                             actions=["elasticloadbalancing:DescribeTargetHealth"])]


CapacityFactory = Callable[[AwsClients, CohortResources], ColourCapacity]
CAPACITIES: Registry[CapacityFactory] = Registry("compute kind", "rollout.capacity")
"""Compute kind (the stack's ``computeKind`` output) → how its colours are sized."""
