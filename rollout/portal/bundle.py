"""The preferences page's Lambda zip: the toolkit, what the page imports, the tenants and notes.

The shared stack runs it behind a function URL (:mod:`rollout.portal.lambda_handler`).
The page decides from the tenants file and the notes of the releases it offers, so both
go into the zip (``portal/tenants.yaml``, ``portal/notes/``): what a tenant sees is what
was published, reviewed like code, and a change to either is a new zip. Its
dependencies are what the page imports at run time (:data:`PAGE_REQUIREMENTS`), copied
from this install with their compiled parts when this machine's builds run on the
function's platform; pulumi, scipy and the rest of the toolkit's install never go in.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from packaging.requirements import Requirement

import rollout
from rollout.artefacts.lambda_zip import (
    Architecture,
    Entry,
    LambdaPlatform,
    distribution_entries,
    tree_entries,
    vendored,
    write_zip,
)
from rollout.errors import BadInput
from rollout.model.tenants import load_tenants
from rollout.portal.releases import offered_releases
from rollout.vocabulary.portal_function import NOTES_IN_ZIP, TENANTS_IN_ZIP

PAGE_REQUIREMENTS = ("pydantic>=2.7", "pyyaml>=6.0", "starlette>=0.49.1", "mangum>=0.19")
"""What the page and the ledger code under it import besides boto3 (the runtime's)."""
ZIP_NAME = "preferences-page-{sha}.zip"
INSTALL_HINT = "pip install 'tenant-rollout[portal]'"


@dataclass(frozen=True)
class PortalBundle:
    """A built zip: where it is, its sha256 (hex) and size, and what it offers."""

    path: Path
    sha256: str
    size: int
    releases: tuple[str, ...]


def _notes_entries(notes: list[Path]) -> tuple[list[Entry], tuple[str, ...]]:
    """Each notes file under ``portal/notes/`` by its own name, and the releases offered."""
    offered = offered_releases(notes)
    named: dict[str, Path] = {}
    for path in notes:
        if path.name in named:
            raise BadInput(f"{path}: {named[path.name]} has this file name too; give each "
                           "release's notes a file name of its own")
        named[path.name] = path
    entries = [Entry(f"{NOTES_IN_ZIP}/{path.name}", path.read_bytes()) for path in notes]
    return entries, tuple(release.version for release in offered)


def build_portal_zip(tenants: Path, notes: list[Path], out_dir: Path, *,
                     architecture: Architecture = "x86_64") -> PortalBundle:
    """``<out_dir>/preferences-page-<sha256 prefix>.zip``; everything is checked first.

    :class:`~rollout.errors.BadInput` for a bad tenants or notes file (file, line,
    field), a missing dependency, or one whose installed build does not run on the
    function's ``architecture``.
    """
    load_tenants(tenants)
    platform = LambdaPlatform(architecture)
    notes_entries, releases = _notes_entries(notes)
    entries = [*tree_entries(Path(rollout.__file__).parent, "rollout"),
               Entry(TENANTS_IN_ZIP, tenants.read_bytes()), *notes_entries]
    roots = [Requirement(line) for line in PAGE_REQUIREMENTS]
    for found in vendored(roots, "the preferences page", INSTALL_HINT):
        entries.extend(distribution_entries(found, platform))
    out_dir.mkdir(parents=True, exist_ok=True)
    building = out_dir / ZIP_NAME.format(sha="building")
    write_zip(building, entries)
    data = building.read_bytes()
    digest = hashlib.sha256(data).hexdigest()
    path = building.replace(out_dir / ZIP_NAME.format(sha=digest[:12]))
    return PortalBundle(path, digest, len(data), releases)
