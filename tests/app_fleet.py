"""A fleet whose colours run the example app's real zips (examples/app), as a release
deploys them: built, uploaded to the artefact store, deployed at their object versions."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from pathlib import Path

import boto3

from rollout.local.app_bundle import build_app_zip
from rollout.model.stack import ColourArtefact, ZipArtefact
from rollout.vocabulary.colours import Colour
from tests.conftest import Fleet, deploy_fleet

REPO = Path(__file__).resolve().parents[1]


def deploy_app_fleet(base: Path, cohorts: dict[str, list[str]],
                     versions: Mapping[Colour, str],
                     defects: Mapping[Colour, str] | None = None) -> Fleet:
    """``cohorts`` on the ``lambda`` kind, each colour running the example app at its
    version (built with ``defects[colour]`` baked in, if any)."""
    fleet = deploy_fleet(base, cohorts, compute={"kind": "lambda"})
    s3 = boto3.client("s3")
    for colour, version in versions.items():
        defect = (defects or {}).get(colour)
        code = build_app_zip(version, base / "zips" / colour, project_dir=REPO,
                             defect=defect).read_bytes()
        key = f"releases/{version}/{colour}/app.zip"
        made = s3.put_object(Bucket=fleet.shared.artefact_bucket, Key=key, Body=code)
        artefact = ColourArtefact(version=version, zip=ZipArtefact(
            key=key, object_version=made["VersionId"], sha256=hashlib.sha256(code).hexdigest()))
        for cohort in cohorts:
            fleet.deployer.deploy_version(cohort, colour, version, artefact=artefact)
    for cohort in cohorts:
        fleet.refresh(cohort)
    return fleet


def seed_settings(fleet: Fleet, cohort: str, themes: Mapping[Colour, str]) -> None:
    """A ``theme`` for every tenant of ``cohort`` in each colour's own parameters (the app
    answers 404 for a tenant with no settings on its colour)."""
    resources = fleet.cohorts[cohort]
    ssm = boto3.client("ssm", region_name=resources.region)
    for colour, theme in themes.items():
        for tenant in resources.tenants:
            ssm.put_parameter(Name=f"{resources.colour_prefix(colour)}/{tenant.id}/theme",
                              Type="String", Value=theme, Overwrite=True)


SECONDS_LONG_STEPS = 0.1
"""How often a test's local listener reads the listener when the rollout's steps last a
second or more: following a change within a tenth of a second is plenty there, and an
idle listener read every 20 ms (the default, for the 100 ms promise) costs about half a
core of the two a test run has."""
