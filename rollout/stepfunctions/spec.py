"""What the compiler needs to know about one rollout, as data: :class:`WorkflowSpec`.

Whoever starts a rollout on Step Functions builds it from the plan, the cohort's resources
and the ledger documents the in-process executor would write at each transition (so both
engines record the same truth), then :func:`rollout.stepfunctions.definition.compile_definition`
turns it into the state machine. Documents may hold the sentinels :data:`NOW` and :data:`SEQ`,
filled in by the execution (:mod:`rollout.stepfunctions.templates`).
"""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from rollout.stepfunctions.templates import NOW, SEQ, has_sentinels

__all__ = ["NOW", "SEQ", "AlarmGate", "FreezeHold", "HaltPlacement", "LedgerWrite", "SlaGate",
           "WeightStep", "WorkflowSpec"]


GATE_LABEL_LENGTH = 30
"""State names are at most 80 characters on AWS: a gate's name is cut to this in them."""


def gate_label(name: str) -> str:
    """A gate's name as the state names show it."""
    return name if len(name) <= GATE_LABEL_LENGTH else name[:GATE_LABEL_LENGTH - 1] + "…"


class Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class HaltPlacement(Frozen):
    """A later wave's halt, placed as :func:`rollout.rollouts.halts.place_halt` places it:
    the item ``(pk, sk)`` holding ``doc`` only if none stands there, and then its history
    entry ``(pk, history_sk)``, both in one transaction (a halt standing already stays as
    it was, with no second entry). ``cohort`` is the wave it halts."""

    cohort: str
    pk: str
    sk: str
    doc: str
    history_sk: str
    history_doc: str

    @field_validator("pk", "sk")
    @classmethod
    def _literal_key(cls, key: str) -> str:
        if has_sentinels(key):
            raise ValueError("a halt's key is known before the execution: no sentinels in it")
        return key


class LedgerWrite(Frozen):
    """One transition's ledger writes, all in one ``TransactWriteItems`` with the stop fence:
    the ``STATE`` item's ``doc``, the event at the next free slot and the claim on its key
    (``EVENTKEY#<event_key>``, holding the same ``event_doc``); ``announce``, when given, is
    published on the notices topic after the write (pauses, promotion, rollback).
    ``halts_placed`` (a rollback's) are placed once the transition is recorded, before the
    announcement: the later waves of the release, as the in-process executor halts them."""

    state_doc: str
    event_doc: str
    event_key: str = Field(min_length=1)
    announce: str | None = None
    halts_placed: list[HaltPlacement] = Field(default_factory=list)

    @field_validator("event_key")
    @classmethod
    def _literal_key(cls, key: str) -> str:
        if has_sentinels(key):
            raise ValueError("an event key is known before the execution: no sentinels in it")
        return key


class WeightStep(Frozen):
    """One weight step: recorded, routed in one write, baked with the gates armed.

    ``paused`` is recorded when ``max_inconclusive`` checks in a row after its bake were
    inconclusive; ``awaiting_approval`` (required when ``approval``) before it waits for a
    human. Either way the execution then waits for a task token.
    """

    weights: dict[str, int]
    bake_seconds: float = Field(ge=0)
    approval: bool = False
    record: LedgerWrite
    paused: LedgerWrite
    awaiting_approval: LedgerWrite | None = None

    @field_validator("weights")
    @classmethod
    def _percentages(cls, weights: dict[str, int]) -> dict[str, int]:
        if any(w < 0 for w in weights.values()) or sum(weights.values()) != 100:
            raise ValueError(f"weights must be non-negative and add up to 100: {weights}")
        return weights

    @model_validator(mode="after")
    def _approval_recorded(self) -> WeightStep:
        if self.approval and self.awaiting_approval is None:
            raise ValueError("a step with an approval needs its awaiting_approval write")
        return self


class AlarmGate(Frozen):
    """Any of ``alarms`` in ALARM at a check during the bake → rollback with ``failed``."""

    name: str
    alarms: list[str] = Field(min_length=1, max_length=100)
    failed: LedgerWrite


class SlaGate(Frozen):
    """The new colour's availability since the rollout started, ``100 * (1 - target 5xx /
    requests)`` on its target group (CloudWatch metric math): below ``target`` → rollback with
    ``failed``; fewer than ``min_samples`` requests, or no data, is inconclusive, never a pass."""

    name: str
    target: float = Field(gt=0, lt=100)
    min_samples: int = Field(ge=1)
    failed: LedgerWrite


class FreezeHold(Frozen):
    """A company freeze known at the start: no weight step from ``starts`` until ``ends``."""

    name: str
    starts: datetime
    ends: datetime

    @model_validator(mode="after")
    def _ends_after_it_starts(self) -> FreezeHold:
        if self.starts.tzinfo is None or self.ends.tzinfo is None:
            raise ValueError("a freeze's times must be timezone-aware")
        if self.ends <= self.starts:
            raise ValueError(f"freeze {self.name} ends before it starts")
        return self


class WorkflowSpec(Frozen):
    """One rollout of one cohort, everything its state machine does spelled out."""

    cohort: str
    release: str
    region: str
    listener_arn: str
    target_groups: dict[str, str]
    """colour → target group ARN, in the order the listener's forward action lists them."""
    stickiness: int | None = Field(default=None, ge=1, le=604_800)
    """The ALB router's ``stickiness``, in seconds: kept on every weight write, as it keeps
    it (a client stays on the colour it first landed on while the weights move)."""
    old_colour: str
    new_colour: str
    load_balancer_dimension: str
    target_group_dimensions: dict[str, str]
    rollout_started_at: str
    """ISO timestamp: where the SLA gates' metric window starts."""
    steps: list[WeightStep] = Field(min_length=1)
    alarm_gates: list[AlarmGate] = Field(default_factory=list)
    sla_gates: list[SlaGate] = Field(default_factory=list)
    blockers: list[str] = Field(default_factory=list, max_length=100)
    """Alarm names: any in ALARM holds the rollout before a weight step."""
    halts: list[tuple[str, str]] = Field(default_factory=list)
    """``(pk, sk)`` ledger items: any present holds the rollout before a weight step."""
    freezes: list[FreezeHold] = Field(default_factory=list, max_length=50)
    """Company freezes: inside one, the rollout holds before a weight step until it ends."""
    check_interval_seconds: int = Field(ge=1)
    max_inconclusive: int = Field(ge=1)
    ledger_table: str
    ledger_pk: str
    stop_sk: str
    event_slots: list[tuple[int, str]] = Field(min_length=1)
    """Reserved ``(seq, "EVENT#…")`` pairs in order: this execution's events take the next
    free one, skipping those other writers took meanwhile."""
    promoted: LedgerWrite
    approval_item_sk: str
    """Where a wait for a human keeps its task token: item ``(ledger_pk, approval_item_sk)``,
    attributes ``token`` (S) and ``step`` (N, the step's index from 0)."""
    notices_topic_arn: str | None = None
    rolled_back_on_error: LedgerWrite

    @property
    def gates(self) -> list[AlarmGate | SlaGate]:
        """Alarm gates, then SLA gates: the order they are checked in."""
        return [*self.alarm_gates, *self.sla_gates]

    @model_validator(mode="after")
    def _consistent(self) -> WorkflowSpec:
        colours = set(self.target_groups)
        if {self.old_colour, self.new_colour} - colours:
            raise ValueError(f"old and new colour must be among the target groups {colours}")
        if self.new_colour not in self.target_group_dimensions:
            raise ValueError("the new colour needs its target group dimension (SLA gates)")
        for step in self.steps:
            if set(step.weights) - colours:
                raise ValueError(f"step weights {step.weights} name an unknown colour")
        labels = [gate_label(gate.name) for gate in self.gates]
        if len(set(labels)) != len(labels):
            raise ValueError(f"gate names must differ in their first {GATE_LABEL_LENGTH - 1} "
                             f"characters: {labels}")
        if self.steps[-1].weights.get(self.new_colour) != 100:
            raise ValueError("the last step sends 100% to the new colour (its bake is the "
                             "final bake)")
        return self
