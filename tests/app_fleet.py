"""A fleet whose colours run the example app's real zips (examples/app), as a release
deploys them: built, uploaded to the artefact store, deployed at their object versions;
and a cohort's listener in front of them."""

from __future__ import annotations

import hashlib
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

import boto3

from rollout.discovery import CohortResources
from rollout.local.app_bundle import build_app_zip
from rollout.local.data_plane.colour_processes import ColourProcesses
from rollout.local.data_plane.serving import serve_cohort
from rollout.model.stack import ColourArtefact, ZipArtefact
from rollout.vocabulary.colours import Colour
from tests.conftest import Fleet, deploy_fleet

REPO = Path(__file__).resolve().parents[1]


def deploy_app_fleet(base: Path, cohorts: dict[str, list[str]],
                     versions: Mapping[Colour, str],
                     defects: Mapping[Colour, str] | None = None, *,
                     cohort_defects: Mapping[str, Mapping[Colour, str]] | None = None) -> Fleet:
    """``cohorts`` on the ``lambda`` kind, each colour running the example app at its
    version (built with ``defects[colour]`` baked in, if any; a cohort named in
    ``cohort_defects`` gets those instead)."""
    fleet = deploy_fleet(base, cohorts, compute={"kind": "lambda"})
    s3 = boto3.client("s3")
    built: dict[tuple[Colour, str | None], ColourArtefact] = {}
    for colour, version in versions.items():
        for cohort in cohorts:
            defect = (cohort_defects or {}).get(cohort, defects or {}).get(colour)
            if (colour, defect) not in built:
                build = f"{colour}-{len(built)}"
                code = build_app_zip(version, base / "zips" / build, project_dir=REPO,
                                     defect=defect).read_bytes()
                key = f"releases/{version}/{build}/app.zip"
                made = s3.put_object(Bucket=fleet.shared.artefact_bucket, Key=key, Body=code)
                built[(colour, defect)] = ColourArtefact(version=version, zip=ZipArtefact(
                    key=key, object_version=made["VersionId"],
                    sha256=hashlib.sha256(code).hexdigest()))
            fleet.deployer.deploy_version(cohort, colour, version,
                                          artefact=built[(colour, defect)])
    for cohort in cohorts:
        fleet.refresh(cohort)
    return fleet


@contextmanager
def app_listener(fleet: Fleet, cohort: CohortResources, *, every: float) -> Iterator[str]:
    """:func:`rollout.local.traffic.local_listener` (each colour's code as a local process
    behind the cohort's listener; yields its URL), reading the listener every ``every``
    seconds: a test that moves traffic in steps of seconds need not follow a change
    within the 100 ms the default promises, at a hundred requests a second to moto."""
    with tempfile.TemporaryDirectory(prefix="rollout-colours-") as work, \
            ColourProcesses(fleet.clients, cohort, Path(work)) as processes, \
            serve_cohort(fleet.clients, cohort, processes.address, every=every) as url:
        yield url


def seed_settings(fleet: Fleet, cohort: str, themes: Mapping[Colour, str]) -> None:
    """A ``theme`` for every tenant of ``cohort`` in each colour's own parameters (the app
    answers 404 for a tenant with no settings on its colour)."""
    resources = fleet.cohorts[cohort]
    ssm = boto3.client("ssm", region_name=resources.region)
    for colour, theme in themes.items():
        for tenant in resources.tenants:
            ssm.put_parameter(Name=f"{resources.colour_prefix(colour)}/{tenant.id}/theme",
                              Type="String", Value=theme, Overwrite=True)
