"""Turn comparisons into the writes a copy makes: plain data the copy's plan steps carry.

Pure: the stores execute a :class:`Write`; nothing here calls AWS. A conflict
is written only with ``force``; equal, extra and unchanged keys never are.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

from rollout.configcopy.diff import Comparison, Difference
from rollout.configcopy.setting import Setting, Tags, holds_secret

_NEVER_WRITTEN = (Difference.EQUAL, Difference.EXTRA, Difference.UNCHANGED)


class WriteKind(StrEnum):
    """What a write does to one key on the target."""

    NONE = "none"
    CREATE = "create"
    OVERWRITE = "overwrite"
    RETAG = "retag"
    DELETE = "delete"


@dataclass(frozen=True)
class Write:
    """One key's change on the target: the store turns it into API calls."""

    key: str
    action: WriteKind
    wanted: Setting | None
    current: Setting | None

    @property
    def secret(self) -> bool:
        return holds_secret(self.wanted, self.current)

    @property
    def tags_to_set(self) -> Tags:
        """Tags the target lacks or holds with another value."""
        wanted, current = self._tags()
        return tuple((k, v) for k, v in sorted(wanted.items()) if current.get(k) != v)

    @property
    def tags_to_remove(self) -> tuple[str, ...]:
        """Tag keys the target has and the source does not."""
        wanted, current = self._tags()
        return tuple(sorted(k for k in current if k not in wanted))

    def _tags(self) -> tuple[dict[str, str], dict[str, str]]:
        return (dict(self.wanted.meta.tags) if self.wanted else {},
                dict(self.current.meta.tags) if self.current else {})


def action_for(comparison: Comparison, force: bool) -> WriteKind:
    """The action one comparison calls for; conflicts only with ``force``."""
    if comparison.status in _NEVER_WRITTEN:
        return WriteKind.NONE
    if comparison.status == Difference.CONFLICT and not force:
        return WriteKind.NONE
    wanted, current = comparison.wanted, comparison.current
    if wanted is None:
        return WriteKind.DELETE if current is not None else WriteKind.NONE
    if current is None:
        return WriteKind.CREATE
    differs = comparison.differs or tuple(wanted.differences(current))
    if not differs:
        return WriteKind.NONE
    if differs == ("tags",):
        return WriteKind.RETAG
    return WriteKind.OVERWRITE


def plan_writes(comparisons: Iterable[Comparison], force: bool) -> list[Write]:
    """The writes for ``comparisons``, in key order, without no-ops."""
    writes = [Write(c.key, action_for(c, force), c.wanted, c.current) for c in comparisons]
    return [w for w in writes if w.action != WriteKind.NONE]
