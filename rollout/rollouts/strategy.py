"""Step plans: how a rollout moves traffic from the old colour to the new one.

Pure and boto3-free. A plan is a list of steps; each step sets the new colour's
weight (percent), bakes for a while, and checks its gates during the bake.
Weights only go up, never pass 100, and the last step is always 100.

Specs a user writes: ``canary:10:5m`` (10% for 5 minutes, then 100%),
``linear:20:5m`` (20, 40, 60, 80, 100, 5 minutes each), ``all-at-once``, or
``file:steps.yaml`` for custom steps.
"""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from rollout.errors import BadInput
from rollout.userfile import load_model
from rollout.vocabulary.durations import parse_duration


class Step(BaseModel):
    """One step: route ``weight`` percent to the new colour, bake, check gates meanwhile."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    weight: int = Field(ge=1, le=100)
    bake_seconds: float = Field(default=0, ge=0, alias="bake")
    gates: list[dict[str, Any]] = Field(default_factory=list)

    @model_validator(mode="before")
    @classmethod
    def _bake_text(cls, data: Any) -> Any:
        if isinstance(data, dict) and isinstance(data.get("bake"), str):
            data = {**data, "bake": parse_duration(data["bake"], "bake")}
        return data


class StepPlan(BaseModel):
    """A validated list of steps: weights increasing, ending at 100."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    steps: list[Step] = Field(min_length=1)

    @field_validator("steps")
    @classmethod
    def _monotone_to_100(cls, steps: list[Step]) -> list[Step]:
        weights = [step.weight for step in steps]
        if any(b <= a for a, b in itertools.pairwise(weights)):
            raise ValueError(f"weights must increase step by step, got {weights}")
        if weights[-1] != 100:
            raise ValueError(f"the last step must send 100% to the new colour, got {weights[-1]}")
        return steps


def _percent(text: str, spec: str) -> int:
    if not text.isdigit() or not 1 <= int(text) <= 99:
        raise BadInput(f"strategy {spec!r}: step {text!r} must be a whole percent from 1 to 99")
    return int(text)


def parse_strategy(spec: str, base_dir: Path | None = None) -> StepPlan:
    """Turn a strategy spec into a :class:`StepPlan`; :class:`BadInput` says what is wrong."""
    kind, _, rest = spec.strip().partition(":")
    args = rest.split(":") if rest else []
    if kind == "all-at-once" and not args:
        return StepPlan(steps=[Step(weight=100)])
    if kind in ("canary", "linear") and len(args) == 2:
        percent = _percent(args[0], spec)
        bake = parse_duration(args[1], f"strategy {spec!r}: bake")
        if kind == "canary":
            return StepPlan(steps=[Step(weight=percent, bake_seconds=bake),
                                   Step(weight=100, bake_seconds=bake)])
        weights = [*list(range(percent, 100, percent)), 100]
        return StepPlan(steps=[Step(weight=w, bake_seconds=bake) for w in weights])
    if kind == "file" and rest:
        path = Path(rest) if base_dir is None else base_dir / rest
        return load_model(path, StepPlan)
    raise BadInput(f"unknown strategy {spec!r}: use canary:<percent>:<bake>, "
                   "linear:<step percent>:<bake>, all-at-once or file:<steps.yaml>")
