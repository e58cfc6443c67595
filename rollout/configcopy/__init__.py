"""Tenant configuration carried across an upgrade: diff, copy + verify, carry back.

The public surface is :class:`ConfigCopier` and the reports it returns; see
:mod:`rollout.configcopy.copier` for the flow and :mod:`rollout.configcopy.snapshot`
for what the ledger records (never a value).
"""

from rollout.configcopy.copier import ConfigCopier, check_colours, check_tenant
from rollout.configcopy.diff import Difference
from rollout.configcopy.parallel import DEFAULT_WORKERS, Progress
from rollout.configcopy.report import (
    ConflictsLeftAlone,
    CopyReport,
    DiffReport,
    ItemReport,
    LeftAlone,
    Verification,
    conflicts_left_alone,
)
from rollout.configcopy.steps import ConfigPlan, CopyInterrupted, VerificationFailed
from rollout.configcopy.store import ReadFailed
from rollout.configcopy.writes import WriteKind

__all__ = [
    "DEFAULT_WORKERS",
    "ConfigCopier",
    "ConfigPlan",
    "ConflictsLeftAlone",
    "CopyInterrupted",
    "CopyReport",
    "DiffReport",
    "Difference",
    "ItemReport",
    "LeftAlone",
    "Progress",
    "ReadFailed",
    "Verification",
    "VerificationFailed",
    "WriteKind",
    "check_colours",
    "check_tenant",
    "conflicts_left_alone",
]
