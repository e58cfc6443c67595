"""``manifest.json``: what a published release consists of, so it can be verified and restored.

Written once, after every file is uploaded; a release exists exactly when its
manifest does. The sha256 of each file is what ``verify`` and ``restore`` trust,
and the S3 version id says where the published bytes are even if someone
overwrites the object later: ``publish`` never does (its writes are conditional,
published releases are write-once), but an identity with more rights could.
"""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from rollout.model.release import ReleaseNotes
from rollout.model.stack import IMAGE_DIGEST_PATTERN
from rollout.vocabulary.clock import utc_now

MANIFEST_NAME = "manifest.json"
FORMAT = 1


class Publisher(BaseModel):
    """Who published the release, as STS saw them."""

    model_config = ConfigDict(frozen=True)

    arn: str
    account: str
    user_id: str


class ArtefactFile(BaseModel):
    """One uploaded file."""

    model_config = ConfigDict(frozen=True)

    name: str
    key: str
    size: int = Field(ge=0)
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    version_id: str | None = None
    etag: str

    @property
    def multipart_parts(self) -> int | None:
        """How many parts S3 assembled the object from (the ``-N`` of its ETag), if multipart."""
        _, dash, parts = self.etag.strip('"').rpartition("-")
        return int(parts) if dash and parts.isdigit() else None


class Manifest(BaseModel):
    """A published release: its files, notes and provenance."""

    model_config = ConfigDict(frozen=True)

    format: int = FORMAT
    app: str
    version: str
    files: list[ArtefactFile]
    notes: ReleaseNotes
    image: str | None = Field(default=None, pattern=IMAGE_DIGEST_PATTERN)
    """The container image an ecs colour runs, pinned by digest; None in older manifests."""
    created_at: datetime = Field(default_factory=utc_now)
    publisher: Publisher

    @property
    def total_size(self) -> int:
        return sum(f.size for f in self.files)
