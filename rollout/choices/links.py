"""A tenant's own link to the preferences page: ``<portal_url>/choose?t=<token>``.

Made only where a notice is rendered, and put only in the notice's body: never in a
report, a ledger record or a log line (a link lets its holder choose for the tenant).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from rollout.aws_clients import AwsClients
from rollout.choices.key import link_key
from rollout.choices.tokens import issue, link_expiry
from rollout.model.tenants import TenantsFile

CHOOSE_PATH = "/choose"
TOKEN_PARAMETER = "t"


@dataclass(frozen=True)
class ChoiceLinks:
    """Makes links to the page at ``portal_url``, signed with ``key``."""

    portal_url: str
    key: bytes = field(repr=False)

    def link(self, tenant: str, release: str, now: datetime,
             slot_start: datetime | None) -> str:
        """A link for ``tenant`` about ``release``, issued at ``now``, that expires at its
        upgrade slot's start at the latest."""
        token = issue(self.key, tenant, release, link_expiry(now, slot_start))
        return f"{self.portal_url.rstrip('/')}{CHOOSE_PATH}?{TOKEN_PARAMETER}={token}"


def links_for(tenants: TenantsFile, clients: AwsClients, app: str) -> ChoiceLinks | None:
    """Links to the preferences page when ``defaults.portal_url`` names one (the link key
    made on first need); ``clients`` in the shared stack's region."""
    if tenants.defaults.portal_url is None:
        return None
    return ChoiceLinks(tenants.defaults.portal_url, link_key(clients, app))


def token_of(link: str) -> str:
    """The token a link carries (what the page reads from ``?t=``)."""
    return link.partition(f"?{TOKEN_PARAMETER}=")[2]
