"""Kill the rollout process at a chosen point, as ``kill -9`` would: no cleanup, no flush.

A :class:`CrashPoint` names one of the engine's writes and which occurrence of it
to die before or after:

* ``route``: :meth:`CohortRollout._route`, the router write (``ModifyListener``).
  The engine saves the new state to the ledger first, so ``route:before:N`` dies
  with the ledger ahead of the listener and ``route:after:N`` with the listener
  moved but the step's event unwritten: the two gaps between a router write and
  its ledger writes.
* ``event``: :meth:`Ledger.append_event`; ``event[step]:after:N`` dies right after
  the Nth ``step`` event, i.e. at a step boundary; without a kind every event counts.
* ``put``: :meth:`Ledger.put` and :meth:`Ledger.save_state`; ``put[STATE]`` counts
  state saves only.

``os._exit(137)`` skips ``finally`` blocks, so the lease is never released and
nothing is flushed: exactly what a SIGKILL leaves behind.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel

from rollout.rollouts.executor import CohortRollout
from rollout.rollouts.ledger import Event, Ledger
from rollout.rollouts.state import RolloutState
from rollout.vocabulary.ledger_keys import STATE_SK

CRASH_EXIT = 137
Target = Literal["route", "event", "put"]
When = Literal["before", "after"]
SPEC = re.compile(r"^(route|event|put)(?:\[([\w-]+)\])?:(before|after):(\d+)$")


@dataclass(frozen=True)
class CrashPoint:
    """Die ``when`` the ``nth`` write of ``target`` (of kind ``only``, if given) happens."""

    target: Target
    when: When
    nth: int
    only: str | None = None

    @property
    def spec(self) -> str:
        kind = f"[{self.only}]" if self.only else ""
        return f"{self.target}{kind}:{self.when}:{self.nth}"

    @classmethod
    def parse(cls, text: str) -> CrashPoint:
        match = SPEC.match(text.strip())
        if not match:
            raise ValueError(f"crash point {text!r} is not like route:after:1 or "
                             "event[step]:after:2")
        target, only, when, nth = match.groups()
        return cls(target, when, int(nth), only)  # type: ignore[arg-type]


def die() -> None:
    os._exit(CRASH_EXIT)


class CrashInjector:
    """Patches the engine and the ledger to call ``die`` at one :class:`CrashPoint`."""

    def __init__(self, point: CrashPoint, die: Callable[[], None] = die) -> None:
        self.point = point
        self.seen = 0
        self._die = die

    def _counts(self, kind: str) -> bool:
        if self.point.only is not None and kind != self.point.only:
            return False
        self.seen += 1
        return self.seen == self.point.nth

    def _around(self, kind: str, call: Callable[[], Any]) -> Any:
        hit = self._counts(kind)
        if hit and self.point.when == "before":
            self._die()
        result = call()
        if hit and self.point.when == "after":
            self._die()
        return result

    def install(self) -> None:
        if self.point.target == "route":
            self._patch_route()
        elif self.point.target == "event":
            self._patch_event()
        else:
            self._patch_put()

    def _patch_route(self) -> None:
        original = CohortRollout._route
        injector = self

        def route(engine: CohortRollout, state: RolloutState) -> None:
            injector._around("route", lambda: original(engine, state))

        CohortRollout._route = route  # type: ignore[method-assign,assignment]

    def _patch_event(self) -> None:
        original = Ledger.append_event
        injector = self

        def append_event(ledger: Ledger, cohort: str, event: Event) -> Event:
            written: Event = injector._around(event.kind,
                                              lambda: original(ledger, cohort, event))
            return written

        Ledger.append_event = append_event  # type: ignore[method-assign,assignment]

    def _patch_put(self) -> None:
        original = Ledger.put
        injector = self

        def put(ledger: Ledger, pk: str, sk: str, doc: BaseModel, *,
                only_if_new: bool = False) -> bool:
            done: bool = injector._around(
                sk, lambda: original(ledger, pk, sk, doc, only_if_new=only_if_new))
            return done

        Ledger.put = put  # type: ignore[method-assign,assignment]
        original_save = Ledger.save_state

        def save_state(ledger: Ledger, cohort: str, doc: BaseModel, **guards: Any) -> None:
            injector._around(STATE_SK, lambda: original_save(ledger, cohort, doc, **guards))
        Ledger.save_state = save_state  # type: ignore[method-assign,assignment]
