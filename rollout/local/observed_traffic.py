"""What tenants got during a rehearsal, judged from their answers alone.

The demo and the rehearsal tests send tenants' requests while a rollout runs; this
keeps every answer with its times (:class:`Recording`) and says, from those answers
only (pure, no AWS), what a platform team wants to see: the split each step really
gave, whether a pinned tenant ever reached the other colour, whether a tenant's
settings looked the same on both colours, and how quickly a rollback stopped the bad
colour from serving.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from rollout.local.traffic import Answer, Tally


@dataclass
class Recording(Tally):
    """A :class:`Tally` that also keeps every answer, in the order they came back."""

    answers: list[Answer] = field(default_factory=list)
    _kept: threading.Lock = field(default_factory=threading.Lock)

    def answered(self, answer: Answer) -> None:
        super().answered(answer)
        with self._kept:
            self.answers.append(answer)

    def taken(self) -> list[Answer]:
        """A copy of the answers so far (the senders keep appending)."""
        with self._kept:
            return list(self.answers)


@dataclass(frozen=True)
class Split:
    """How many requests were sent in a span, and how many of them ``colour`` served."""

    colour: str
    requests: int
    served: int

    @property
    def percent(self) -> float:
        return 100.0 * self.served / self.requests if self.requests else 0.0


def observed_split(answers: Iterable[Answer], colour: str, start: float, end: float,
                   excluded: Iterable[str] = ()) -> Split:
    """The share of requests sent in ``[start, end)`` that ``colour`` served, leaving out
    the tenants in ``excluded`` (pinned ones follow their rule, not the weights)."""
    skip = set(excluded)
    sent = [a for a in answers if start <= a.sent_at < end and a.tenant not in skip]
    return Split(colour, len(sent), sum(1 for a in sent if a.colour == colour))


def strays(answers: Iterable[Answer], pins: Mapping[str, str]) -> dict[str, int]:
    """Per pinned tenant, its answers that came from a colour other than its pin's."""
    found = dict.fromkeys(pins, 0)
    for answer in answers:
        pin = pins.get(answer.tenant)
        if pin is not None and answer.status is not None and answer.colour != pin:
            found[answer.tenant] += 1
    return found


def _settings(answer: Answer) -> Any:
    try:
        return json.loads(answer.body).get("settings")
    except (ValueError, AttributeError):
        return None


def settings_continuity(answers: Sequence[Answer], old: str, new: str
                        ) -> tuple[list[str], list[str]]:
    """Tenants whose first answer from ``new`` showed exactly the settings of their last
    answer from ``old`` before it, and those whose differed; a tenant not served by both
    is in neither. Only successful answers count."""
    alike: list[str] = []
    different: list[str] = []
    last_old: dict[str, Any] = {}
    judged: set[str] = set()
    for answer in sorted(answers, key=lambda a: a.answered_at):
        if answer.status != 200 or answer.tenant in judged:
            continue
        if answer.colour == old:
            last_old[answer.tenant] = _settings(answer)
        elif answer.colour == new and answer.tenant in last_old:
            judged.add(answer.tenant)
            same = _settings(answer) == last_old[answer.tenant]
            (alike if same else different).append(answer.tenant)
    return sorted(alike), sorted(different)


def first_failure(answers: Sequence[Answer], colour: str) -> Answer | None:
    """The earliest-answered 5xx ``colour`` served."""
    failed = [a for a in answers if a.colour == colour and (a.status or 0) >= 500]
    return min(failed, key=lambda a: a.answered_at) if failed else None


def served_after(answers: Iterable[Answer], colour: str, moment: float) -> list[Answer]:
    """Requests sent after ``moment`` that ``colour`` still served."""
    return [a for a in answers if a.sent_at > moment and a.colour == colour]


__all__ = ["Recording", "Split", "first_failure", "observed_split", "served_after",
           "settings_continuity", "strays"]
