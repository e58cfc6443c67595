"""A colour that serves pinned tenants is never redeployed: who is pinned there, and the refusal.

Pinned tenants (opt-outs, busy seasons, tenants outside their window) were promised
the version their colour runs. After a promotion their colour carries no weight,
so it looks idle, and ``stacks up`` or ``rollback --to-version`` would redeploy it
and change their version without notice. Pins come from two places: the listener
(what AWS routes by) and the ledger (what the executor promised). Either one is
enough to refuse, so a listener rule deleted by hand, or a pin the executor was
about to apply when it crashed, still protects the tenant. Pure, no boto3.
"""

from __future__ import annotations

from collections.abc import Mapping

from pydantic import BaseModel, ConfigDict

from rollout.errors import Blocked
from rollout.vocabulary.colours import Colour, other_colour
from rollout.vocabulary.versions import is_semver, semver_key


class ColourPin(BaseModel):
    """One tenant pinned to a colour, and which of the two sources says so."""

    model_config = ConfigDict(frozen=True)

    tenant: str
    colour: Colour
    in_listener: bool
    in_ledger: bool


def pins_serving(colour: Colour, listener_pins: Mapping[str, Colour],
                 ledger_pins: Mapping[str, Colour]) -> list[ColourPin]:
    """The tenants pinned to ``colour`` by the listener or by the ledger, by tenant id."""
    tenants = {t for t, c in listener_pins.items() if c == colour} | {
        t for t, c in ledger_pins.items() if c == colour}
    return [ColourPin(tenant=tenant, colour=colour,
                      in_listener=listener_pins.get(tenant) == colour,
                      in_ledger=ledger_pins.get(tenant) == colour)
            for tenant in sorted(tenants)]


def _move_verb(running: str | None, target: str | None) -> str:
    if running and target and is_semver(running) and is_semver(target):
        return "upgrades" if semver_key(target) > semver_key(running) else "downgrades"
    return "changes the version of"


def _way_out(cohort: str, colour: Colour, versions: Mapping[Colour, str],
             pins: list[ColourPin]) -> str:
    """What the user can do: move the pins to the other colour, saying what that costs them."""
    other = other_colour(colour)
    running, there = versions.get(colour), versions.get(other)
    tenant = pins[0].tenant if len(pins) == 1 else "TENANT"
    command = f"`rollout pin --cohort {cohort} --tenant {tenant} --colour {other}`"
    each = "" if len(pins) == 1 else " for each of them"
    if running is not None and running == there:
        return f"{other} runs {running} too: move them there with {command}{each}, then retry"
    return (f"{other} runs {there or 'an unknown version'}, so moving them there "
            f"{_move_verb(running, there)} them: once they may move (their opt-out or busy "
            f"season is over, or they were told), {command}{each}, then retry")


def refuse_redeploy_of_pinned(cohort: str, colour: Colour, versions: Mapping[Colour, str],
                              listener_pins: Mapping[str, Colour],
                              ledger_pins: Mapping[str, Colour], *, doing: str) -> None:
    """:class:`Blocked` (exit 3) when any tenant is pinned to ``colour``, naming each one.

    ``versions`` is what each colour runs now; ``doing`` says what was about to happen
    to ``colour`` (``"deploying 1.6.0 into blue"``). Call it before anything is
    deployed or deleted: the refusal says nothing was changed.
    """
    pins = pins_serving(colour, listener_pins, ledger_pins)
    if not pins:
        return
    running = versions.get(colour)
    lost = [pin.tenant for pin in pins if not pin.in_listener]
    drift = ""
    if lost:
        names = ", ".join(lost)
        its = "its rule" if len(lost) == 1 else "their rules"
        repin = (f"`rollout pin --cohort {cohort} --tenant {lost[0]} --colour {colour}`"
                 if len(lost) == 1 else
                 f"`rollout pin --cohort {cohort} --tenant TENANT --colour {colour}`")
        drift = (f" ({names}: in the ledger only, the listener has no rule for "
                 f"{'it' if len(lost) == 1 else 'them'}; {repin} restores {its})")
    raise Blocked(
        f"tenants {', '.join(pin.tenant for pin in pins)} are pinned to {cohort}/{colour}, "
        f"which runs {running or 'an unknown version'}{drift}: {doing} would change their "
        f"version without notice; nothing was changed. "
        f"{_way_out(cohort, colour, versions, pins)}")
