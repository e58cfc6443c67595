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
from typing import Any

import pytest
from boto3.s3.transfer import TransferConfig

from rollout.artefacts.notes import load_notes
from rollout.artefacts.store import MB, ArtefactStore
from rollout.cli import run
from tests.conftest import Fleet, notes_for

pytestmark = pytest.mark.integration



@pytest.fixture(scope="module")
def fleet(shared_only: Fleet) -> Fleet:
    return shared_only


def artefact(tmp_path: Path, name: str, size: int) -> Path:
    path = tmp_path / name
    path.write_bytes(os.urandom(size))
    return path


def cli(fleet: Fleet, *args: str) -> int:
    return run(["--app", fleet.app, "--project-dir", str(fleet.project_dir), *args])


def store_of(fleet: Fleet, transfer: TransferConfig | None = None) -> ArtefactStore:
    return ArtefactStore.of(fleet.clients, fleet.shared, transfer)


def object_versions(fleet: Fleet, prefix: str) -> list[tuple[str, str, bool]]:
    listed = fleet.clients.client("s3").list_object_versions(
        Bucket=fleet.shared.artefact_bucket, Prefix=prefix)
    return sorted((v["Key"], v["VersionId"], v["IsLatest"]) for v in listed.get("Versions", []))


def manifest_in_s3(fleet: Fleet, version: str) -> dict[str, Any]:
    body = fleet.clients.client("s3").get_object(
        Bucket=fleet.shared.artefact_bucket,
        Key=f"releases/{fleet.app}/{version}/manifest.json")["Body"].read()
    parsed: dict[str, Any] = json.loads(body)
    return parsed


def test_publish_writes_artefacts_and_manifest_then_verify_passes(
        fleet: Fleet, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bundle = artefact(tmp_path, "app.tar.gz", 300_000)
    schema = tmp_path / "schema.sql"
    schema.write_text("create table invoices (id int);\n")

    code = cli(fleet, "release", "publish", "--version", "2.0.0",
               "--notes", str(notes_for(tmp_path, "2.0.0")), str(bundle), str(schema), "--json")

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

    assert cli(fleet, "release", "verify", "--version", "2.0.0") == 0
    out = capsys.readouterr().out
    assert "all 2 files match the manifest" in out
    assert "app.tar.gz" in out


def test_publishing_the_same_version_twice_exits_2_and_changes_nothing(
        fleet: Fleet, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    notes = notes_for(tmp_path, "2.1.0")
    first = artefact(tmp_path, "app.tar.gz", 50_000)
    assert cli(fleet, "release", "publish", "--version", "2.1.0", "--notes", str(notes),
               str(first)) == 0
    before = object_versions(fleet, f"releases/{fleet.app}/2.1.0/")
    capsys.readouterr()

    (tmp_path / "again").mkdir()
    second = artefact(tmp_path / "again", "app.tar.gz", 60_000)
    code = cli(fleet, "release", "publish", "--version", "2.1.0", "--notes", str(notes),
               str(second))

    assert code == 2
    assert "release 2.1.0" in capsys.readouterr().err
    assert object_versions(fleet, f"releases/{fleet.app}/2.1.0/") == before
    assert cli(fleet, "release", "verify", "--version", "2.1.0") == 0


def test_a_tampered_artefact_makes_verify_exit_1_naming_the_file(
        fleet: Fleet, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bundle = artefact(tmp_path, "app.tar.gz", 40_000)
    keep = artefact(tmp_path, "migrations.tar", 10_000)
    assert cli(fleet, "release", "publish", "--version", "2.2.0",
               "--notes", str(notes_for(tmp_path, "2.2.0")), str(bundle), str(keep)) == 0
    fleet.clients.client("s3").put_object(
        Bucket=fleet.shared.artefact_bucket, Key=f"releases/{fleet.app}/2.2.0/app.tar.gz",
        Body=b"not what was published")
    capsys.readouterr()

    code = cli(fleet, "release", "verify", "--version", "2.2.0")

    assert code == 1
    captured = capsys.readouterr()
    assert "app.tar.gz does not match its manifest" in captured.err
    assert "was overwritten" in captured.err
    assert "migrations.tar" not in captured.err
    assert cli(fleet, "release", "verify", "--version", "2.2.0", "--json") == 1
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

    assert cli(fleet, "release", "publish", "--version", "2.3.1", "--notes", str(notes),
               str(bundle)) == 2
    assert f"{notes}:4: version: the notes are for 2.3.0" in capsys.readouterr().err
    assert cli(fleet, "release", "publish", "--version", "2.3.0", "--notes",
               str(without_risks), str(bundle)) == 2
    assert "risks: Field required" in capsys.readouterr().err
    assert cli(fleet, "release", "publish", "--version", "2.3.0", "--notes", str(notes),
               str(tmp_path / "missing.tar.gz")) == 2
    assert "missing.tar.gz: artefact not found" in capsys.readouterr().err
    assert object_versions(fleet, f"releases/{fleet.app}/2.3.0/") == []
    assert object_versions(fleet, f"releases/{fleet.app}/2.3.1/") == []


def test_verify_of_an_unpublished_version_exits_2(
        fleet: Fleet, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli(fleet, "release", "verify", "--version", "9.9.9") == 2
    assert "release 9.9.9" in capsys.readouterr().err


def test_big_artefacts_upload_as_multipart_with_progress(fleet: Fleet, tmp_path: Path) -> None:
    big = tmp_path / "image.tar"
    with big.open("wb") as handle:
        for _ in range(11):
            handle.write(os.urandom(MB))
    small = artefact(tmp_path, "small.txt", 1_000)
    seen: dict[str, int] = {}

    class Recorder:
        def started(self, name: str, size: int) -> None:
            seen[name] = 0

        def advanced(self, name: str, amount: int) -> None:
            seen[name] += amount

        def finished(self, name: str) -> None:
            pass

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
