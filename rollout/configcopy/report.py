"""What a diff, a copy or a carry-back found and did: pydantic models, safe to print.

Nothing here ever holds a secret's value. Plain values are shown (they are what
an operator needs to judge a conflict); a secret shows only as
``(secret, equal)`` or ``(secret, differs)``. Rendering for people lives in the CLI.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field, computed_field

from rollout.configcopy.diff import Comparison, Difference
from rollout.configcopy.setting import Setting, StoreName, value_differs
from rollout.configcopy.writes import WriteKind
from rollout.errors import Blocked
from rollout.vocabulary.counts import plural

SECRET_EQUAL: Literal["(secret, equal)"] = "(secret, equal)"
SECRET_DIFFERS: Literal["(secret, differs)"] = "(secret, differs)"
SHOWN_KEYS = 5


def shown_keys(keys: list[str]) -> str:
    """The first few keys, and how many more there are: names only, for one line."""
    more = f" and {len(keys) - SHOWN_KEYS} more" if len(keys) > SHOWN_KEYS else ""
    return ", ".join(keys[:SHOWN_KEYS]) + more


class ItemReport(BaseModel):
    """One key of one tenant."""

    store: StoreName
    tenant: str
    key: str
    kind: str | None
    status: Difference
    action: WriteKind = WriteKind.NONE
    done: bool = Field(default=False, description="the action was carried out (not a dry run)")
    differs: list[str] = Field(default_factory=list)
    secret: bool = False
    source_value: str | None = Field(default=None, description="plain values only")
    target_value: str | None = Field(default=None, description="plain values only")
    secret_value: Literal["(secret, equal)", "(secret, differs)"] | None = Field(
        default=None, description="how a secret compares: by hash, never printed")


def _shown(setting: Setting | None) -> str | None:
    return None if setting is None or setting.secret else setting.value.reveal()


def item_from(store: StoreName, comparison: Comparison, action: WriteKind = WriteKind.NONE,
              done: bool = False) -> ItemReport:
    """The printable view of one comparison: plain values shown, secrets never."""
    wanted, current = comparison.wanted, comparison.current
    shown = wanted or current
    secret = comparison.secret
    differs = list(comparison.differs)
    if not differs and wanted is not None and current is not None:
        differs = wanted.differences(current)
    secret_value = None
    if secret:
        same = wanted is not None and current is not None and not value_differs(differs)
        secret_value = SECRET_EQUAL if same else SECRET_DIFFERS
    return ItemReport(
        store=store, tenant=comparison.tenant, key=comparison.key,
        kind=shown.kind.value if shown else None, status=comparison.status, action=action,
        done=done, differs=differs, secret=secret, secret_value=secret_value,
        source_value=None if secret else _shown(wanted),
        target_value=None if secret else _shown(current))


class Verification(BaseModel):
    """The re-read after the writes: every key that should match the source, checked."""

    checked: int = 0
    mismatched: list[str] = Field(default_factory=list)
    unreadable: dict[str, str] = Field(
        default_factory=dict,
        description="``store:key`` → AWS's error code, for keys the re-read could not read")

    @computed_field  # type: ignore[prop-decorator]
    @property
    def ok(self) -> bool:
        return not self.mismatched and not self.unreadable


class LeftAlone(BaseModel):
    """A tenant edit a copy or carry-back did not write, and why: names only, never a value.

    ``key`` is the setting's name below the tenant (``smtp/password``), so
    ``f"{tenant}/{key}"`` is the key the items use.
    """

    store: StoreName
    tenant: str
    key: str
    operation: Literal["copy", "carry-back"]
    source: str
    target: str
    reason: str = Field(description="why it was left alone, e.g. changed on both colours")

    def line(self) -> str:
        """One line for people: which tenant's setting, where it was not written, and why."""
        verb = "carried back" if self.operation == "carry-back" else "copied"
        return (f"tenant {self.tenant}: {self.key} ({self.store.value}) not {verb} from "
                f"{self.source} to {self.target}: {self.reason}")


def _why_left_alone(item: ItemReport, operation: str, source: str, target: str) -> str:
    """Why a conflict was left alone, from what the comparison recorded about each side."""
    if operation != "carry-back":
        return (f"differs from {source}, and was changed on {target} since the toolkit "
                "last synced it")
    if "deleted" in item.differs:
        return f"deleted on {source} and changed on {target} since the copy"
    if "deleted on old" in item.differs:
        return f"changed on {source} and deleted on {target} since the copy"
    return f"changed on both {source} and {target} since the copy"


class _Report(BaseModel):
    cohort: str
    source: str
    target: str
    tenant: str | None = None
    items: list[ItemReport] = Field(default_factory=list)

    @computed_field  # type: ignore[prop-decorator]
    @property
    def counts(self) -> dict[str, int]:
        """How many keys have each status."""
        found: dict[str, int] = {}
        for item in self.items:
            found[item.status.value] = found.get(item.status.value, 0) + 1
        return dict(sorted(found.items()))


class DiffReport(_Report):
    """How the target colour's settings relate to the source colour's."""

    operation: Literal["diff"] = "diff"


class CopyReport(_Report):
    """What a copy (or a carry-back) found, wrote, left alone and verified."""

    operation: Literal["copy", "carry-back"] = "copy"
    dry_run: bool = False
    force: bool = False
    verification: Verification | None = None
    snapshot_recorded: bool = False
    plan: dict[str, Any] | None = Field(
        default=None, description="the steps, as displayed (dry run) or applied")

    @computed_field  # type: ignore[prop-decorator]
    @property
    def written(self) -> int:
        return sum(1 for item in self.items if item.done and item.action != WriteKind.NONE)

    @computed_field  # type: ignore[prop-decorator]
    @property
    def verified(self) -> bool:
        """The re-read after the writes matched (a dry run verifies nothing)."""
        return self.verification is not None and self.verification.ok

    @property
    def conflicts(self) -> list[ItemReport]:
        """Conflicts that were left alone (with ``--force`` they were written)."""
        return [item for item in self.items
                if item.status == Difference.CONFLICT and item.action == WriteKind.NONE]

    @computed_field  # type: ignore[prop-decorator]
    @property
    def left_alone(self) -> list[LeftAlone]:
        """Each conflict left alone: tenant, key and why (in ``--json`` as ``left_alone``)."""
        return [LeftAlone(store=item.store, tenant=item.tenant,
                          key=item.key.split("/", 1)[-1], operation=self.operation,
                          source=self.source, target=self.target,
                          reason=_why_left_alone(item, self.operation, self.source,
                                                 self.target))
                for item in self.conflicts]

    def conflict_lines(self) -> list[str]:
        """One line per conflict left alone, for people; empty when there was none."""
        return [conflict.line() for conflict in self.left_alone]

    def summary(self) -> str:
        """One line for events and logs: counts and key names, never a value."""
        verb = "carry back" if self.operation == "carry-back" else "copy"
        counts = ", ".join(f"{n} {status}" for status, n in self.counts.items())
        planned = sum(1 for item in self.items if item.action != WriteKind.NONE)
        parts = [f"config {verb} {self.source} → {self.target}: {len(self.items)} settings"
                 + (f" ({counts})" if counts else "")]
        if self.dry_run:
            parts.append(f"dry run, would write {planned}")
        else:
            parts.append(f"wrote {self.written}")
            verification = self.verification
            if verification is not None:
                problems = [f"{len(found)} {what}" for what, found in (
                    ("mismatched", verification.mismatched),
                    ("unreadable", verification.unreadable)) if found]
                parts.append(f"verified {verification.checked}"
                             + "".join(f", {problem}" for problem in problems))
        if self.conflicts:
            names = shown_keys([item.key for item in self.conflicts])
            parts.append(f"{len(self.conflicts)} conflicts left alone ({names})")
        return "; ".join(parts)


class ConflictsLeftAlone(Blocked):
    """Settings someone changed on the target were left alone, so the colours differ (exit 3).

    One rule and one message for ``config copy``, ``config carry-back`` and the copy
    before a rollout's first step: ``report`` says what was found and done.
    """

    def __init__(self, report: CopyReport) -> None:
        conflicts = [item.key for item in report.conflicts]
        scope = f"--cohort {report.cohort} --from {report.source} --to {report.target}" + (
            f" --tenant {report.tenant}" if report.tenant else "")
        why = ("changed on both colours since the copy" if report.operation == "carry-back"
               else f"changed on {report.target} since the toolkit last synced it")
        count = len(conflicts)
        super().__init__(
            f"{plural(count, 'conflict')} left alone on {report.target} "
            f"({shown_keys(conflicts)}): {why}; review with `rollout config diff {scope}`, "
            f"then `rollout config {report.operation} {scope} --force` to overwrite")
        self.report = report


def conflicts_left_alone(report: CopyReport) -> ConflictsLeftAlone | None:
    """The error for the conflicts a copy or carry-back left alone; ``None`` if there are none."""
    return ConflictsLeftAlone(report) if report.conflicts else None
