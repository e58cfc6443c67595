"""What a colour of a cohort runs, read off a release's manifest for the cohort's compute kind.

Pure (no AWS calls), so ``stacks up``, ``--dry-run`` and tests resolve a release the
same way. A lambda colour runs the release's one ``.zip`` at the S3 object version
the manifest recorded, an ecs colour the image pinned by digest: neither a later
upload under the same key nor a moved tag can change what a colour runs.
"""

from __future__ import annotations

import re
from typing import Literal

from rollout.artefacts.manifest import ArtefactFile, Manifest
from rollout.errors import BadInput
from rollout.model.stack import IMAGE_DIGEST_PATTERN, ColourArtefact, ZipArtefact

ComputeKind = Literal["external", "lambda", "ecs"]
ZIP_SUFFIX = ".zip"
IMAGE_HINT = "repo@sha256:<64 hex digits>"


def checked_image(image: str | None) -> str | None:
    """``--image`` as given, refused (:class:`BadInput`) unless it is pinned by digest."""
    if image is None or re.fullmatch(IMAGE_DIGEST_PATTERN, image):
        return image
    raise BadInput(f"--image {image!r} is not pinned by digest: a tag can move under a "
                   f"colour; pass --image {IMAGE_HINT} (e.g. from `docker inspect "
                   "--format '{{index .RepoDigests 0}}'`)")


def release_zip(manifest: Manifest) -> ArtefactFile:
    """The one ``.zip`` among the release's files, at a known S3 object version."""
    zips = [found for found in manifest.files if found.name.endswith(ZIP_SUFFIX)]
    if not zips:
        names = ", ".join(found.name for found in manifest.files)
        raise BadInput(f"{manifest.version} has no {ZIP_SUFFIX} for a lambda cohort (its "
                       f"files: {names}): publish a new version with the function's zip "
                       "among its artefacts")
    if len(zips) > 1:
        names = ", ".join(found.name for found in zips)
        raise BadInput(f"{manifest.version} has {len(zips)} {ZIP_SUFFIX} files ({names}): a "
                       f"lambda cohort runs exactly one; publish a new version with one zip")
    [found] = zips
    if found.version_id is None:
        raise BadInput(f"{manifest.version}: {found.key} has no S3 object version in the "
                       "manifest: the artefact bucket must be versioned so a colour runs "
                       "exactly the published bytes; enable versioning on it and publish a "
                       "new version")
    return found


def colour_artefact(manifest: Manifest, kind: ComputeKind) -> ColourArtefact:
    """What a colour of a ``kind`` cohort runs of ``manifest``; :class:`BadInput` if it lacks it."""
    if kind == "lambda":
        found = release_zip(manifest)
        return ColourArtefact(version=manifest.version, zip=ZipArtefact(
            key=found.key, object_version=found.version_id, sha256=found.sha256))
    if kind == "ecs":
        if manifest.image is None:
            raise BadInput(f"{manifest.version} has no image for an ecs cohort: publish a new "
                           f"version with --image {IMAGE_HINT}")
        return ColourArtefact(version=manifest.version, image=manifest.image)
    return ColourArtefact(version=manifest.version)
