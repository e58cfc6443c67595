"""A test route: how requests reach the idle colour before any tenant's do.

Before the first weighted step the router adds a rule that forwards every request
carrying ``header: token`` to the new colour while each tenant's weight there is still 0
(CodeDeploy's test listener, Argo Rollouts' header route). The token is a secret: whoever
holds it reaches code no customer has been shown yet. It lives in the rule, where the load
balancer needs it, and is handed to the hooks that smoke-test the route; it is never
printed, logged or written to the ledger, which many people read.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field

from rollout.vocabulary.colours import Colour

DEFAULT_TEST_HEADER = "X-Rollout-Test"
TOKEN_BYTES = 24
"""Random bytes of a token: 32 URL-safe characters, within ALB's 128 per condition value."""


@dataclass(frozen=True)
class TestRoute:
    """Requests with ``header: token`` reach ``colour``; ``rule`` names the rule (an ARN)."""

    header: str
    token: str = field(repr=False)
    colour: Colour
    rule: str | None = None

    def describe(self) -> str:
        """The route in words, without the token."""
        return f"requests with header {self.header} and this rollout's token reach {self.colour}"


def new_token() -> str:
    """A fresh, unguessable token for one rollout's test route."""
    return secrets.token_urlsafe(TOKEN_BYTES)
