"""What a lifecycle hook is: a check of the cohort's own, run at one stage of a rollout.

A hook is told the rollout's facts (:class:`HookFacts`) and answers with an outcome
(:class:`HookOutcome`): it passes or it fails, and a hook that fails, times out or
cannot even start is a failed outcome, never an exception, so the executor decides
alone what a failure means (before traffic: block; after: roll back). The facts
carry the test route's token, since a smoke test must send it; nothing a hook shows
(``describe``, an outcome's summary, a ``repr``) may carry it, nor a URL's path or
query, since those go to the ledger, the terminal and the report.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Protocol

from rollout.discovery import CohortResources
from rollout.plugins import Registry
from rollout.vocabulary.colours import Colour
from rollout.vocabulary.hook_stages import BEFORE_TRAFFIC as BEFORE_TRAFFIC
from rollout.vocabulary.hook_stages import STAGES as STAGES
from rollout.vocabulary.hook_stages import HookStage as HookStage
from rollout.vocabulary.test_route import TestRoute as TestRoute

if TYPE_CHECKING:
    from rollout.hooks.settings import HookSettings


@dataclass(frozen=True)
class HookFacts:
    """What a hook is told about the rollout it runs in."""

    app: str
    cohort: str
    release: str
    old_version: str
    old_colour: Colour
    new_colour: Colour
    stage: HookStage
    started_at: datetime
    """When the rollout started."""
    test_route: TestRoute | None
    """How to reach the new colour before any tenant does; None without a test route."""

    def public(self) -> dict[str, str]:
        """The facts as JSON-able text, without the test route (whose token is a secret)."""
        return {"app": self.app, "cohort": self.cohort, "release": self.release,
                "old_version": self.old_version, "old_colour": self.old_colour,
                "new_colour": self.new_colour, "stage": self.stage,
                "started_at": self.started_at.isoformat()}


@dataclass(frozen=True)
class HookOutcome:
    """How one hook's run ended; printable as it is, and safe to record."""

    hook: str
    stage: HookStage
    passed: bool
    summary: str
    """One printable line, redacted: never the token, never a URL's path or query."""
    seconds: float


class LifecycleHook(Protocol):
    """A check the executor runs at :attr:`stage`."""

    name: str
    stage: HookStage

    def describe(self) -> str:
        """One line for a plan (``start --dry-run``): what runs, where, for how long at most."""
        ...

    def run(self, facts: HookFacts) -> HookOutcome:
        """Run once; a failure or a timeout is an outcome with ``passed=False``."""
        ...


HookFactory = Callable[["HookSettings", str, HookStage, CohortResources], LifecycleHook]
"""``factory(settings, name, stage, cohort)``: one hook from what a user wrote for it. A
problem pydantic could not find (a URL the allow-list refuses) raises
:class:`~rollout.errors.BadInput`, which :mod:`rollout.hooks.load` names the field of."""

HOOKS: Registry[HookFactory] = Registry("hook", "rollout.hooks")
"""Hook kinds by name (``command``, ``http``): the setting a user writes picks the kind."""
