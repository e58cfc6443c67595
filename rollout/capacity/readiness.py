"""Waiting until a colour can serve: bounded, with live progress, never skipped."""

from __future__ import annotations

from collections.abc import Callable

from rollout.capacity.base import ColourCapacity, TargetStates
from rollout.errors import Blocked
from rollout.vocabulary.clock import Clock
from rollout.vocabulary.colours import Colour
from rollout.vocabulary.durations import human_duration

WaitProgress = Callable[[TargetStates, float], None]
"""Told the colour's target states and the seconds waited so far, at every check."""


def wait_until_serving(capacity: ColourCapacity, colour: Colour, *, within: float,
                       clock: Clock, every: float = 2.0,
                       progress: WaitProgress | None = None) -> TargetStates:
    """Check ``colour``'s targets every ``every`` seconds until enough are healthy.

    :class:`Blocked` (exit 3) naming the target states once ``within`` seconds have
    passed: whoever waits moves no traffic onto a colour that cannot serve it.
    """
    started = clock.now()
    while True:
        states = capacity.health(colour)
        waited = (clock.now() - started).total_seconds()
        if progress is not None:
            progress(states, waited)
        if states.serves:
            return states
        if waited >= within:
            raise Blocked(f"{states.describe()} after waiting {human_duration(waited)}; "
                          "no traffic was moved onto it")
        clock.sleep(max(0.0, min(every, within - waited)))
