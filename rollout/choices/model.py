"""A tenant's recorded choice about one release, as the ledger keeps it."""

from __future__ import annotations

from datetime import date, datetime

from pydantic import BaseModel, ConfigDict

from rollout.choices.portal_api import ChoiceAction


class TenantChoice(BaseModel):
    """What one tenant chose on the preferences page for one release, when, and from where.

    ``nonce`` names the link it was made with: each link makes one choice, and the
    confirmation notice is sent once per choice.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    tenant: str
    release: str
    action: ChoiceAction
    window: str | None = None
    """The chosen upgrade window as ``tenants.yaml`` writes one (``Sun 02:00-06:00``)."""
    until: date | None = None
    """The last day of an opt-out, on the tenant's own calendar: it is upgraded after."""
    at: datetime
    source: str
    nonce: str

    def describe(self) -> str:
        """The choice in words, as the tenant and the operator read it."""
        if self.action == "window":
            return f"upgrade in the window {self.window}"
        if self.action == "opt_out":
            return f"stay on the current version until {self.until}"
        return "upgrade as planned"
