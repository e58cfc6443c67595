"""What a copy records in the ledger: names, versions and hashes, never values.

Layout, under ``pk = CONFIG#<cohort>``:

==============================================  ==========================================
sk                                              document
==============================================  ==========================================
``SNAPSHOT#<store>#<from>><to>``                :class:`CopyRecord`: when, which tenants
``SNAPSHOT#<store>#<from>><to>#<tenant>#<n>``   :class:`TenantSnapshot`: part n of a tenant
==============================================  ==========================================

Items per tenant, in parts of at most :data:`PART_SIZE` keys, keep every item
well below DynamoDB's 400 KB, and let a ``--tenant`` copy replace just that
tenant's record. A *stamp* is
``<version>@<last modified>``: any write, and any delete and re-create, changes
it, which is what makes carry-back exact. Hashes are kept for plain values
only: an unsalted sha256 of a short secret can be reversed by guessing, so a
secret's entry holds its stamp and nothing derived from its value.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import TYPE_CHECKING

from pydantic import BaseModel, Field

from rollout.configcopy.parallel import Parallel
from rollout.configcopy.setting import Setting
from rollout.vocabulary.clock import utc_now
from rollout.vocabulary.ledger_keys import (
    config_pk,
    snapshot_part_sk,
    snapshot_parts_prefix,
    snapshot_sk,
)

if TYPE_CHECKING:
    from rollout.rollouts.ledger import Ledger


PART_SIZE = 1000


class SnapshotEntry(BaseModel):
    """One key as the copy left it."""

    kind: str
    source_stamp: str | None = None
    target_stamp: str | None = None
    value_hash: str | None = Field(
        default=None, description="sha256 of a plain value; never set for a secret")
    left_alone: bool = Field(
        default=False,
        description="the toolkit did not write the target's value (a conflict, or a key only "
                    "the target has), so it never vouches for it")


def entry_for(source: Setting | None, target: Setting | None,
              left_alone: bool) -> SnapshotEntry:
    """The entry for a key, from the settings on each side after the copy.

    The hash is of what the target holds (of the source's value when the target has none).
    """
    shown = target or source
    assert shown is not None
    return SnapshotEntry(
        kind=shown.kind.value,
        source_stamp=source.stamp if source else None,
        target_stamp=target.stamp if target else None,
        value_hash=None if shown.secret else shown.value.sha256,
        left_alone=left_alone)


class TenantSnapshot(BaseModel):
    """One tenant's keys (one part of them) after a copy or a carry-back between two colours."""

    cohort: str
    store: str
    source: str
    target: str
    tenant: str
    part: int = 0
    recorded_at: datetime = Field(default_factory=utc_now)
    entries: dict[str, SnapshotEntry] = Field(default_factory=dict)


class CopyRecord(BaseModel):
    """That a copy between two colours happened, and for which tenants."""

    cohort: str
    store: str
    source: str
    target: str
    recorded_at: datetime = Field(default_factory=utc_now)
    parts: dict[str, int] = Field(default_factory=dict, description="tenant → item count")

    @property
    def tenants(self) -> list[str]:
        return sorted(self.parts)


class SnapshotBook:
    """Reads and writes one cohort's snapshots in the ledger."""

    def __init__(self, ledger: Ledger, cohort: str, runner: Parallel | None = None) -> None:
        self._ledger = ledger
        self._cohort = cohort
        self._runner = runner or Parallel()

    def record(self, store: str, source: str, target: str) -> CopyRecord | None:
        return self._ledger.get(config_pk(self._cohort), snapshot_sk(store, source, target),
                                CopyRecord)

    def entries(self, store: str, source: str, target: str,
                tenant: str | None = None) -> dict[str, SnapshotEntry]:
        """The recorded keys of one direction (of one tenant), merged across tenant items."""
        prefix = snapshot_parts_prefix(store, source, target, tenant)
        docs = self._ledger.query(config_pk(self._cohort), prefix, TenantSnapshot)
        return {key: entry for doc in docs if tenant in (None, doc.tenant)
                for key, entry in doc.entries.items()}

    def vouched(self, store: str, colour: str, other: str,
                tenant: str | None = None) -> dict[str, frozenset[str]]:
        """Stamps of ``colour`` the toolkit recorded, in either direction with ``other``.

        A key of ``colour`` still carrying one of these was not touched since.
        Targets left alone (conflicts, keys only the target has) are not vouched for.
        """
        found: dict[str, set[str]] = {}
        for key, entry in self.entries(store, other, colour, tenant).items():
            if entry.target_stamp and not entry.left_alone:
                found.setdefault(key, set()).add(entry.target_stamp)
        for key, entry in self.entries(store, colour, other, tenant).items():
            if entry.source_stamp:
                found.setdefault(key, set()).add(entry.source_stamp)
        return {key: frozenset(stamps) for key, stamps in found.items()}

    def save(self, store: str, source: str, target: str,
             by_tenant: Mapping[str, Mapping[str, SnapshotEntry]]) -> None:
        """Replace the tenant items in ``by_tenant``, then the direction's record.

        The record is written last, so a record always points at complete tenant items;
        parts a tenant no longer needs are deleted.
        """
        pk = config_pk(self._cohort)
        sk = snapshot_sk(store, source, target)
        previous = self.record(store, source, target)
        parts = dict(previous.parts) if previous else {}
        items: list[tuple[str, TenantSnapshot]] = []
        stale: list[str] = []
        for tenant, entries in sorted(by_tenant.items()):
            keys = sorted(entries)
            chunks = [keys[i:i + PART_SIZE] for i in range(0, len(keys), PART_SIZE)] or [[]]
            items += [(snapshot_part_sk(store, source, target, tenant, index), TenantSnapshot(
                cohort=self._cohort, store=store, source=source, target=target, tenant=tenant,
                part=index, entries={key: entries[key] for key in chunk}))
                for index, chunk in enumerate(chunks)]
            stale += [snapshot_part_sk(store, source, target, tenant, index)
                      for index in range(len(chunks), parts.get(tenant, 0))]
            parts[tenant] = len(chunks)
        self._runner.map("recording snapshot", lambda item: self._ledger.put(pk, *item), items)
        self._runner.map("recording snapshot", lambda item_sk: self._ledger.delete(pk, item_sk),
                         stale)
        self._ledger.put(pk, sk, CopyRecord(cohort=self._cohort, store=store, source=source,
                                            target=target, parts=parts))
