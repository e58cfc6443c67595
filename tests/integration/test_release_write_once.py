"""Published releases are write-once: `rollout release publish` never replaces an object.

Every object the store writes carries ``If-None-Match: *``, so S3 itself (here the
moto server, over HTTP) refuses to write over a key that exists, whatever our own
checks saw a moment earlier; the release role's policy only grants ``PutObject``
for such requests. moto cannot evaluate IAM condition keys, so the policy's
conditions are checked as printed, and the behaviour against moto.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
from boto3.s3.transfer import TransferConfig
from botocore.exceptions import ClientError

from rollout.artefacts.notes import load_notes
from rollout.artefacts.store import MB, ArtefactStore
from rollout.discovery import SharedResources
from rollout.errors import Blocked
from rollout.stacks.role_policy import release_role_policy
from tests.cli_runner import rollout
from tests.conftest import Fleet
from tests.releases import (
    QuietProgress,
    artefact,
    manifest_in_s3,
    notes_for,
    object_versions,
    release_prefix,
)

pytestmark = pytest.mark.integration

SMALL_PARTS = TransferConfig(multipart_threshold=5 * MB, multipart_chunksize=5 * MB)


@pytest.fixture(scope="module")
def fleet(shared_only: Fleet) -> Fleet:
    return shared_only


def open_uploads(fleet: Fleet, prefix: str) -> list[str]:
    listed = fleet.clients.client("s3").list_multipart_uploads(
        Bucket=fleet.shared.artefact_bucket, Prefix=prefix)
    return [upload["Key"] for upload in listed.get("Uploads", [])]


def error_lines(err: str) -> list[str]:
    return [line for line in err.splitlines() if line.strip()]


def test_moto_refuses_conditional_writes_over_an_existing_key(fleet: Fleet) -> None:
    """What the tests below rely on: the server enforces If-None-Match like S3 does."""
    s3 = fleet.clients.client("s3")
    bucket, key = fleet.shared.artefact_bucket, f"{release_prefix(fleet, '0.0.1')}probe.bin"
    s3.put_object(Bucket=bucket, Key=key, Body=b"first", IfNoneMatch="*")
    before = object_versions(fleet, key)

    with pytest.raises(ClientError) as put:
        s3.put_object(Bucket=bucket, Key=key, Body=b"second", IfNoneMatch="*")
    upload = s3.create_multipart_upload(Bucket=bucket, Key=key)["UploadId"]
    part = s3.upload_part(Bucket=bucket, Key=key, UploadId=upload, PartNumber=1,
                          Body=os.urandom(5 * MB))
    with pytest.raises(ClientError) as complete:
        s3.complete_multipart_upload(
            Bucket=bucket, Key=key, UploadId=upload, IfNoneMatch="*",
            MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": part["ETag"]}]})
    s3.abort_multipart_upload(Bucket=bucket, Key=key, UploadId=upload)

    for refused in (put.value, complete.value):
        assert refused.response["Error"]["Code"] == "PreconditionFailed"
        assert refused.response["ResponseMetadata"]["HTTPStatusCode"] == 412
    assert object_versions(fleet, key) == before
    assert s3.get_object(Bucket=bucket, Key=key)["Body"].read() == b"first"


def test_publishing_1_5_0_again_with_other_bytes_is_refused_in_one_line(
        fleet: Fleet, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    notes = notes_for(tmp_path, "1.5.0")
    first = artefact(tmp_path / "first", "app.tar.gz", 50_000)
    assert rollout("release", "publish", "--version", "1.5.0", "--notes", str(notes),
                   str(first), fleet=fleet) == 0
    prefix = release_prefix(fleet, "1.5.0")
    before = object_versions(fleet, prefix)
    capsys.readouterr()

    again = artefact(tmp_path / "again", "app.tar.gz", 60_000)
    code = rollout("release", "publish", "--version", "1.5.0", "--notes", str(notes),
                   str(again), fleet=fleet)

    assert code == 2
    (line,) = error_lines(capsys.readouterr().err)
    assert "release 1.5.0" in line
    assert f"s3://{fleet.shared.artefact_bucket}/{prefix}manifest.json" in line
    assert "write-once" in line
    assert object_versions(fleet, prefix) == before
    assert rollout("release", "verify", "--version", "1.5.0", fleet=fleet) == 0


@pytest.mark.parametrize("size", [20_000, 6 * MB], ids=["single-request", "multipart"])
def test_a_racing_publisher_cannot_overwrite_the_release_published_meanwhile(
        fleet: Fleet, tmp_path: Path, capsys: pytest.CaptureFixture[str], size: int) -> None:
    """Our publisher checks, then another one publishes the same version, then we upload."""
    version = "1.5.1" if size < MB else "1.5.2"
    notes = notes_for(tmp_path, version)
    prefix = release_prefix(fleet, version)
    theirs = artefact(tmp_path / "theirs", "app.tar.gz", size)
    ours = artefact(tmp_path / "ours", "app.tar.gz", size)
    meanwhile: dict[str, Any] = {}

    class TheOtherPublisherGoesFirst(QuietProgress):
        def started(self, name: str, size: int) -> None:
            if not meanwhile:
                meanwhile["code"] = rollout("release", "publish", "--version", version,
                                            "--notes", str(notes), str(theirs), fleet=fleet)
                meanwhile["versions"] = object_versions(fleet, prefix)

    store = ArtefactStore.of(fleet.clients, fleet.shared, SMALL_PARTS)
    with pytest.raises(Blocked) as refused:
        store.publish(load_notes(notes, version), [ours], TheOtherPublisherGoesFirst())

    assert meanwhile["code"] == 0
    assert object_versions(fleet, prefix) == meanwhile["versions"]
    assert open_uploads(fleet, prefix) == []
    capsys.readouterr()
    assert rollout("release", "verify", "--version", version, fleet=fleet) == 0
    assert "all 1 files match the manifest" in capsys.readouterr().out
    message = str(refused.value)
    assert "\n" not in message
    assert f"s3://{fleet.shared.artefact_bucket}/{prefix}app.tar.gz" in message
    assert "write-once" in message


def test_leftovers_of_an_interrupted_publish_are_never_overwritten(
        fleet: Fleet, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    version = "1.6.0"
    notes = notes_for(tmp_path, version)
    prefix = release_prefix(fleet, version)
    bundle = artefact(tmp_path / "build", "app.tar.gz", 30_000)
    schema = artefact(tmp_path / "build", "schema.sql", 1_000)

    class Interrupted(Exception):
        pass

    class InterruptedBeforeTheSecondFile(QuietProgress):
        def started(self, name: str, size: int) -> None:
            if name == schema.name:
                raise Interrupted

    with pytest.raises(Interrupted):
        ArtefactStore.of(fleet.clients, fleet.shared).publish(
            load_notes(notes, version), [bundle, schema], InterruptedBeforeTheSecondFile())
    left = object_versions(fleet, prefix)
    assert [key for key, _, _ in left] == [f"{prefix}app.tar.gz"]
    rebuilt = artefact(tmp_path / "rebuilt", "app.tar.gz", 30_000)
    capsys.readouterr()

    code = rollout("release", "publish", "--version", version, "--notes", str(notes),
                   str(rebuilt), str(schema), fleet=fleet)

    assert code == 2
    (line,) = error_lines(capsys.readouterr().err)
    assert f"s3://{fleet.shared.artefact_bucket}/{prefix}app.tar.gz" in line
    assert "write-once" in line
    assert object_versions(fleet, prefix) == left

    assert rollout("release", "publish", "--version", version, "--notes", str(notes),
                   str(bundle), str(schema), fleet=fleet) == 0
    files = {f["name"]: f for f in manifest_in_s3(fleet, version)["files"]}
    assert files["app.tar.gz"]["version_id"] == left[0][1]
    assert len(object_versions(fleet, f"{prefix}app.tar.gz")) == 1
    assert rollout("release", "verify", "--version", version, fleet=fleet) == 0


def test_the_release_role_may_create_release_objects_but_never_replace_them() -> None:
    shared = SharedResources(
        app="billing", artefact_bucket="billing-artefacts", ledger_table="billing-ledger",
        notices_topic_arn="arn:aws:sns:eu-west-1:111122223333:billing-notices")
    printed = json.loads(json.dumps(release_role_policy(shared, "111122223333").as_aws()))
    statements = printed["Statement"]
    objects = ["arn:aws:s3:::billing-artefacts/releases/billing/*"]

    puts = [s for s in statements if "s3:PutObject" in s["Action"]]
    assert all(s["Action"] == ["s3:PutObject"] and s["Resource"] == objects for s in puts)
    assert sorted(json.dumps(s["Condition"], sort_keys=True) for s in puts) == [
        json.dumps({"Bool": {"s3:ObjectCreationOperation": ["false"]}}),
        json.dumps({"Null": {"s3:if-none-match": ["false"]}}),
    ]
    s3_actions = {a for s in statements for a in s["Action"] if a.startswith("s3:")}
    assert s3_actions == {"s3:ListBucket", "s3:GetObject", "s3:PutObject",
                          "s3:AbortMultipartUpload", "s3:DeleteObject"}
    deletes = [s for s in statements if "s3:DeleteObject" in s["Action"]]
    assert [s["Resource"] for s in deletes] == [objects]
