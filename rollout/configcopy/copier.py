"""Carry tenant configuration across an upgrade: diff, copy + verify, carry back.

The shape of every operation is plan, then execute: read both colours (batched),
compare them (pure), plan the writes (pure, printed as is by ``--dry-run``),
write with bounded concurrency, re-read what should now match and prove it does,
and only then record a snapshot (names, stamps, hashes of plain values) in the
ledger, so a rollback can later carry the new colour's changes back exactly.
Re-running after an interruption is safe: whatever was written is now equal and
is skipped, so nothing is lost and nothing is written twice.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass

from rollout.aws_clients import AwsClients
from rollout.configcopy.carry_back import changed_on_new, compare_carry_back
from rollout.configcopy.diff import Comparison, Status, compare
from rollout.configcopy.parallel import DEFAULT_WORKERS, Parallel, Progress, StoppedEarly
from rollout.configcopy.plan import Action, Write, action_for, plan_writes
from rollout.configcopy.report import CopyReport, DiffReport, ItemReport, Verification, item_from
from rollout.configcopy.secrets_manager import SecretsManagerSecrets
from rollout.configcopy.setting import Setting
from rollout.configcopy.snapshot import SnapshotBook, SnapshotEntry, entry_for
from rollout.configcopy.ssm import SsmParameters
from rollout.configcopy.store import ConfigStore, ReadFailed, WriteRefused
from rollout.configcopy.wire_log import guard_wire_logs, withheld_wire_bodies
from rollout.discovery import CohortResources
from rollout.errors import BadInput, Blocked, RolloutFailed
from rollout.rollouts.ledger import Ledger
from rollout.vocabulary.colours import COLOURS

TENANT_ID = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")
SHOWN_KEYS = 5


class CopyInterrupted(RolloutFailed):
    """Writes stopped midway; re-running the same command finishes the job."""


class VerificationFailed(RolloutFailed):
    """The re-read after the copy does not match the source; ``report`` says what was done."""

    def __init__(self, message: str, report: CopyReport) -> None:
        super().__init__(message)
        self.report = report


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


@dataclass
class _Planned:
    """One store's part of an operation: its comparisons and the writes they call for."""

    store: ConfigStore
    comparisons: list[Comparison]
    writes: list[Write]
    recorded: dict[str, SnapshotEntry]


@contextmanager
def _plain_failures() -> Iterator[None]:
    """A failed read or ledger write surfaces as the AWS error it is (the CLI maps those)."""
    try:
        yield
    except StoppedEarly as stop:
        raise stop.cause from None


def _shown(keys: list[str]) -> str:
    more = f" and {len(keys) - SHOWN_KEYS} more" if len(keys) > SHOWN_KEYS else ""
    return ", ".join(keys[:SHOWN_KEYS]) + more


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
            return self._diff(source, target, tenant)

    def copy(self, source: str, target: str, tenant: str | None = None, dry_run: bool = False,
             force: bool = False) -> CopyReport:
        """Copy ``source`` to ``target``, verify, and record the snapshot.

        Conflicts are left alone (and reported) unless ``force``. Raises
        :class:`ReadFailed` before any write when a setting cannot be read,
        :class:`CopyInterrupted` when writes stop midway and
        :class:`VerificationFailed` when the re-read does not match.
        """
        with withheld_wire_bodies():
            return self._copy(source, target, tenant, dry_run, force)

    def carry_back(self, new_colour: str, old_colour: str, tenant: str | None = None,
                   force: bool = False, dry_run: bool = False) -> CopyReport:
        """On rollback: changes made on ``new_colour`` since the copy, onto ``old_colour``.

        Exact thanks to the snapshot the copy ``old_colour`` → ``new_colour`` recorded.
        Both sides changed: a conflict, left alone unless ``force``. :class:`Blocked`
        when no such copy was ever recorded; :class:`ReadFailed` before any write
        when a setting of either colour cannot be read.
        """
        with withheld_wire_bodies():
            return self._carry_back(new_colour, old_colour, tenant, force, dry_run)

    # the operations, with the wire log guarded ---------------------------
    def _diff(self, source: str, target: str, tenant: str | None) -> DiffReport:
        self._check(source, target, tenant)
        items = [item_from(store.name, c) for store in self._stores
                 for c in self._compare(store, source, target, tenant)]
        return DiffReport(cohort=self._cohort.cohort, source=source, target=target,
                          tenant=tenant, items=items)

    def _copy(self, source: str, target: str, tenant: str | None, dry_run: bool,
              force: bool) -> CopyReport:
        self._check(source, target, tenant)
        planned = []
        for store in self._stores:
            comparisons = self._compare(store, source, target, tenant)
            planned.append(_Planned(store, comparisons, plan_writes(comparisons, force), {}))
        report = CopyReport(cohort=self._cohort.cohort, source=source, target=target,
                            tenant=tenant, dry_run=dry_run, force=force)
        if dry_run:
            report.items = self._items(planned, force, done=False)
            return report
        for part in planned:
            self._write(part, source, target, "copy")
        report.items = self._items(planned, force, done=True)
        fresh = self._verify(planned, target, force, report)
        for part in planned:
            self._record_copy(part, source, target, tenant, force, fresh[part.store.name])
        report.snapshot_recorded = True
        return report

    def _carry_back(self, new_colour: str, old_colour: str, tenant: str | None, force: bool,
                    dry_run: bool) -> CopyReport:
        self._check(new_colour, old_colour, tenant)
        planned = []
        for store in self._stores:
            if self._book.record(store.name, old_colour, new_colour) is None:
                continue
            recorded = self._book.entries(store.name, old_colour, new_colour, tenant)
            comparisons = self._compare_back(store, new_colour, old_colour, tenant, recorded)
            planned.append(_Planned(store, comparisons, plan_writes(comparisons, force),
                                    recorded))
        if not planned:
            raise Blocked(f"cohort {self._cohort.cohort}: no config copy {old_colour} → "
                          f"{new_colour} is recorded, so there is nothing to carry back")
        report = CopyReport(cohort=self._cohort.cohort, source=new_colour, target=old_colour,
                            tenant=tenant, operation="carry-back", dry_run=dry_run, force=force)
        if dry_run:
            report.items = self._items(planned, force, done=False)
            return report
        for part in planned:
            self._write(part, new_colour, old_colour, "carry-back")
        report.items = self._items(planned, force, done=True)
        fresh = self._verify(planned, old_colour, force, report)
        for part in planned:
            self._record_carry_back(part, old_colour, new_colour, force, fresh[part.store.name])
        report.snapshot_recorded = True
        return report

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

    # writing and verifying ----------------------------------------------
    def _write(self, part: _Planned, source: str, target: str, operation: str) -> None:
        store = part.store
        try:
            self._runner.map("writing", lambda write: store.apply(target, write), part.writes)
        except StoppedEarly as stop:
            cause = stop.cause
            reason = str(cause) if isinstance(cause, WriteRefused) else type(cause).__name__
            raise CopyInterrupted(
                f"config {operation} {source} → {target} of cohort {self._cohort.cohort} "
                f"stopped after {stop.completed} of {stop.total} writes to "
                f"{store.location(target)}: {reason}. Nothing written is lost: run the same "
                "command again to finish (it writes only what is still missing or different)"
            ) from None

    @staticmethod
    def _items(planned: list[_Planned], force: bool, done: bool) -> list[ItemReport]:
        items = []
        for part in planned:
            for comparison in part.comparisons:
                action = action_for(comparison, force)
                items.append(item_from(part.store.name, comparison, action,
                                       done=done and action != Action.NONE))
        return items

    @staticmethod
    def _expected(comparison: Comparison, force: bool) -> bool:
        """Whether the target must now hold exactly what the comparison wanted."""
        return comparison.wanted is not None and (
            action_for(comparison, force) != Action.NONE or comparison.status == Status.EQUAL)

    def _verify(self, planned: list[_Planned], colour: str, force: bool,
                report: CopyReport) -> dict[str, dict[str, Setting]]:
        """Re-read every key that should now match, and prove it does (by hash)."""
        fresh: dict[str, dict[str, Setting]] = {}
        mismatched: list[str] = []
        unreadable: dict[str, str] = {}
        checked = 0
        for part in planned:
            expected = {c.key: c.wanted for c in part.comparisons
                        if c.wanted is not None and self._expected(c, force)}
            deleted = [w.key for w in part.writes if w.action == Action.DELETE]
            checked += len(expected) + len(deleted)
            try:
                with _plain_failures():
                    now = part.store.reread(colour, sorted({*expected, *deleted}))
            except ReadFailed as failed:
                unreadable.update({f"{part.store.name}:{key}": code
                                   for key, code in failed.unreadable.items()})
                continue
            fresh[part.store.name] = now
            for key, wanted in expected.items():
                got = now.get(key)
                if got is None or got.kind != wanted.kind or got.value != wanted.value:
                    mismatched.append(f"{part.store.name}:{key}")
            mismatched += [f"{part.store.name}:{key}" for key in deleted if key in now]
        report.verification = Verification(checked=checked, mismatched=sorted(mismatched),
                                           unreadable=dict(sorted(unreadable.items())))
        if unreadable:
            shown = _shown([f"{key}: {code}" for key, code in sorted(unreadable.items())])
            raise VerificationFailed(
                f"verification failed: {len(unreadable)} of {checked} settings on {colour} of "
                f"cohort {self._cohort.cohort} cannot be read back ({shown}), so what was "
                "written is unproven; do not shift traffic: make sure the rollout role may "
                "read and decrypt them (their KMS key; `rollout iam-policy --cohort "
                f"{self._cohort.cohort}`), then run the same command again", report)
        if mismatched:
            raise VerificationFailed(
                f"verification failed: {len(mismatched)} of {checked} settings on {colour} of "
                f"cohort {self._cohort.cohort} do not match what was written "
                f"({_shown(sorted(mismatched))}); do not shift traffic: find who else writes "
                "there, then run the copy again", report)
        return fresh

    # recording -----------------------------------------------------------
    def _record_copy(self, part: _Planned, source: str, target: str, tenant: str | None,
                     force: bool, fresh: Mapping[str, Setting]) -> None:
        by_tenant: dict[str, dict[str, SnapshotEntry]] = {}
        if tenant is not None:
            by_tenant[tenant] = {}
        else:
            record = self._book.record(part.store.name, source, target)
            by_tenant.update({t: {} for t in (record.tenants if record else [])})
        for c in part.comparisons:
            left_alone = not self._expected(c, force)
            after = c.current if left_alone else fresh.get(c.key)
            by_tenant.setdefault(c.tenant, {})[c.key] = entry_for(c.wanted, after, left_alone)
        with _plain_failures():
            self._book.save(part.store.name, source, target, by_tenant)

    def _record_carry_back(self, part: _Planned, old: str, new: str, force: bool,
                           fresh: Mapping[str, Setting]) -> None:
        """Bring the snapshot old → new up to date with what the carry-back synced."""
        by_tenant: dict[str, dict[str, SnapshotEntry]] = {}
        for key, entry in part.recorded.items():
            by_tenant.setdefault(key.split("/", 1)[0], {})[key] = entry
        for c in part.comparisons:
            entries = by_tenant.setdefault(c.tenant, {})
            if not self._synced(c, force):
                continue
            if c.wanted is None:
                entries.pop(c.key, None)
            else:
                entries[c.key] = entry_for(fresh.get(c.key), c.wanted, left_alone=False)
        with _plain_failures():
            self._book.save(part.store.name, old, new, by_tenant)

    def _synced(self, comparison: Comparison, force: bool) -> bool:
        """Whether both colours now agree on a key (carry-back wrote it, or it already was)."""
        return comparison.status != Status.UNCHANGED and (
            comparison.status == Status.EQUAL or action_for(comparison, force) != Action.NONE)

