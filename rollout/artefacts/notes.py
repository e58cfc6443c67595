"""Load ``release.yaml`` for one version, refusing notes written for another version.

A release announced with the wrong notes is worse than none, so a mismatch is a
:class:`~rollout.errors.BadInput` naming the file and the line of ``version``.
"""

from __future__ import annotations

from pathlib import Path

from rollout.errors import BadInput
from rollout.model.release import ReleaseNotes
from rollout.userfile import line_of, load_model, read_yaml
from rollout.vocabulary.versions import semver_key


def load_notes(path: Path, version: str) -> ReleaseNotes:
    """The notes in ``path``, which must be for ``version``."""
    semver_key(version)
    notes = load_model(path, ReleaseNotes)
    if notes.version != version:
        _, lines = read_yaml(path)
        raise BadInput(f"{path}:{line_of(lines, ('version',))}: version: the notes are for "
                       f"{notes.version}, but --version is {version}")
    return notes
