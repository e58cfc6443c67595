"""What a deployed fleet holds, read back the way an operator reads it: with plain
clients, not through the code under test (the listener's weights are
:func:`rollout.local.fleets.listener_weights`, which ``tests.conftest`` exports)."""

from __future__ import annotations

from rollout.aws_clients import AwsClients
from rollout.local.fleets import Fleet
from rollout.rollouts.ledger import Ledger
from rollout.vocabulary.tags import TAG_VERSION


def fleet_ledger(fleet: Fleet) -> Ledger:
    """The ledger of the fleet's app, in its shared stack's table."""
    return Ledger(fleet.clients, fleet.shared.ledger_table)


def target_group_version(clients: AwsClients, target_group_arn: str) -> str:
    """The version a colour's target group is tagged as running."""
    described = clients.client("elbv2").describe_tags(ResourceArns=[target_group_arn])
    tags = described["TagDescriptions"][0]["Tags"]
    return str(next(t["Value"] for t in tags if t["Key"] == TAG_VERSION))
