"""On rollback, what changed on the new colour since the copy flows back to the old one.

Pure logic over three inputs: the new colour now, the old colour now, and the
snapshot the copy recorded (each key's stamp on both colours at copy time).
Stamps make it exact: a key whose stamp on the new colour is still the recorded
one was not changed there, whatever its value; a key the old colour still holds
at its recorded stamp was not changed there either, so it can be updated
safely. When both sides changed, that is a conflict, handled like a copy's.
"""

from __future__ import annotations

from collections.abc import Mapping

from rollout.configcopy.diff import Comparison, Difference
from rollout.configcopy.setting import Setting, value_differs
from rollout.configcopy.snapshot import SnapshotEntry


def changed_on_new(new: Setting | None, entry: SnapshotEntry | None) -> bool:
    """Whether the new colour's key was created, changed or deleted since the copy."""
    if entry is None:
        return new is not None
    if new is None:
        return entry.target_stamp is not None
    return new.stamp != entry.target_stamp


def _untouched_on_old(old: Setting | None, entry: SnapshotEntry | None) -> bool:
    recorded = entry.source_stamp if entry else None
    return (old.stamp if old else None) == recorded


def classify_carry_back(key: str, new: Setting | None, old: Setting | None,
                        entry: SnapshotEntry | None) -> Comparison | None:
    """One key's carry-back comparison, or ``None`` when the key concerns neither side."""
    if not changed_on_new(new, entry):
        if old is None and new is None:
            return None
        return Comparison(key, Difference.UNCHANGED, new, old)
    if new is None:
        if old is None:
            return None
        status = Difference.DELETED if _untouched_on_old(old, entry) else Difference.CONFLICT
        return Comparison(key, status, None, old, ("deleted",))
    if old is None:
        status = Difference.MISSING if _untouched_on_old(old, entry) else Difference.CONFLICT
        return Comparison(key, status, new, None, ("deleted on old",) if entry else ())
    differs = tuple(new.differences(old))
    if not differs:
        return Comparison(key, Difference.EQUAL, new, old)
    if _untouched_on_old(old, entry):
        status = Difference.STALE if value_differs(list(differs)) else Difference.DRIFTED
    else:
        status = Difference.CONFLICT
    return Comparison(key, status, new, old, differs)


def compare_carry_back(new: Mapping[str, Setting], old: Mapping[str, Setting],
                       recorded: Mapping[str, SnapshotEntry]) -> list[Comparison]:
    """Every key either colour has or the snapshot knows, sorted.

    ``new`` holds the new colour's settings as they should land on the old colour
    (KMS keys already mapped back); ``recorded`` is the snapshot of the copy old → new.
    """
    keys = sorted({*new, *old, *recorded})
    found = (classify_carry_back(k, new.get(k), old.get(k), recorded.get(k)) for k in keys)
    return [c for c in found if c is not None]
