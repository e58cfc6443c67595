"""Compare the settings of two colours: pure logic, no AWS calls.

A target value that differs from the source is a **conflict** (a tenant changed
it there) unless the ledger vouches for it: when the target still carries
exactly the write the toolkit last recorded for it (same version, same
modification time), nobody touched it since, and it is merely **stale**. That is
what makes the second rollout of a cohort work without ``--force``: the idle
colour holds last release's values, untouched, and they are updated; a value a
tenant edited there is still reported and left alone.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

from rollout.configcopy.setting import Setting, holds_secret, tenant_of, value_differs


class Difference(StrEnum):
    """How a setting on the target relates to what it should be.

    missing: not on the target, created; equal: same type, value and metadata;
    drifted: same value, metadata synced; stale: differs, target untouched since the
    toolkit last synced it, updated; conflict: differs and someone changed the target,
    left alone unless --force; extra: only on the target, left alone; unchanged / deleted
    (carry-back): not changed, or deleted, on the new colour since the copy.
    """

    MISSING = "missing"
    EQUAL = "equal"
    DRIFTED = "drifted"
    STALE = "stale"
    CONFLICT = "conflict"
    EXTRA = "extra"
    UNCHANGED = "unchanged"
    DELETED = "deleted"


@dataclass(frozen=True)
class Comparison:
    """One key: what the target should hold (``None``: nothing) and what it holds now."""

    key: str
    status: Difference
    wanted: Setting | None
    current: Setting | None
    differs: tuple[str, ...] = ()

    @property
    def tenant(self) -> str:
        return tenant_of(self.key)

    @property
    def secret(self) -> bool:
        return holds_secret(self.wanted, self.current)


def classify(key: str, wanted: Setting, current: Setting | None,
             vouched: frozenset[str] = frozenset()) -> Comparison:
    """The status of one key that exists on the source side."""
    if current is None:
        return Comparison(key, Difference.MISSING, wanted, None)
    differs = tuple(wanted.differences(current))
    if not differs:
        status = Difference.EQUAL
    elif not value_differs(list(differs)):
        status = Difference.DRIFTED
    elif current.stamp in vouched:
        status = Difference.STALE
    else:
        status = Difference.CONFLICT
    return Comparison(key, status, wanted, current, differs)


def compare(source: Mapping[str, Setting], target: Mapping[str, Setting],
            vouched: Mapping[str, frozenset[str]] | None = None) -> list[Comparison]:
    """Every key of either side, sorted.

    ``source`` holds the settings as they should land on the target (KMS keys
    already mapped); ``vouched`` maps a key to the target stamps the ledger
    recorded, i.e. writes the toolkit itself made or read.
    """
    vouched = vouched or {}
    found = [classify(key, wanted, target.get(key), vouched.get(key, frozenset()))
             for key, wanted in source.items()]
    found += [Comparison(key, Difference.EXTRA, None, current)
              for key, current in target.items() if key not in source]
    return sorted(found, key=lambda c: c.key)
