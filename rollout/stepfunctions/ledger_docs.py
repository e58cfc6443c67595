"""The ledger documents a rollout workflow writes, made in Python before it starts.

A Step Functions execution cannot run our code, yet ``status``, ``report`` and the
in-process executor must read one truth. So every state and event the workflow will
record is written out here, from the very models the executor writes
(:class:`~rollout.rollouts.state.RolloutState`, :class:`~rollout.rollouts.ledger.Event`),
with the same kinds, keys, messages and data, and only what a workflow knows at run
time left as a sentinel: the moment (:data:`~rollout.stepfunctions.spec.NOW`) and the
event's number (:data:`~rollout.stepfunctions.spec.SEQ`). Pure: no boto3.

Revisions: step ``i`` owns the :data:`REVISIONS_PER_STEP` numbers from
``revision + 1 + 4 i``: its record, its pause, its approval wait, and one left for an
in-process save meanwhile; the promotion and the rollback come after the last step's. So
every document the workflow writes carries a higher revision than any written before it,
and the in-process commands go on from whatever the workflow wrote last.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from rollout.gates.base import GateResult, Verdict
from rollout.rollouts.halts import Halt
from rollout.rollouts.ledger import Event
from rollout.rollouts.progression import step_weights
from rollout.rollouts.state import RolloutState, Status
from rollout.stepfunctions.spec import NOW, SEQ, HaltPlacement, LedgerWrite
from rollout.vocabulary.durations import format_duration
from rollout.vocabulary.ledger_keys import halt_history_sk

REVISIONS_PER_STEP = 4
"""Revision numbers each step may use (its record, a pause, an approval wait, a spare)."""
TIMESTAMPS = ("updated_at", "step_started_at", "promoted_at")
"""State fields the execution fills with the moment it writes, when a transition sets them."""
MARK = datetime(2001, 1, 1, tzinfo=UTC)
"""A moment a document is dumped with, its text then replaced by :data:`NOW`."""


def _stamped(text: str) -> str:
    """``text`` (dumped at :data:`MARK`) with the execution's moment in its place."""
    return text.replace(json.dumps(MARK.isoformat().replace("+00:00", "Z")), f'"{NOW}"')


class WorkflowDocuments:
    """Every ledger write of one rollout's workflow, from its state as ``start`` left it."""

    def __init__(self, state: RolloutState, actor: str, warm_for_seconds: float,
                 later_waves: Sequence[str] = ()) -> None:
        """``later_waves``: the cohorts after this one, which its rollback halts."""
        self._state = state
        self._actor = actor
        self._warm_for = warm_for_seconds
        self._later_waves = tuple(later_waves)
        self._begun = state.started_at.isoformat()

    def _state_doc(self, revision: int, changes: dict[str, Any]) -> str:
        stamped = [name for name in TIMESTAMPS if changes.pop(name, None) == NOW]
        doc = self._state.model_copy(update={
            "engine": "stepfunctions", "revision": revision, **changes}).model_dump(mode="json")
        for name in ["updated_at", *stamped]:
            doc[name] = NOW
        return json.dumps(doc)

    def _write(self, revision: int, event: Event, state_changes: dict[str, Any]) -> LedgerWrite:
        """One transition: the state at ``revision`` and ``event`` (its key in its data)."""
        dumped = event.model_dump(mode="json")
        dumped["at"], dumped["seq"] = NOW, SEQ
        return LedgerWrite(state_doc=self._state_doc(revision, state_changes),
                           event_doc=json.dumps(dumped).replace(f'"{SEQ}"', SEQ),
                           event_key=str(event.key), announce=event.message)

    def _event(self, kind: str, message: str, key: str, **data: Any) -> Event:
        return Event(actor=self._actor, kind=kind, message=message,
                     data={"key": f"{self._begun}:{key}", **data})

    def _revision(self, step: int, offset: int = 0) -> int:
        return self._state.revision + 1 + REVISIONS_PER_STEP * step + offset

    def step(self, index: int) -> LedgerWrite:
        """Step ``index`` begins: its weights, recorded before the listener is written."""
        state = self._state
        weights = step_weights(state, index)
        return self._write(self._revision(index), self._event(
            "step", f"step {index + 1}/{len(state.steps)}: {state.steps[index].weight}% to "
            f"{state.new_colour} ({state.release})", f"step:{index}", step=index,
            weights=dict(weights)),
            {"status": Status.SHIFTING, "step_index": index, "weights": weights,
             "step_started_at": NOW, "inconclusive_checks": 0, "reason": None})

    def paused(self, index: int, why: str) -> LedgerWrite:
        """A human must decide at step ``index``: too many inconclusive checks in a row."""
        return self._pause(index, 1, why)

    def awaiting_approval(self, index: int, why: str) -> LedgerWrite:
        """Step ``index`` has baked and waits for ``rollout promote`` (a manual gate)."""
        return self._pause(index, 2, why)

    def _pause(self, index: int, offset: int, why: str) -> LedgerWrite:
        revision = self._revision(index, offset)
        return self._write(revision, self._event("paused", why, f"paused:{revision}"),
                           {"status": Status.PAUSED, "step_index": index,
                            "weights": step_weights(self._state, index), "reason": why})

    def promoted(self) -> LedgerWrite:
        """The last step's bake passed: the release is live, the old colour stays warm."""
        state = self._state
        last = len(state.steps) - 1
        return self._write(self._revision(len(state.steps)), self._event(
            "promoted", f"{state.release} is live on {state.new_colour}; {state.old_colour} "
            f"({state.old_version}) stays warm for rollback for "
            f"{format_duration(self._warm_for)}", "promoted"),
            {"status": Status.PROMOTED, "step_index": last, "weights": step_weights(state, last),
             "promoted_at": NOW, "warm_for_seconds": self._warm_for,
             "last_known_good": state.release, "reason": None})

    def rolled_back(self, gate: str, why: str) -> LedgerWrite:
        """A gate failed: all traffic is back on the old colour (the configuration a tenant
        changed on the new one is carried back by the next command that sees it)."""
        state = self._state
        reason = f"gate {gate} failed: {why}"
        failure = GateResult(gate=gate, verdict=Verdict.FAIL, reason=why)
        weights = {state.old_colour: 100, state.new_colour: 0}
        write = self._write(self._revision(len(state.steps), 1), self._event(
            "rolled_back", f"all traffic back on {state.old_colour} ({state.old_version}): "
            f"{reason}", "rolled_back", weights=dict(weights),
            failure=failure.model_dump(mode="json")),
            {"status": Status.ROLLED_BACK, "weights": weights, "reason": reason,
             "failure": failure, "config_carried_back": False})
        return write.model_copy(update={"halts_placed": self.later_halts(gate, reason)})

    def later_halts(self, gate: str, reason: str) -> list[HaltPlacement]:
        """The later waves' halts a rollback for ``reason`` places, each with the history
        entry :func:`rollout.rollouts.halts.place_halt` writes (``gate`` tells the entries
        of one rollout's causes apart)."""
        state = self._state
        why = f"cohort {state.cohort} rolled back {state.release}: {reason}"
        placements = []
        for cohort in self._later_waves:
            halt = Halt(scope="release", cohort=cohort, release=state.release,
                        actor=self._actor, at=MARK, reason=why)
            entry = Event(at=MARK, actor=self._actor, kind="halted",
                          message=f"{halt.what} halted by {halt.actor}: {halt.reason}",
                          data={"halt": halt.model_dump(mode="json")})
            unique = hashlib.sha256(f"{self._begun}:{gate}:{cohort}".encode()).hexdigest()[:12]
            pk, sk = halt.key
            placements.append(HaltPlacement(
                cohort=cohort, pk=pk, sk=sk, doc=_stamped(halt.model_dump_json()),
                history_sk=halt_history_sk(MARK, unique).replace(MARK.isoformat(), NOW),
                history_doc=_stamped(entry.model_dump_json())))
        return placements


__all__ = ["REVISIONS_PER_STEP", "WorkflowDocuments"]
