"""The ``Gate`` protocol: a check that passes, fails or is inconclusive.

No data, or too few samples, is *inconclusive*, never a pass: the step holds,
and after a configured number of inconclusive checks the rollout pauses for a
human. A failure always says which gate, which metric, what was observed and
what the threshold was.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from enum import StrEnum
from typing import Any, Protocol

from pydantic import BaseModel, ConfigDict

from rollout.aws_clients import AwsClients
from rollout.discovery import CohortResources
from rollout.plugins import Registry
from rollout.vocabulary.colours import Colour


class Verdict(StrEnum):
    PASS = "pass"
    FAIL = "fail"
    INCONCLUSIVE = "inconclusive"


class GateResult(BaseModel):
    """One gate check's outcome and the evidence behind it."""

    gate: str
    verdict: Verdict
    reason: str
    metric: str | None = None
    observed: float | None = None
    threshold: float | None = None
    dry_run: bool = False
    """Checked and recorded, never obeyed (``dry_run: true``, :mod:`rollout.gates.dry_run`)."""


def obeyed(results: list[GateResult]) -> list[GateResult]:
    """The results a rollout acts on: all but those of dry-run gates."""
    return [result for result in results if not result.dry_run]


class GateContext(BaseModel):
    """What a gate may look at: the cohort, which colour is old and new, and since when."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    clients: AwsClients
    cohort: CohortResources
    old_colour: Colour
    new_colour: Colour
    rollout_started_at: datetime
    step_started_at: datetime
    now: datetime
    approved: bool = False
    old_weight: int | None = None
    """The old colour's share of the traffic at this step, when the executor knows it."""


class Gate(Protocol):
    """A health check the executor runs during every bake."""

    name: str

    @property
    def waits_for_human(self) -> bool:
        """Whether an inconclusive check means "waiting for a person" (``rollout promote``),
        which is expected, rather than "starved of data", which counts towards a pause."""
        ...

    def check(self, context: GateContext) -> GateResult:
        ...


GateFactory = Callable[[Mapping[str, Any]], Gate]
"""``factory(settings)``: the settings a user wrote for one gate, without ``kind``. A bad
setting raises pydantic's ``ValidationError`` (or :class:`~rollout.errors.BadInput`), which
:mod:`rollout.gates.load` turns into one line naming the field."""

GATES: Registry[GateFactory] = Registry("gate", "rollout.gates")
