"""Tenant configuration carried across an upgrade: diff, copy + verify, carry back.

The public surface is :class:`ConfigCopier` and the reports it returns; see
:mod:`rollout.configcopy.copier` for the flow and :mod:`rollout.configcopy.snapshot`
for what the ledger records (never a value).
"""

from rollout.configcopy.copier import (
    ConfigCopier,
    CopyInterrupted,
    VerificationFailed,
    check_colours,
    check_tenant,
)
from rollout.configcopy.diff import Status
from rollout.configcopy.parallel import DEFAULT_WORKERS, Progress
from rollout.configcopy.plan import Action
from rollout.configcopy.report import (
    CopyReport,
    DiffReport,
    ItemReport,
    LeftAlone,
    Verification,
)
from rollout.configcopy.store import ReadFailed

__all__ = [
    "DEFAULT_WORKERS",
    "Action",
    "ConfigCopier",
    "CopyInterrupted",
    "CopyReport",
    "DiffReport",
    "ItemReport",
    "LeftAlone",
    "Progress",
    "ReadFailed",
    "Status",
    "Verification",
    "VerificationFailed",
    "check_colours",
    "check_tenant",
]
