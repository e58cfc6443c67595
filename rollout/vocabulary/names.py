"""Names the Pulumi program and the rollout library must spell the same way."""

from __future__ import annotations

PROJECT = "tenant-rollout"
CONFIG_KEY = "stack"
NAME_PATTERN = r"^[a-z][a-z0-9-]{0,30}$"
SHARED_COHORT = "shared"
MAX_AWS_NAME = 32
"""Load balancer and target group names may not be longer than this."""
