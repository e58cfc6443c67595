"""The four tags every resource carries, and the one a sized function adds.

They let the rollout module find resources where no Pulumi state is at hand.
"""

from __future__ import annotations

TAG_APP = "rollout:app"
TAG_COHORT = "rollout:cohort"
TAG_COLOUR = "rollout:colour"
TAG_VERSION = "rollout:version"
TAG_PROVISIONED = "rollout:provisioned-concurrency"
"""On a colour's function with provisioned concurrency: how much (what discovery by tags
needs to size the colour, since a version's concurrency config carries no tags)."""

SHARED = "shared"
UNVERSIONED = "none"


def rollout_tags(app: str, cohort: str, colour: str = SHARED,
                 version: str = UNVERSIONED) -> dict[str, str]:
    """Tags for one resource. Resources serving both colours carry ``colour=shared``."""
    return {TAG_APP: app, TAG_COHORT: cohort, TAG_COLOUR: colour, TAG_VERSION: version}
