"""`rollout release publish|verify` against a moto server over HTTP.

Only the shared stack (the artefact bucket) is deployed here: the store needs no
cohort. Where releases are in use is tested with a three-cohort fleet in
``test_artefacts_retention.py``.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import pytest
from boto3.s3.transfer import TransferConfig

from rollout.artefacts.notes import load_notes
from rollout.artefacts.store import MB
from tests.cli_runner import rollout
from tests.conftest import Fleet
from tests.releases import (
    QuietProgress,
    artefact,
    manifest_in_s3,
    notes_for,
    object_versions,
    store_of,
)

pytestmark = pytest.mark.integration



@pytest.fixture(scope="module")
def fleet(shared_only: Fleet) -> Fleet:
    return shared_only


def test_publish_writes_artefacts_and_manifest_then_verify_passes(
        fleet: Fleet, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bundle = artefact(tmp_path, "app.tar.gz", 300_000)
    schema = tmp_path / "schema.sql"
    schema.write_text("create table invoices (id int);\n")

    code = rollout("release", "publish", "--version", "2.0.0",
                   "--notes", str(notes_for(tmp_path, "2.0.0")), str(bundle), str(schema),
                   "--json", fleet=fleet)

    assert code == 0
    printed = json.loads(capsys.readouterr().out)
    manifest = manifest_in_s3(fleet, "2.0.0")
    assert printed["files"] == manifest["files"]
    files = {f["name"]: f for f in manifest["files"]}
    assert files["app.tar.gz"]["sha256"] == hashlib.sha256(bundle.read_bytes()).hexdigest()
    assert files["schema.sql"]["size"] == schema.stat().st_size
    s3 = fleet.clients.client("s3")
    for entry in files.values():
        head = s3.head_object(Bucket=fleet.shared.artefact_bucket, Key=entry["key"])
        assert head["VersionId"] == entry["version_id"]
        assert entry["key"] == f"releases/{fleet.app}/2.0.0/{entry['name']}"
    assert manifest["notes"]["version"] == "2.0.0"
    assert manifest["notes"]["rollbackPlan"].startswith("Traffic moves back")
    identity = fleet.clients.client("sts").get_caller_identity()
    assert manifest["publisher"]["arn"] == identity["Arn"]

    assert rollout("release", "verify", "--version", "2.0.0", fleet=fleet) == 0
    out = capsys.readouterr().out
    assert "all 2 files match the manifest" in out
    assert "app.tar.gz" in out


def test_publishing_the_same_version_twice_exits_2_and_changes_nothing(
        fleet: Fleet, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    notes = notes_for(tmp_path, "2.1.0")
    first = artefact(tmp_path, "app.tar.gz", 50_000)
    assert rollout("release", "publish", "--version", "2.1.0", "--notes", str(notes),
                   str(first), fleet=fleet) == 0
    before = object_versions(fleet, f"releases/{fleet.app}/2.1.0/")
    capsys.readouterr()

    second = artefact(tmp_path / "again", "app.tar.gz", 60_000)
    code = rollout("release", "publish", "--version", "2.1.0", "--notes", str(notes),
                   str(second), fleet=fleet)

    assert code == 2
    assert "release 2.1.0" in capsys.readouterr().err
    assert object_versions(fleet, f"releases/{fleet.app}/2.1.0/") == before
    assert rollout("release", "verify", "--version", "2.1.0", fleet=fleet) == 0


def test_a_tampered_artefact_makes_verify_exit_1_naming_the_file(
        fleet: Fleet, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bundle = artefact(tmp_path, "app.tar.gz", 40_000)
    keep = artefact(tmp_path, "migrations.tar", 10_000)
    assert rollout("release", "publish", "--version", "2.2.0",
                   "--notes", str(notes_for(tmp_path, "2.2.0")), str(bundle), str(keep),
                   fleet=fleet) == 0
    fleet.clients.client("s3").put_object(
        Bucket=fleet.shared.artefact_bucket, Key=f"releases/{fleet.app}/2.2.0/app.tar.gz",
        Body=b"not what was published")
    capsys.readouterr()

    code = rollout("release", "verify", "--version", "2.2.0", fleet=fleet)

    assert code == 1
    captured = capsys.readouterr()
    assert "app.tar.gz does not match its manifest" in captured.err
    assert "was overwritten" in captured.err
    assert "migrations.tar" not in captured.err
    assert rollout("release", "verify", "--version", "2.2.0", "--json", fleet=fleet) == 1
    error = json.loads(capsys.readouterr().out)
    assert error["exit_code"] == 1
    assert "app.tar.gz" in error["error"]


def test_bad_input_exits_2_and_uploads_nothing(
        fleet: Fleet, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bundle = artefact(tmp_path, "app.tar.gz", 1_000)
    notes = notes_for(tmp_path, "2.3.0")
    without_risks = tmp_path / "no-risks.yaml"
    text = notes.read_text()
    without_risks.write_text(text[:text.index("risks:")] + text[text.index("timeframe:"):])

    assert rollout("release", "publish", "--version", "2.3.1", "--notes", str(notes),
                   str(bundle), fleet=fleet) == 2
    assert f"{notes}:4: version: the notes are for 2.3.0" in capsys.readouterr().err
    assert rollout("release", "publish", "--version", "2.3.0", "--notes",
                   str(without_risks), str(bundle), fleet=fleet) == 2
    assert "risks: Field required" in capsys.readouterr().err
    assert rollout("release", "publish", "--version", "2.3.0", "--notes", str(notes),
                   str(tmp_path / "missing.tar.gz"), fleet=fleet) == 2
    assert "missing.tar.gz: artefact not found" in capsys.readouterr().err
    assert object_versions(fleet, f"releases/{fleet.app}/2.3.0/") == []
    assert object_versions(fleet, f"releases/{fleet.app}/2.3.1/") == []


def test_verify_of_an_unpublished_version_exits_2(
        fleet: Fleet, capsys: pytest.CaptureFixture[str]) -> None:
    assert rollout("release", "verify", "--version", "9.9.9", fleet=fleet) == 2
    assert "release 9.9.9" in capsys.readouterr().err


def test_big_artefacts_upload_as_multipart_with_progress(fleet: Fleet, tmp_path: Path) -> None:
    big = tmp_path / "image.tar"
    with big.open("wb") as handle:
        for _ in range(11):
            handle.write(os.urandom(MB))
    small = artefact(tmp_path, "small.txt", 1_000)
    seen: dict[str, int] = {}

    class Recorder(QuietProgress):
        def started(self, name: str, size: int) -> None:
            seen[name] = 0

        def advanced(self, name: str, amount: int) -> None:
            seen[name] += amount

    store = store_of(fleet, TransferConfig(multipart_threshold=5 * MB,
                                           multipart_chunksize=5 * MB))
    manifest = store.publish(load_notes(notes_for(tmp_path, "3.0.0"), "3.0.0"), [big, small],
                             Recorder())

    head = fleet.clients.client("s3").head_object(
        Bucket=fleet.shared.artefact_bucket, Key=f"releases/{fleet.app}/3.0.0/image.tar")
    assert head["ETag"].strip('"').endswith("-3")
    by_name = {f.name: f for f in manifest.files}
    assert by_name["image.tar"].multipart_parts == 3
    assert by_name["small.txt"].multipart_parts is None
    assert seen == {"image.tar": 11 * MB, "small.txt": 1_000}
    assert store.verify("3.0.0").ok
