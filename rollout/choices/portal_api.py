"""What the preferences page needs from the rest of the toolkit, and nothing more.

The web layer (:mod:`rollout.portal`) only parses requests and renders pages; a
:class:`PortalBackend` does everything else: it checks the link's token, says what the
tenant may choose, checks and records a choice. So the same page runs under ``rollout
portal`` locally and behind a Lambda function URL (Mangum), and its rules are tested
without a browser.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Literal, Protocol

ChoiceAction = Literal["window", "opt_out", "confirm"]


class TokenRefused(Exception):
    """The link cannot be used (expired, forged, used already, for another tenant or
    purpose): the page answers 403 and records nothing. The message is safe to show."""


class ChoiceRefused(Exception):
    """The choice breaks a rule (a window not allowed, a date beyond the maximum deferral,
    a cohort already started): shown on the page, nothing recorded."""


@dataclass(frozen=True)
class WindowOption:
    """One of the tenant's allowed upgrade windows, as it is written and as it reads."""

    value: str
    """As written in ``tenants.yaml`` (``Sun 02:00-06:00``): what the form sends back."""
    label: str
    """In words, in the tenant's own time zone, with its next slot if planned."""
    current: bool = False
    """The window the tenant's upgrade is planned in now."""


@dataclass(frozen=True)
class ChoicePage:
    """What the page shows one tenant about one release, and what it may choose."""

    tenant: str
    release: str
    title: str
    changes: list[str]
    benefits: list[str]
    risks: list[str]
    rollback_plan: str
    when: str
    """When the upgrade is planned, in the tenant's own time zone (one line)."""
    timezone: str
    windows: list[WindowOption]
    opt_out_latest: date
    """The last day an opt-out may run to (the company's maximum deferral)."""
    opt_out_earliest: date
    form_secret: str = field(repr=False)
    """Goes back with the form (CSRF): derived from the link's token, never shown."""
    open: bool = True
    """False once the cohort has started: the page then says so and offers nothing."""
    closed_reason: str | None = None
    recorded: str | None = None
    """The choice already on record for this release, in words, if any."""


@dataclass(frozen=True)
class ChoiceForm:
    """What the tenant submitted."""

    action: ChoiceAction
    form_secret: str = field(repr=False)
    window: str | None = None
    until: date | None = None
    source: str = "unknown"
    """Where the choice came from (the client's address), recorded with it."""


@dataclass(frozen=True)
class ChoiceOutcome:
    """What was recorded, in words the tenant reads on the confirmation page."""

    message: str


class PortalBackend(Protocol):
    def open(self, token: str) -> ChoicePage:
        """The page for the tenant and release the token is for; :class:`TokenRefused`."""
        ...

    def choose(self, token: str, form: ChoiceForm) -> ChoiceOutcome:
        """Check and record ``form``, once per token: :class:`TokenRefused` (a bad, used or
        expired token, or a wrong form secret) or :class:`ChoiceRefused` (a rule), and
        then nothing is recorded."""
        ...
