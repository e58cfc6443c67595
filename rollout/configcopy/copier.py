"""Carry tenant configuration across an upgrade: diff, copy + verify, carry back.

The shape of every operation is plan, then execute: read both colours (batched),
compare them (pure), plan the writes (pure), and hand over a
:class:`~rollout.configcopy.steps.ConfigPlan`, which ``--dry-run`` displays and
the real run applies: write with bounded concurrency, re-read what should now
match and prove it does, and only then record a snapshot (names, stamps, hashes
of plain values) in the ledger, so a rollback can later carry the new colour's
changes back exactly. Re-running after an interruption is safe: whatever was
written is now equal and is skipped, so nothing is lost and nothing is written twice.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager

from rollout.aws_clients import AwsClients
from rollout.configcopy.carry_back import changed_on_new, compare_carry_back
from rollout.configcopy.diff import Comparison, compare
from rollout.configcopy.parallel import DEFAULT_WORKERS, Parallel, Progress, StoppedEarly
from rollout.configcopy.report import CopyReport, DiffReport, item_from
from rollout.configcopy.secrets_manager import SecretsManagerSecrets
from rollout.configcopy.setting import Setting
from rollout.configcopy.snapshot import SnapshotBook, SnapshotEntry
from rollout.configcopy.ssm import SsmParameters
from rollout.configcopy.steps import ConfigPlan, CopyRun, StorePart
from rollout.configcopy.store import ConfigStore
from rollout.configcopy.wire_log import guard_wire_logs, withheld_wire_bodies
from rollout.configcopy.writes import plan_writes
from rollout.discovery import CohortResources
from rollout.errors import BadInput, Blocked
from rollout.rollouts.ledger import Ledger
from rollout.vocabulary.colours import COLOURS

TENANT_ID = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")


def check_colours(source: str, target: str) -> None:
    """Both colours exist and differ; :class:`BadInput` before any AWS call otherwise."""
    for option, colour in (("--from", source), ("--to", target)):
        if colour not in COLOURS:
            raise BadInput(f"{option}: unknown colour {colour!r} (colours: {', '.join(COLOURS)})")
    if source == target:
        raise BadInput(f"--from and --to are both {source!r}: name the other colour as --to")


def check_tenant(tenant: str | None, cohort: CohortResources) -> None:
    """``tenant`` is a valid id and, when the cohort lists its tenants, one of them."""
    if tenant is None:
        return
    if not TENANT_ID.fullmatch(tenant):
        raise BadInput(f"--tenant: {tenant!r} is not a tenant id (lowercase letters, digits, "
                       "dashes)")
    known = [t.id for t in cohort.tenants]
    if known and tenant not in known:
        raise BadInput(f"--tenant: {tenant!r} is not a tenant of cohort {cohort.cohort} "
                       f"(tenants: {', '.join(known)})")


@contextmanager
def _plain_failures() -> Iterator[None]:
    """A failed read surfaces as the AWS error it is (the CLI maps those)."""
    try:
        yield
    except StoppedEarly as stop:
        raise stop.cause from None


class ConfigCopier:
    """Diffs, copies, verifies and carries back one cohort's tenant settings.

    Pass clients made with ``AwsClients(retry_mode="adaptive")``: parallel writes
    are what trips SSM's throttling, and the adaptive mode backs off for us.
    ``key_map`` maps a source SecureString/secret KMS key id to the target's,
    for stacks whose colours use different keys (today both share one).
    """

    def __init__(self, clients: AwsClients, cohort: CohortResources, ledger: Ledger, *,
                 key_map: Mapping[str, str] | None = None, secrets_manager: bool = False,
                 workers: int = DEFAULT_WORKERS, progress: Progress | None = None) -> None:
        guard_wire_logs()
        self._cohort = cohort
        self._runner = Parallel(workers, progress)
        self._stores: list[ConfigStore] = [SsmParameters(clients, cohort, self._runner)]
        if secrets_manager:
            self._stores.append(SecretsManagerSecrets(clients, cohort, self._runner))
        self._book = SnapshotBook(ledger, cohort.cohort, self._runner)
        self._key_map = dict(key_map or {})

    # public operations ---------------------------------------------------
    def diff(self, source: str, target: str, tenant: str | None = None) -> DiffReport:
        """How ``target``'s settings relate to ``source``'s; reads only."""
        with withheld_wire_bodies():
            self._check(source, target, tenant)
            items = [item_from(store.name, c) for store in self._stores
                     for c in self._compare(store, source, target, tenant)]
        return DiffReport(cohort=self._cohort.cohort, source=source, target=target,
                          tenant=tenant, items=items)

    def plan_copy(self, source: str, target: str, tenant: str | None = None,
                  force: bool = False) -> ConfigPlan:
        """What copying ``source`` to ``target`` writes, verifies and records; reads only.

        Conflicts are left alone (and reported) unless ``force``. Raises
        :class:`~rollout.configcopy.store.ReadFailed` when a setting cannot be read.
        """
        with withheld_wire_bodies():
            self._check(source, target, tenant)
            parts = []
            for store in self._stores:
                comparisons = self._compare(store, source, target, tenant)
                parts.append(StorePart(store, comparisons, plan_writes(comparisons, force)))
        report = CopyReport(cohort=self._cohort.cohort, source=source, target=target,
                            tenant=tenant, force=force)
        return ConfigPlan.of(CopyRun(self._cohort.cohort, parts, self._book, self._runner,
                                     report))

    def plan_carry_back(self, new_colour: str, old_colour: str, tenant: str | None = None,
                        force: bool = False) -> ConfigPlan:
        """What carrying ``new_colour``'s changes since the copy back to ``old_colour`` does.

        Exact thanks to the snapshot the copy ``old_colour`` → ``new_colour`` recorded.
        Both sides changed: a conflict, left alone unless ``force``. :class:`Blocked`
        when no such copy was ever recorded; ``ReadFailed`` when a setting of either
        colour cannot be read.
        """
        with withheld_wire_bodies():
            self._check(new_colour, old_colour, tenant)
            parts = []
            for store in self._stores:
                if self._book.record(store.name, old_colour, new_colour) is None:
                    continue
                recorded = self._book.entries(store.name, old_colour, new_colour, tenant)
                comparisons = self._compare_back(store, new_colour, old_colour, tenant,
                                                 recorded)
                parts.append(StorePart(store, comparisons, plan_writes(comparisons, force),
                                       recorded))
        if not parts:
            raise Blocked(f"cohort {self._cohort.cohort}: no config copy {old_colour} → "
                          f"{new_colour} is recorded, so there is nothing to carry back")
        report = CopyReport(cohort=self._cohort.cohort, source=new_colour, target=old_colour,
                            tenant=tenant, operation="carry-back", force=force)
        return ConfigPlan.of(CopyRun(self._cohort.cohort, parts, self._book, self._runner,
                                     report))

    def copy(self, source: str, target: str, tenant: str | None = None, dry_run: bool = False,
             force: bool = False) -> CopyReport:
        """Copy ``source`` to ``target``, verify, and record the snapshot (or only say so).

        Besides what :meth:`plan_copy` raises: ``CopyInterrupted`` when writes stop
        midway and ``VerificationFailed`` when the re-read does not match.
        """
        plan = self.plan_copy(source, target, tenant, force)
        return plan.display() if dry_run else plan.execute()

    def carry_back(self, new_colour: str, old_colour: str, tenant: str | None = None,
                   force: bool = False, dry_run: bool = False) -> CopyReport:
        """On rollback: :meth:`plan_carry_back`, then applied (or only displayed)."""
        plan = self.plan_carry_back(new_colour, old_colour, tenant, force)
        return plan.display() if dry_run else plan.execute()

    # reading and comparing ---------------------------------------------
    def _check(self, source: str, target: str, tenant: str | None) -> None:
        check_colours(source, target)
        check_tenant(tenant, self._cohort)

    def _read_both(self, store: ConfigStore, first: str, second: str,
                   tenant: str | None) -> tuple[dict[str, Setting], dict[str, Setting]]:
        with ThreadPoolExecutor(max_workers=2, thread_name_prefix="configcopy-colours") as pool:
            one = pool.submit(store.read, first, tenant)
            two = pool.submit(store.read, second, tenant)
            return one.result(), two.result()

    def _compare(self, store: ConfigStore, source: str, target: str,
                 tenant: str | None) -> list[Comparison]:
        with _plain_failures():
            src, tgt = self._read_both(store, source, target, tenant)
            src = store.with_tags(source, src, list(src))
            tgt = store.with_tags(target, tgt, [k for k in tgt if k in src])
        wanted = {key: setting.with_key(self._key_map) for key, setting in src.items()}
        return compare(wanted, tgt, self._book.vouched(store.name, target, source, tenant))

    def _compare_back(self, store: ConfigStore, new: str, old: str, tenant: str | None,
                      recorded: Mapping[str, SnapshotEntry]) -> list[Comparison]:
        with _plain_failures():
            now_new, now_old = self._read_both(store, new, old, tenant)
            changed = [key for key in sorted({*now_new, *now_old, *recorded})
                       if changed_on_new(now_new.get(key), recorded.get(key))]
            now_new = store.with_tags(new, now_new, changed)
            now_old = store.with_tags(old, now_old, changed)
        back = {target_key: source_key for source_key, target_key in self._key_map.items()}
        wanted = {key: setting.with_key(back) for key, setting in now_new.items()}
        return compare_carry_back(wanted, now_old, recorded)
