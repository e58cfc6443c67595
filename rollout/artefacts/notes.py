"""Load ``release.yaml`` for the version being published or announced (``--version``).

A release announced with the wrong notes is worse than none: the check itself is
:func:`rollout.model.release.load_release_notes`; this adds the version grammar.
"""

from __future__ import annotations

from pathlib import Path

from rollout.model.release import ReleaseNotes, load_release_notes
from rollout.vocabulary.versions import semver_key


def load_notes(path: Path, version: str) -> ReleaseNotes:
    """The notes in ``path``, which must be for ``version``."""
    semver_key(version)
    return load_release_notes(path, version, "--version")
