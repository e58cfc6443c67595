"""What a colour runs, from the release manifest to ``stacks up``, against moto over HTTP.

Releases are published with the CLI into the fleet's versioned artefact store; two
cohorts are added to the fleet's project, never deployed: ``lam`` (compute lambda)
and ``box`` (compute ecs). Their ``stacks up`` resolves the release and shows what it
deploys with ``--dry-run``; a release lacking the cohort's artefact, or whose zip no
longer matches the manifest, is refused before any deployer runs.
"""

from __future__ import annotations

import json
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from rollout.local.state import LocalStateStore
from rollout.stacks.outputs_record import recorded_outputs
from tests.cli_runner import rollout, rollout_output
from tests.conftest import Fleet, stack_yaml
from tests.fleet_reads import fleet_ledger, target_group_version
from tests.releases import artefact, manifest_in_s3, notes_for, object_versions, release_prefix

pytestmark = pytest.mark.integration

IMAGE = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/shop@sha256:" + "c0" * 32


def add_cohort(fleet: Fleet, cohort: str, compute: str) -> None:
    """A cohort stack config with ``compute`` (yaml under ``compute:``), not deployed."""
    text = stack_yaml(fleet.app, cohort, ["fir"], cidr_octet=40 + len(cohort))
    text += textwrap.indent(f"compute:\n{textwrap.indent(compute, '  ')}", " " * 4)
    (fleet.project_dir / f"Pulumi.{cohort}.yaml").write_text(text)


@pytest.fixture(scope="module")
def releases(fleet: Fleet, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """1.5.0 and 1.5.2 with app.zip, 1.6.0 with an image, 1.7.0 with no zip nor image."""
    folder = tmp_path_factory.mktemp("releases")
    add_cohort(fleet, "lam", "kind: lambda\n")
    add_cohort(fleet, "box", "kind: ecs\n")
    published = {"1.5.0": ["app.zip", "schema.sql"], "1.5.2": ["app.zip"],
                 "1.6.0": ["app.tar.gz"], "1.7.0": ["app.tar.gz"]}
    for version, names in published.items():
        files = [str(artefact(folder / version, name, 5_000)) for name in names]
        image = ["--image", IMAGE] if version == "1.6.0" else []
        assert rollout("release", "publish", "--version", version, "--notes",
                       str(notes_for(folder, version)), *image, *files, fleet=fleet) == 0
    yield folder


@pytest.fixture
def env(cli_env: Fleet, releases: Path) -> Fleet:
    return cli_env


def zip_entry(fleet: Fleet, version: str) -> dict[str, Any]:
    [entry] = [f for f in manifest_in_s3(fleet, version)["files"] if f["name"] == "app.zip"]
    return entry


def untouched(fleet: Fleet, cohort: str) -> dict[str, Any]:
    """What a deploy of ``cohort`` would have left: its local record, outputs and events."""
    return {"record": LocalStateStore(fleet.clients, fleet.app).load(cohort),
            "outputs": recorded_outputs(fleet_ledger(fleet), cohort),
            "events": len(fleet_ledger(fleet).events(cohort))}


def test_publish_records_the_image_digest(env: Fleet) -> None:
    assert manifest_in_s3(env, "1.6.0")["image"] == IMAGE
    assert manifest_in_s3(env, "1.5.0")["image"] is None


@pytest.mark.parametrize("image", ["shop:1.8.0", "shop"])
def test_an_image_tag_without_a_digest_is_refused_before_anything_is_uploaded(
        env: Fleet, releases: Path, image: str) -> None:
    bundle = artefact(releases / "1.8.0", "app.zip", 1_000)
    done = rollout_output("release", "publish", "--version", "1.8.0", "--notes",
                          str(notes_for(releases, "1.8.0")), "--image", image, str(bundle))
    assert done.code == 2
    assert f"--image {image!r} is not pinned by digest" in done.stderr
    assert object_versions(env, release_prefix(env, "1.8.0")) == []


def test_an_external_cohort_deploys_a_published_release_as_before(
        env: Fleet, capsys: pytest.CaptureFixture[str]) -> None:
    canary = env.cohorts["canary"]
    assert rollout("stacks", "up", "--cohort", "canary", "--version", "1.5.0", "--local") == 0
    assert capsys.readouterr().out.splitlines()[0] == "deploy 1.5.0 into green of canary (local)"
    assert target_group_version(env.clients, canary.target_group_arns["green"]) == "1.5.0"


def test_a_lambda_cohort_deploys_the_manifest_s_zip_object_version(
        env: Fleet, capsys: pytest.CaptureFixture[str]) -> None:
    entry = zip_entry(env, "1.5.0")
    before = untouched(env, "lam")
    assert rollout("stacks", "up", "--cohort", "lam", "--version", "1.5.0", "--local",
                   "--dry-run", "--json") == 0
    [deploy, _] = json.loads(capsys.readouterr().out)["steps"]
    assert deploy["zip"] == {"key": entry["key"], "objectVersion": entry["version_id"],
                             "sha256": entry["sha256"]}
    assert "image" not in deploy

    assert rollout("stacks", "up", "--cohort", "lam", "--version", "1.5.0", "--local",
                   "--dry-run") == 0
    line = capsys.readouterr().out.splitlines()[1]
    assert line == (f"would deploy 1.5.0 (app.zip object version {entry['version_id']}, "
                    f"sha256 {entry['sha256'][:12]}…) into green of lam (local)")
    assert untouched(env, "lam") == before


def test_an_ecs_cohort_deploys_the_manifest_s_image_digest(
        env: Fleet, capsys: pytest.CaptureFixture[str]) -> None:
    assert rollout("stacks", "up", "--cohort", "box", "--version", "1.6.0", "--local",
                   "--dry-run", "--json") == 0
    [deploy, _] = json.loads(capsys.readouterr().out)["steps"]
    assert deploy["image"] == IMAGE
    assert deploy["summary"] == f"deploy 1.6.0 (image {IMAGE}) into green of box (local)"


@pytest.mark.parametrize(("cohort", "version", "missing"), [
    ("lam", "1.7.0", "1.7.0 has no .zip for a lambda cohort (its files: app.tar.gz)"),
    ("box", "1.5.0", "1.5.0 has no image for an ecs cohort: publish a new version with --image"),
])
def test_a_release_without_the_cohort_s_artefact_exits_2_and_deploys_nothing(
        env: Fleet, cohort: str, version: str, missing: str) -> None:
    before = untouched(env, cohort)
    done = rollout_output("stacks", "up", "--cohort", cohort, "--version", version, "--local")
    assert done.code == 2
    assert missing in done.stderr
    assert untouched(env, cohort) == before


def test_a_zip_that_no_longer_matches_its_manifest_exits_1_and_deploys_nothing(
        env: Fleet) -> None:
    manifest = manifest_in_s3(env, "1.5.2")
    [entry] = manifest["files"]
    published = entry["sha256"]
    entry["sha256"] = "0" * 64
    env.clients.client("s3").put_object(
        Bucket=env.shared.artefact_bucket, Key=f"{release_prefix(env, '1.5.2')}manifest.json",
        Body=json.dumps(manifest).encode())
    before = untouched(env, "lam")

    done = rollout_output("stacks", "up", "--cohort", "lam", "--version", "1.5.2", "--local")

    assert done.code == 1
    assert entry["key"] in done.stderr and entry["version_id"] in done.stderr
    assert published in done.stderr and "0" * 64 in done.stderr
    assert "nothing was deployed" in done.stderr
    assert untouched(env, "lam") == before


def test_a_new_object_under_the_zip_s_key_does_not_change_what_1_5_0_deploys(
        env: Fleet, capsys: pytest.CaptureFixture[str]) -> None:
    entry = zip_entry(env, "1.5.0")
    replaced = env.clients.client("s3").put_object(
        Bucket=env.shared.artefact_bucket, Key=entry["key"], Body=b"an admin's other build")
    assert replaced["VersionId"] != entry["version_id"]

    assert rollout("stacks", "up", "--cohort", "lam", "--version", "1.5.0", "--local",
                   "--dry-run", "--json") == 0
    [deploy, _] = json.loads(capsys.readouterr().out)["steps"]
    assert deploy["zip"]["objectVersion"] == entry["version_id"]
    assert deploy["zip"]["sha256"] == entry["sha256"]

