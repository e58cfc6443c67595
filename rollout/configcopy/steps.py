"""A config copy or carry-back as a plan: write, verify, record; displayed or applied.

The copier reads and compares both colours, then hands over a :class:`ConfigPlan`:
one :class:`WriteSettings` step per store with anything to write, a
:class:`VerifySettings` step and a :class:`RecordSnapshot` step. ``--dry-run``
displays it; the real run applies the very same steps, so the lines a dry run
prints are the lines the real run then prints. The steps never hold a value where
``describe()`` or ``facts()`` could show it: keys, kinds and counts only.

The steps share one :class:`CopyRun`, which holds what they need from each other
(what the verification re-read, for the snapshot) and the report they fill in.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import ClassVar

from rollout import plans
from rollout.configcopy.diff import Comparison, Difference
from rollout.configcopy.parallel import Parallel, StoppedEarly
from rollout.configcopy.report import (
    CopyReport,
    ItemReport,
    Verification,
    item_from,
    shown_keys,
)
from rollout.configcopy.setting import Setting, tenant_of
from rollout.configcopy.snapshot import SnapshotBook, SnapshotEntry, entry_for
from rollout.configcopy.store import STORE_LABELS, ConfigStore, ReadFailed, WriteRefused
from rollout.configcopy.wire_log import withheld_wire_bodies
from rollout.configcopy.writes import Write, WriteKind, action_for
from rollout.errors import RolloutFailed
from rollout.vocabulary.counts import plural


class CopyInterrupted(RolloutFailed):
    """Writes stopped midway; re-running the same command finishes the job."""


class VerificationFailed(RolloutFailed):
    """The re-read after the copy does not match the source; ``report`` says what was done."""

    def __init__(self, message: str, report: CopyReport) -> None:
        super().__init__(message)
        self.report = report


@dataclass
class StorePart:
    """One store's share of an operation: comparisons, the writes they call for, and (for a
    carry-back) the snapshot the copy recorded."""

    store: ConfigStore
    comparisons: list[Comparison]
    writes: list[Write]
    recorded: dict[str, SnapshotEntry] = field(default_factory=dict)

    def items(self, force: bool) -> list[ItemReport]:
        """The printable view of every comparison, none of it done yet."""
        return [item_from(self.store.name, c, action_for(c, force)) for c in self.comparisons]


def expected_after(comparison: Comparison, force: bool) -> bool:
    """Whether the target must now hold exactly what the comparison wanted."""
    return comparison.wanted is not None and (
        action_for(comparison, force) != WriteKind.NONE
        or comparison.status == Difference.EQUAL)


@dataclass
class CopyRun:
    """What the steps of one operation share; ``fresh`` is what the verification re-read."""

    cohort: str
    parts: list[StorePart]
    book: SnapshotBook
    runner: Parallel
    report: CopyReport
    fresh: dict[str, dict[str, Setting]] = field(default_factory=dict)

    @property
    def force(self) -> bool:
        return self.report.force

    @property
    def operation(self) -> str:
        return self.report.operation

    def checked(self) -> int:
        """How many keys the verification re-reads."""
        return sum(len(self._expected(part)) + len(self._deleted(part)) for part in self.parts)

    def _expected(self, part: StorePart) -> dict[str, Setting]:
        return {c.key: c.wanted for c in part.comparisons
                if c.wanted is not None and expected_after(c, self.force)}

    @staticmethod
    def _deleted(part: StorePart) -> list[str]:
        return [w.key for w in part.writes if w.action == WriteKind.DELETE]

    def write(self, part: StorePart) -> None:
        """Every write of one store, a bounded number in flight; marks its items done."""
        store, target = part.store, self.report.target
        try:
            self.runner.map("writing", lambda write: store.apply(target, write), part.writes)
        except StoppedEarly as stop:
            cause = stop.cause
            reason = str(cause) if isinstance(cause, WriteRefused) else type(cause).__name__
            raise CopyInterrupted(
                f"config {self.operation} {self.report.source} → {target} of cohort "
                f"{self.cohort} stopped after {stop.completed} of {stop.total} writes to "
                f"{store.location(target)}: {reason}. Nothing written is lost: run the same "
                "command again to finish (it writes only what is still missing or different)"
            ) from None
        for item in self.report.items:
            if item.store == store.name and item.action != WriteKind.NONE:
                item.done = True

    def verify(self) -> None:
        """Re-read every key that should now match, and prove it does (by hash)."""
        mismatched: list[str] = []
        unreadable: dict[str, str] = {}
        for part in self.parts:
            expected, deleted = self._expected(part), self._deleted(part)
            try:
                now = self._reread(part, sorted({*expected, *deleted}))
            except ReadFailed as failed:
                unreadable.update({f"{part.store.name}:{key}": code
                                   for key, code in failed.unreadable.items()})
                continue
            self.fresh[part.store.name] = now
            for key, wanted in expected.items():
                got = now.get(key)
                if got is None or got.kind != wanted.kind or got.value != wanted.value:
                    mismatched.append(f"{part.store.name}:{key}")
            mismatched += [f"{part.store.name}:{key}" for key in deleted if key in now]
        self.report.verification = Verification(
            checked=self.checked(), mismatched=sorted(mismatched),
            unreadable=dict(sorted(unreadable.items())))
        self._refuse_unproven()

    def _reread(self, part: StorePart, keys: list[str]) -> dict[str, Setting]:
        try:
            return part.store.reread(self.report.target, keys)
        except StoppedEarly as stop:
            raise stop.cause from None

    def _refuse_unproven(self) -> None:
        verification = self.report.verification
        assert verification is not None
        target, checked = self.report.target, verification.checked
        where = f"on {target} of cohort {self.cohort}"
        if verification.unreadable:
            found = verification.unreadable
            listed = shown_keys([f"{key}: {code}" for key, code in found.items()])
            raise VerificationFailed(
                f"verification failed: {len(found)} of {checked} settings {where} cannot be "
                f"read back ({listed}), so what was written is unproven; do not shift traffic: "
                "make sure the rollout role may read and decrypt them (their KMS key; "
                f"`rollout iam-policy --cohort {self.cohort}`), then run the same command "
                "again", self.report)
        if verification.mismatched:
            raise VerificationFailed(
                f"verification failed: {len(verification.mismatched)} of {checked} settings "
                f"{where} do not match what was written "
                f"({shown_keys(verification.mismatched)}); do not shift traffic: find who "
                "else writes there, then run the copy again", self.report)

    def record(self) -> None:
        """Save each store's snapshot: a copy's, or a carry-back's update of the copy's."""
        for part in self.parts:
            fresh = self.fresh.get(part.store.name, {})
            if self.operation == "carry-back":
                self._record_carry_back(part, fresh)
            else:
                self._record_copy(part, fresh)
        self.report.snapshot_recorded = True

    def _save(self, part: StorePart, source: str, target: str,
              by_tenant: Mapping[str, Mapping[str, SnapshotEntry]]) -> None:
        try:
            self.book.save(part.store.name, source, target, by_tenant)
        except StoppedEarly as stop:
            raise stop.cause from None

    def _record_copy(self, part: StorePart, fresh: Mapping[str, Setting]) -> None:
        source, target, tenant = self.report.source, self.report.target, self.report.tenant
        by_tenant: dict[str, dict[str, SnapshotEntry]] = {}
        if tenant is not None:
            by_tenant[tenant] = {}
        else:
            record = self.book.record(part.store.name, source, target)
            by_tenant.update({t: {} for t in (record.tenants if record else [])})
        for c in part.comparisons:
            left_alone = not expected_after(c, self.force)
            after = c.current if left_alone else fresh.get(c.key)
            by_tenant.setdefault(c.tenant, {})[c.key] = entry_for(c.wanted, after, left_alone)
        self._save(part, source, target, by_tenant)

    def _record_carry_back(self, part: StorePart, fresh: Mapping[str, Setting]) -> None:
        """Bring the snapshot old → new up to date with what the carry-back synced."""
        new, old = self.report.source, self.report.target
        by_tenant: dict[str, dict[str, SnapshotEntry]] = {}
        for key, entry in part.recorded.items():
            by_tenant.setdefault(tenant_of(key), {})[key] = entry
        for c in part.comparisons:
            entries = by_tenant.setdefault(c.tenant, {})
            if not self._synced(c):
                continue
            if c.wanted is None:
                entries.pop(c.key, None)
            else:
                entries[c.key] = entry_for(fresh.get(c.key), c.wanted, left_alone=False)
        self._save(part, old, new, by_tenant)

    def _synced(self, comparison: Comparison) -> bool:
        """Whether both colours now agree on a key (carry-back wrote it, or it already was)."""
        return comparison.status != Difference.UNCHANGED and (
            comparison.status == Difference.EQUAL
            or action_for(comparison, self.force) != WriteKind.NONE)


@dataclass(frozen=True)
class WriteSettings:
    """One store's writes to the target colour, in flight together (a bounded number)."""

    run: CopyRun
    part: StorePart
    kind: ClassVar[str] = "write-settings"

    def describe(self) -> str:
        writes = self.part.writes
        counts = Counter(write.action.value for write in writes)
        done = ", ".join(f"{count} {action}" for action, count in sorted(counts.items()))
        store = self.part.store
        return (f"write {plural(len(writes), 'setting')} to {STORE_LABELS[store.name]} under "
                f"{store.location(self.run.report.target)} ({done}): "
                f"{shown_keys([write.key for write in writes])}")

    def facts(self) -> Mapping[str, object]:
        store = self.part.store
        return {"store": store.name.value, "location": store.location(self.run.report.target),
                "writes": [{"key": write.key, "action": write.action.value,
                            "secret": write.secret} for write in self.part.writes]}

    def apply(self) -> None:
        with withheld_wire_bodies():
            self.run.write(self.part)


@dataclass(frozen=True)
class VerifySettings:
    """Read back every key that should now match the source, and compare by hash."""

    run: CopyRun
    kind: ClassVar[str] = "verify-settings"

    def describe(self) -> str:
        return (f"verify {plural(self.run.checked(), 'setting')} on "
                f"{self.run.report.target} by reading them back")

    def facts(self) -> Mapping[str, object]:
        return {"colour": self.run.report.target, "checked": self.run.checked()}

    def apply(self) -> None:
        with withheld_wire_bodies():
            self.run.verify()


@dataclass(frozen=True)
class RecordSnapshot:
    """Record in the ledger what is now in sync: names, versions and hashes of plain values."""

    run: CopyRun
    kind: ClassVar[str] = "record-snapshot"

    def describe(self) -> str:
        report = self.run.report
        return (f"record the snapshot of config {report.operation} {report.source} → "
                f"{report.target} in the ledger (names, versions, hashes of plain values)")

    def facts(self) -> Mapping[str, object]:
        return {"stores": [part.store.name.value for part in self.run.parts]}

    def apply(self) -> None:
        self.run.record()


@dataclass(frozen=True)
class ConfigPlan:
    """The plan of one copy or carry-back and the report it fills in, built once."""

    plan: plans.Plan
    run: CopyRun

    @classmethod
    def of(cls, run: CopyRun) -> ConfigPlan:
        """Write each store that has writes, then verify, then record."""
        run.report.items = [item for part in run.parts for item in part.items(run.force)]
        steps: list[plans.PlanStep] = [WriteSettings(run, part) for part in run.parts
                                       if part.writes]
        steps += [VerifySettings(run), RecordSnapshot(run)]
        return cls(plans.Plan(f"config {run.operation}", tuple(steps)), run)

    @property
    def report(self) -> CopyReport:
        return self.run.report

    def lines(self) -> list[str]:
        return self.plan.lines()

    def display(self, report_step: plans.StepReport | None = None) -> CopyReport:
        """The dry run: every step described, none applied."""
        self.report.dry_run = True
        self.report.plan = self.plan.as_json(dry_run=True)
        plans.display(self.plan, report_step)
        return self.report

    def execute(self, report_step: plans.StepReport | None = None) -> CopyReport:
        """Apply every step in order; the report says what was done, also when one fails."""
        self.report.dry_run = False
        self.report.plan = self.plan.as_json(dry_run=False)
        plans.execute(self.plan, report_step)
        return self.report
