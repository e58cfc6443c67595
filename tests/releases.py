"""Releases as the tests publish them, and the artefact bucket as S3 really holds them.

Release notes are the repository's example rewritten for another version (what
a user would publish), or a short note where a test reads the text back. What the
store wrote is read with plain S3 calls, not through :class:`ArtefactStore`, so a
test sees what a user of the bucket sees.
"""

from __future__ import annotations

import json
import os
import textwrap
from pathlib import Path
from typing import Any

from boto3.s3.transfer import TransferConfig

from rollout.artefacts.notes import load_notes
from rollout.artefacts.store import ArtefactStore
from rollout.local.fleets import Fleet

EXAMPLE_NOTES = Path(__file__).resolve().parents[1] / "examples" / "release.yaml"


def notes_for(folder: Path, version: str) -> Path:
    """The example release notes, rewritten for ``version``."""
    text = EXAMPLE_NOTES.read_text().replace("version: 1.5.0", f"version: {version}", 1)
    path = folder / f"release-{version}.yaml"
    path.write_text(text)
    return path


def short_notes_yaml(version: str) -> str:
    """Release notes of one line a field, for tests that look for them in what is sent."""
    return textwrap.dedent(f"""\
        version: {version}
        title: Faster exports
        changes: [CSV exports run in the background]
        benefits: [Exports of any size finish]
        risks: [Export links change format]
        timeframe: Each upgrade takes under an hour, with no downtime.
        rollbackPlan: Traffic returns to the previous version in one step.
        """)


def artefact(folder: Path, name: str, size: int) -> Path:
    """A build artefact of ``size`` random bytes (so no two are alike) in ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_bytes(os.urandom(size))
    return path


def store_of(fleet: Fleet, transfer: TransferConfig | None = None) -> ArtefactStore:
    """The fleet's artefact store, as the CLI builds it."""
    return ArtefactStore.of(fleet.clients, fleet.shared, transfer)


def publish(fleet: Fleet, folder: Path, version: str, size: int = 20_000) -> None:
    """``version`` published with the example notes and one random ``app.tar.gz``."""
    bundle = artefact(folder / version, "app.tar.gz", size)
    store_of(fleet).publish(load_notes(notes_for(folder, version), version), [bundle])


class QuietProgress:
    """Upload progress that is told everything and does nothing: override what a test watches."""

    def started(self, name: str, size: int) -> None:
        pass

    def advanced(self, name: str, amount: int) -> None:
        pass

    def finished(self, name: str) -> None:
        pass


def release_prefix(fleet: Fleet, version: str) -> str:
    """Where the store keeps ``version``'s objects in the artefact bucket."""
    return f"releases/{fleet.app}/{version}/"


def object_versions(fleet: Fleet, prefix: str) -> list[tuple[str, str, bool]]:
    """Every S3 version under ``prefix``: (key, version id, is latest)."""
    listed = fleet.clients.client("s3").list_object_versions(
        Bucket=fleet.shared.artefact_bucket, Prefix=prefix)
    return sorted((v["Key"], v["VersionId"], v["IsLatest"]) for v in listed.get("Versions", []))


def manifest_in_s3(fleet: Fleet, version: str) -> dict[str, Any]:
    """The manifest of ``version`` as the bucket holds it."""
    body = fleet.clients.client("s3").get_object(
        Bucket=fleet.shared.artefact_bucket,
        Key=f"{release_prefix(fleet, version)}manifest.json")["Body"].read()
    parsed: dict[str, Any] = json.loads(body)
    return parsed
