"""Which colour a new version goes into: the idle one, never the one serving traffic.

Pure: the caller passes the ledger's rollout state (if any) and the stack
config's ``liveColour``. The ledger wins because it knows about promotions the
stack config never heard of.
"""

from __future__ import annotations

from rollout.errors import Blocked
from rollout.rollouts.state import RolloutState
from rollout.vocabulary.colours import Colour, other_colour


def live_colour(state: RolloutState | None, configured_live: Colour) -> Colour:
    """The colour serving the cohort now: the ledger's view, else the stack config's."""
    return state.live_colour if state is not None else configured_live


def target_colour(cohort: str, state: RolloutState | None, configured_live: Colour,
                  requested: Colour | None = None) -> Colour:
    """The colour to deploy into; :class:`Blocked` when that would touch live traffic."""
    if state is not None and state.status.active:
        raise Blocked(f"cohort {cohort} has an active rollout of {state.release} "
                      f"({state.status.value}); both colours carry traffic. Finish, roll back "
                      "or abort it before deploying a new version")
    live = live_colour(state, configured_live)
    colour = requested or other_colour(live)
    if colour == live:
        raise Blocked(f"{colour} is the live colour of cohort {cohort}; deploy into the idle "
                      f"colour {other_colour(live)} (or leave out --colour)")
    return colour
