"""The releases the page may speak of: their notes, read once when the page starts.

A link names its release; the page shows that release's notes, so each release is
offered once, by the notes it was announced with (two files for one version would
leave it to chance which story a tenant reads).
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from rollout.errors import BadInput
from rollout.model.release import ReleaseNotes
from rollout.userfile import load_model


def offered_releases(paths: Iterable[Path]) -> list[ReleaseNotes]:
    """The notes in each of ``paths``; :class:`BadInput` when none, or a version twice."""
    seen: dict[str, Path] = {}
    offered: list[ReleaseNotes] = []
    for path in paths:
        notes = load_model(path, ReleaseNotes)
        if notes.version in seen:
            raise BadInput(f"{path}: release {notes.version} is offered already by "
                           f"{seen[notes.version]}; give each release's notes once")
        seen[notes.version] = path
        offered.append(notes)
    if not offered:
        raise BadInput("the page offers no release: give the notes of each release tenants "
                       "may choose about (--notes release.yaml)")
    return offered


def notes_in(folder: Path) -> list[Path]:
    """The notes files (``*.yaml``, ``*.yml``) in ``folder``, in name order."""
    if not folder.is_dir():
        raise BadInput(f"{folder}: not a directory of release notes")
    return sorted(p for p in folder.iterdir() if p.suffix in (".yaml", ".yml") and p.is_file())
