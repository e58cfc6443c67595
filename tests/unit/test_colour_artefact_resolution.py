"""What a colour runs, resolved from a release manifest for each compute kind (no AWS).

``rollout stacks up`` deploys exactly what this resolution says: the zip's S3 object
version for a lambda cohort, the image digest for an ecs one. A release that lacks
it is refused (exit 2) with a message naming the version, the kind and what is missing.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from rollout.artefacts.colour_artefacts import checked_image, colour_artefact
from rollout.artefacts.manifest import ArtefactFile, Manifest, Publisher
from rollout.errors import BadInput
from rollout.model.release import ReleaseNotes
from rollout.model.stack import ColourArtefact, ZipArtefact

DIGEST = "ab" * 32
IMAGE = f"123456789012.dkr.ecr.eu-west-1.amazonaws.com/shop@sha256:{DIGEST}"


def notes(version: str) -> ReleaseNotes:
    return ReleaseNotes.model_validate({
        "version": version, "title": "Faster exports", "changes": ["background exports"],
        "benefits": ["exports finish"], "risks": ["links change"],
        "timeframe": "under an hour", "rollbackPlan": "one step back"})


def file(name: str, version_id: str | None = "v-1") -> ArtefactFile:
    return ArtefactFile(name=name, key=f"releases/shop/1.5.0/{name}", size=10,
                        sha256=(name.encode().hex() * 64)[:64], version_id=version_id,
                        etag="e")


def manifest(*files: ArtefactFile, image: str | None = None) -> Manifest:
    return Manifest(app="shop", version="1.5.0", files=list(files), notes=notes("1.5.0"),
                    created_at=datetime(2026, 1, 1, tzinfo=UTC), image=image,
                    publisher=Publisher(arn="arn:aws:iam::1:user/ci", account="1",
                                        user_id="AID"))


def test_a_lambda_colour_runs_the_zip_at_its_published_object_version() -> None:
    zipped = file("app.zip", version_id="3HL4kqtJlcpXroDTDmJ")
    found = colour_artefact(manifest(file("schema.sql"), zipped), "lambda")
    assert found == ColourArtefact(version="1.5.0", zip=ZipArtefact(
        key="releases/shop/1.5.0/app.zip", object_version="3HL4kqtJlcpXroDTDmJ",
        sha256=zipped.sha256))
    assert found.image is None


def test_a_lambda_colour_ignores_the_image() -> None:
    found = colour_artefact(manifest(file("app.zip"), image=IMAGE), "lambda")
    assert found.image is None and found.zip is not None


def test_an_ecs_colour_runs_the_image_digest_and_no_zip() -> None:
    found = colour_artefact(manifest(file("app.zip"), image=IMAGE), "ecs")
    assert found == ColourArtefact(version="1.5.0", image=IMAGE)


def test_an_external_colour_is_the_version_only() -> None:
    found = colour_artefact(manifest(file("app.tar.gz")), "external")
    assert found == ColourArtefact(version="1.5.0")


def test_a_lambda_cohort_refuses_a_release_without_a_zip() -> None:
    with pytest.raises(BadInput, match=r"^1\.5\.0 has no \.zip for a lambda cohort "
                                       r"\(its files: app\.tar\.gz\)"):
        colour_artefact(manifest(file("app.tar.gz")), "lambda")


def test_a_lambda_cohort_refuses_a_release_with_two_zips() -> None:
    with pytest.raises(BadInput, match=r"^1\.5\.0 has 2 \.zip files \(a\.zip, b\.zip\)"):
        colour_artefact(manifest(file("a.zip"), file("b.zip")), "lambda")


def test_a_zip_without_an_object_version_means_an_unversioned_bucket() -> None:
    with pytest.raises(BadInput, match=r"releases/shop/1\.5\.0/app\.zip has no S3 object "
                                       r"version.*must be versioned"):
        colour_artefact(manifest(file("app.zip", version_id=None)), "lambda")


def test_an_ecs_cohort_refuses_a_release_without_an_image() -> None:
    with pytest.raises(BadInput, match=r"^1\.5\.0 has no image for an ecs cohort: publish "
                                       r"a new version with --image repo@sha256:"):
        colour_artefact(manifest(file("app.zip")), "ecs")


@pytest.mark.parametrize("image", [IMAGE, f"shop@sha256:{DIGEST}",
                                   f"localhost:5000/team/shop@sha256:{DIGEST}"])
def test_an_image_pinned_by_digest_is_accepted(image: str) -> None:
    assert checked_image(image) == image


@pytest.mark.parametrize("image", ["shop:1.5.0", "shop", "shop@sha256:abc",
                                   f"shop:1.5.0@sha256:{DIGEST.upper()}", ""])
def test_an_image_without_a_digest_is_refused_naming_the_option(image: str) -> None:
    with pytest.raises(BadInput, match=r"^--image .*is not pinned by digest"):
        checked_image(image)


def test_no_image_is_no_image() -> None:
    assert checked_image(None) is None


def test_a_manifest_written_before_images_still_loads() -> None:
    old = manifest(file("app.zip")).model_dump(mode="json")
    del old["image"]
    assert Manifest.model_validate(old).image is None
