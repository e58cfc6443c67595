"""After a fault and a recovery: did the rollout converge, and was anything lost?

Every check reads what a user would look at: the listener's weights (plain
boto3), the ledger's state and event history, and the tenant settings of both
colours (``ConfigCopier.diff`` between them, and the live colour against what the
tenants wrote). "Lost" counts what can never come back by itself: a setting a
tenant wrote that is gone or changed, a hole in the event sequence, a step or a
final outcome the history does not record.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

import boto3

from rollout.configcopy.copier import ConfigCopier
from rollout.configcopy.diff import Difference
from rollout.discovery import CohortResources
from rollout.rollouts.executor import load_state
from rollout.rollouts.ledger import Event, Ledger
from rollout.rollouts.state import Status
from tests.conftest import Fleet, listener_weights

TERMINAL_EVENT = {Status.PROMOTED: "promoted", Status.ROLLED_BACK: "rolled_back",
                  Status.ABORTED: "aborted"}


def colour_values(cohort: CohortResources, colour: str) -> dict[str, tuple[str, str]]:
    """Every setting of a colour as (type, decrypted value), read with plain boto3."""
    prefix = cohort.colour_prefix(colour)
    pages = boto3.client("ssm").get_paginator("get_parameters_by_path").paginate(
        Path=prefix, Recursive=True, WithDecryption=True)
    return {p["Name"][len(prefix) + 1:]: (p["Type"], p["Value"])
            for page in pages for p in page["Parameters"]}


@dataclass
class Convergence:
    """What the cohort looks like now, and every way it falls short."""

    status: str | None
    ledger_weights: dict[str, int] | None
    listener_weights: dict[str, int]
    settings_compared: int = 0
    unequal_settings: list[str] = field(default_factory=list)
    lost_settings: list[str] = field(default_factory=list)
    seq_gaps: list[int] = field(default_factory=list)
    duplicated_keys: list[str] = field(default_factory=list)
    step_events: list[int] = field(default_factory=list)
    expected_steps: list[int] = field(default_factory=list)
    started_events: int = 0
    terminal_events: int = 0

    @property
    def missing_steps(self) -> list[int]:
        return sorted(set(self.expected_steps) - set(self.step_events))

    @property
    def lost(self) -> int:
        """Things that are gone for good: settings, event numbers, steps, the outcome."""
        return (len(self.lost_settings) + len(self.seq_gaps) + len(self.missing_steps)
                + (1 if self.terminal_events == 0 else 0))

    def problems(self, expected_status: str) -> list[str]:
        found = []
        if self.status != expected_status:
            found.append(f"status is {self.status}, expected {expected_status}")
        if self.ledger_weights != self.listener_weights:
            found.append(f"listener {self.listener_weights} != ledger {self.ledger_weights}")
        if self.unequal_settings:
            found.append(f"settings differ between colours: {self.unequal_settings}")
        if self.lost_settings:
            found.append(f"tenant settings lost on the live colour: {self.lost_settings}")
        if self.seq_gaps:
            found.append(f"event sequence has gaps at {self.seq_gaps}")
        if self.duplicated_keys:
            found.append(f"events recorded twice: {self.duplicated_keys}")
        if self.step_events != self.expected_steps:
            found.append(f"step events {self.step_events}, expected {self.expected_steps}")
        if self.started_events != 1:
            found.append(f"{self.started_events} 'started' events")
        if self.terminal_events != 1:
            found.append(f"{self.terminal_events} events for the outcome {self.status}")
        return found


def _rollout_events(events: list[Event], started_key: str) -> list[Event]:
    return [e for e in events if str(e.data.get("key", "")).startswith(started_key + ":")]


def check(fleet: Fleet, cohort: str, seeded: dict[str, tuple[str, str]]) -> Convergence:
    """Look at the cohort after recovery; see :meth:`Convergence.problems`."""
    resources = fleet.cohorts[cohort]
    ledger = Ledger(fleet.clients, resources.ledger_table)
    state = load_state(ledger, cohort)
    result = Convergence(status=state.status.value if state else None,
                         ledger_weights={str(c): w for c, w in state.weights.items()}
                         if state else None,
                         listener_weights=listener_weights(resources))
    events = ledger.events(cohort)
    seqs = [e.seq for e in events]
    result.seq_gaps = sorted(set(range(1, (max(seqs) if seqs else 0) + 1)) - set(seqs))
    keys = Counter(str(e.data.get("key")) for e in events)
    result.duplicated_keys = sorted(key for key, n in keys.items() if n > 1)
    if state is not None:
        mine = _rollout_events(events, state.started_at.isoformat())
        result.step_events = [int(e.data["step"]) for e in mine if e.kind == "step"]
        result.expected_steps = list(range(state.step_index + 1))
        result.started_events = sum(1 for e in mine if e.kind == "started")
        terminal = TERMINAL_EVENT.get(state.status)
        result.terminal_events = sum(1 for e in mine if e.kind == terminal)
        old, new = state.old_colour, state.new_colour
        diff = ConfigCopier(fleet.clients, resources, ledger).diff(old, new)
        result.settings_compared = len(diff.items)
        result.unequal_settings = sorted(f"{i.key}: {i.status.value}" for i in diff.items
                                         if i.status != Difference.EQUAL)
        result.unequal_settings += [f"{key}: not compared" for key in
                                    sorted(set(seeded) - {i.key for i in diff.items})]
        live = colour_values(resources, old)
        result.lost_settings = sorted(key for key, value in seeded.items()
                                      if live.get(key) != value)
    return result
