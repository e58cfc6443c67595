"""The artefact store in S3: publish a release once, verify it, list it, delete it.

Uploads go through boto3's transfer manager (``upload_file`` with a
:class:`~boto3.s3.transfer.TransferConfig`), so big files are sent as parallel
multipart uploads and retried part by part by botocore, never by a loop of ours.
Verification streams each object and recomputes its sha256, so a file of any
size is checked in constant memory.

Published releases are write-once, and S3 enforces it: every object ``publish``
writes (each ``PutObject`` and ``CompleteMultipartUpload``, the manifest too)
carries ``If-None-Match: *``, so S3 refuses (412) to replace a key that exists,
whatever our own checks saw a moment before; the release role may write an
object only that way. Deleting old releases (``prune``) leaves delete
markers: the bytes stay as noncurrent versions.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Collection, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from boto3.exceptions import S3UploadFailedError
from boto3.s3.transfer import TransferConfig
from botocore.exceptions import ClientError
from pydantic import BaseModel, ConfigDict

from rollout.artefacts.manifest import MANIFEST_NAME, ArtefactFile, Manifest, Publisher
from rollout.artefacts.progress import UploadProgress
from rollout.aws_clients import AwsClients
from rollout.discovery import SharedResources
from rollout.errors import BadInput, Blocked, RolloutFailed
from rollout.model.release import ReleaseNotes
from rollout.model.stack import ZipArtefact
from rollout.vocabulary.counts import and_more
from rollout.vocabulary.versions import is_semver, newest_first

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

MB = 1024 * 1024
READ_CHUNK = MB
DELETE_BATCH = 1000
PART_SIZE = 8 * MB
PARTS_IN_FLIGHT = 8
DEFAULT_TRANSFER = TransferConfig(multipart_threshold=PART_SIZE, multipart_chunksize=PART_SIZE,
                                  max_concurrency=PARTS_IN_FLIGHT, use_threads=True)
OBJECT_WRITES = ("before-parameter-build.s3.PutObject",
                 "before-parameter-build.s3.CompleteMultipartUpload")
"""The requests that create an object: the ones S3 lets carry ``If-None-Match``."""
REFUSED_WRITE = ("PreconditionFailed", "ConditionalRequestConflict")
"""S3's answers to a conditional write over an existing (or concurrently written) key."""


def sha256_of_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(READ_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _error_code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def _refused_write(exc: Exception) -> bool:
    """Whether ``exc`` is S3 refusing a conditional write, as a client call or ``upload_file``.

    ``upload_file`` replaces the client's error by an :class:`S3UploadFailedError`
    raised while handling it, so the refusal is that error's context.
    """
    cause = exc.__context__ if isinstance(exc, S3UploadFailedError) else exc
    return isinstance(cause, ClientError) and _error_code(cause) in REFUSED_WRITE


@dataclass(frozen=True)
class Served:
    """An object as S3 serves it now, hashed while it streamed."""

    sha256: str
    size: int
    version_id: str | None
    etag: str


@dataclass(frozen=True)
class Source:
    """A local file to publish under ``name``."""

    path: Path
    name: str
    size: int


def artefact_sources(paths: Sequence[Path]) -> list[Source]:
    """Check the files before anything is uploaded: they exist, are files, names unique."""
    if not paths:
        raise BadInput("no artefacts given: pass at least one file to publish")
    sources: list[Source] = []
    seen: dict[str, Path] = {}
    for path in paths:
        if not path.exists():
            raise BadInput(f"{path}: artefact not found")
        if not path.is_file():
            raise BadInput(f"{path}: artefact is not a regular file")
        if path.name == MANIFEST_NAME:
            raise BadInput(f"{path}: an artefact may not be called {MANIFEST_NAME}")
        if path.name in seen:
            raise BadInput(f"{path}: another artefact has the same name ({seen[path.name]})")
        seen[path.name] = path
        sources.append(Source(path, path.name, path.stat().st_size))
    return sources


class FileCheck(BaseModel):
    """Verification of one file: its recomputed sha256 against the manifest."""

    model_config = ConfigDict(frozen=True)

    name: str
    key: str
    expected_sha256: str
    actual_sha256: str | None
    published_version_id: str | None
    current_version_id: str | None
    problem: str | None = None

    @property
    def ok(self) -> bool:
        return self.problem is None


class VerifyReport(BaseModel):
    """Verification of a whole release."""

    model_config = ConfigDict(frozen=True)

    app: str
    version: str
    bucket: str
    files: list[FileCheck]

    @property
    def ok(self) -> bool:
        return all(check.ok for check in self.files)

    def raise_if_failed(self) -> None:
        """:class:`RolloutFailed` naming the first bad file (and how many more there are)."""
        bad = [check for check in self.files if not check.ok]
        if not bad:
            return
        more = and_more(len(bad) - 1, "file")
        raise RolloutFailed(
            f"release {self.version} of {self.app} failed verification: {bad[0].problem}{more}; "
            "do not deploy it: publish the fix as a new version")


class ArtefactStore:
    """One app's releases in the shared artefact bucket: ``releases/<app>/<version>/``."""

    def __init__(self, clients: AwsClients, bucket: str, app: str,
                 transfer: TransferConfig | None = None) -> None:
        self.clients = clients
        self.bucket = bucket
        self.app = app
        self.transfer = transfer or DEFAULT_TRANSFER
        self._s3: S3Client = cast("S3Client", clients.client("s3"))

    @classmethod
    def of(cls, clients: AwsClients, shared: SharedResources,
           transfer: TransferConfig | None = None) -> ArtefactStore:
        return cls(clients, shared.artefact_bucket, shared.app, transfer)

    # layout ------------------------------------------------------------
    @property
    def root(self) -> str:
        return f"releases/{self.app}/"

    def prefix(self, version: str) -> str:
        return f"{self.root}{version}/"

    def url(self, key: str) -> str:
        return f"s3://{self.bucket}/{key}"

    # reading -----------------------------------------------------------
    def manifest(self, version: str) -> Manifest | None:
        """The release's manifest, or None when ``version`` is not published."""
        try:
            body = self._s3.get_object(Bucket=self.bucket,
                                       Key=self.prefix(version) + MANIFEST_NAME)["Body"]
        except ClientError as exc:
            if _error_code(exc) in ("NoSuchKey", "404"):
                return None
            raise
        return Manifest.model_validate_json(body.read())

    def require(self, version: str) -> Manifest:
        """The release's manifest; :class:`BadInput` naming what is published if absent."""
        found = self.manifest(version)
        if found is None:
            published = ", ".join(self.versions()) or "none"
            raise BadInput(f"release {version} of {self.app} is not in the artefact store "
                           f"{self.url(self.root)} (published: {published})")
        return found

    def _version_prefixes(self) -> list[str]:
        pages = self._s3.get_paginator("list_objects_v2").paginate(
            Bucket=self.bucket, Prefix=self.root, Delimiter="/")
        names = [entry["Prefix"][len(self.root):].rstrip("/")
                 for page in pages for entry in page.get("CommonPrefixes", [])]
        return newest_first([name for name in names if is_semver(name)])

    def manifests(self) -> list[Manifest]:
        """Every published release, newest first (a folder without a manifest is not one)."""
        found = (self.manifest(version) for version in self._version_prefixes())
        return [manifest for manifest in found if manifest is not None]

    def versions(self) -> list[str]:
        return [manifest.version for manifest in self.manifests()]

    # publishing --------------------------------------------------------
    def publisher(self) -> Publisher:
        identity = self.clients.client("sts").get_caller_identity()
        return Publisher(arn=identity["Arn"], account=identity["Account"],
                         user_id=identity["UserId"])

    def publish(self, notes: ReleaseNotes, files: Sequence[Path],
                progress: UploadProgress | None = None, image: str | None = None) -> Manifest:
        """Upload ``files`` and the manifest of release ``notes.version``, replacing no object.

        ``image`` (pinned by digest) is recorded in the manifest: what an ecs colour runs.

        Refuses (:class:`BadInput`, nothing written) when the release exists, or
        when one of its keys holds other bytes (left by an interrupted publish):
        an object that already holds the very bytes of a file is kept as it is,
        so a publish interrupted midway can be run again. Every write is
        conditional, so an object that appears after these checks (a racing
        publisher) makes S3 refuse ours: :class:`Blocked`. The manifest goes
        last, so a crash leaves no release behind.
        """
        version = notes.version
        sources = artefact_sources(files)
        existing = self.manifest(version)
        if existing is not None:
            raise BadInput(
                f"release {version} of {self.app} is already published "
                f"({self.url(self.prefix(version) + MANIFEST_NAME)}, "
                f"{existing.created_at:%Y-%m-%d %H:%M} UTC by {existing.publisher.arn}); "
                "published releases are write-once: publish a new version")
        kept = self._already_uploaded(version, sources)
        publisher = self.publisher()
        manifest_key = self.prefix(version) + MANIFEST_NAME
        keys = [self.prefix(version) + source.name for source in sources]
        with self._write_once([*keys, manifest_key]):
            uploaded = [kept.get(source.name) or self._upload_once(version, source, key, progress)
                        for source, key in zip(sources, keys, strict=True)]
            manifest = Manifest(app=self.app, version=version, files=uploaded, notes=notes,
                                image=image, publisher=publisher)
            try:
                self._s3.put_object(
                    Bucket=self.bucket, Key=manifest_key,
                    Body=manifest.model_dump_json(indent=2, by_alias=True).encode(),
                    ContentType="application/json", IfNoneMatch="*")
            except ClientError as exc:
                if _refused_write(exc):
                    raise self._raced(version, manifest_key) from None
                raise
        return manifest

    def _already_uploaded(self, version: str, sources: Sequence[Source]) -> dict[str, ArtefactFile]:
        """The files of an unpublished ``version`` that S3 already holds, byte for byte.

        :class:`BadInput` naming the objects that hold other bytes: they are never
        replaced, so this version cannot be published with these files.
        """
        pages = self._s3.get_paginator("list_objects_v2").paginate(
            Bucket=self.bucket, Prefix=self.prefix(version))
        sizes = {item["Key"]: item["Size"] for page in pages for item in page.get("Contents", [])}
        kept: dict[str, ArtefactFile] = {}
        other: list[tuple[str, Path]] = []
        for source in sources:
            key = self.prefix(version) + source.name
            if key not in sizes:
                continue
            found = self._stream_sha256(key) if sizes[key] == source.size else None
            if found is not None and found.sha256 == sha256_of_file(source.path):
                kept[source.name] = ArtefactFile(
                    name=source.name, key=key, size=found.size, sha256=found.sha256,
                    version_id=found.version_id, etag=found.etag)
            else:
                other.append((key, source.path))
        if other:
            (key, path), others = other[0], and_more(len(other) - 1, "file")
            raise BadInput(
                f"release {version} of {self.app} is not published, but {self.url(key)} "
                f"already holds other bytes than {path}{others}, left by an interrupted "
                "publish; published releases are write-once, so it is never replaced: "
                "publish these files as a new version")
        return kept

    @contextmanager
    def _write_once(self, keys: Collection[str]) -> Iterator[None]:
        """Meanwhile, every request of this client that creates one of ``keys`` is conditional.

        The transfer manager passes no ``IfNoneMatch`` on (it is not among
        s3transfer's ``ALLOWED_UPLOAD_ARGS``), so the condition is added while
        botocore builds each ``PutObject`` and ``CompleteMultipartUpload``. The
        client is shared, hence only these keys of this bucket, only meanwhile.
        """
        wanted = frozenset(keys)

        def condition(params: dict[str, Any], **_: Any) -> None:
            if params.get("Bucket") == self.bucket and params.get("Key") in wanted:
                params["IfNoneMatch"] = "*"

        events = self._s3.meta.events
        for event in OBJECT_WRITES:
            events.register(event, condition)
        try:
            yield
        finally:
            for event in OBJECT_WRITES:
                events.unregister(event, condition)

    def _upload_once(self, version: str, source: Source, key: str,
                     progress: UploadProgress | None) -> ArtefactFile:
        try:
            return self.upload(source, key, progress)
        except (ClientError, S3UploadFailedError) as exc:
            if _refused_write(exc):
                raise self._raced(version, key) from None
            raise

    def _raced(self, version: str, key: str) -> Blocked:
        return Blocked(
            f"S3 refused to write {self.url(key)}: another publisher wrote it while this one "
            f"was publishing release {version} of {self.app}, and published releases are "
            f"write-once; run `rollout release verify --version {version}` and publish a new "
            "version")

    def upload(self, source: Source, key: str,
               progress: UploadProgress | None = None) -> ArtefactFile:
        """Upload one file with the transfer manager (multipart above the threshold).

        Unconditional by itself: :meth:`publish` uploads under :meth:`_write_once`.

        The sha256 is computed in a thread alongside the upload: hashlib releases
        the GIL, so hashing a big file costs little extra wall time.
        """
        with ThreadPoolExecutor(max_workers=1) as hasher:
            digest = hasher.submit(sha256_of_file, source.path)
            head = self._transfer(source, key, progress)
        return ArtefactFile(name=source.name, key=key, size=int(head["ContentLength"]),
                            sha256=digest.result(), version_id=head.get("VersionId"),
                            etag=head["ETag"].strip('"'))

    def _transfer(self, source: Source, key: str,
                  progress: UploadProgress | None) -> Any:
        if progress is not None:
            progress.started(source.name, source.size)

        def advanced(amount: int) -> None:
            if progress is not None:
                progress.advanced(source.name, amount)

        self._s3.upload_file(str(source.path), self.bucket, key, Config=self.transfer,
                             Callback=advanced)
        if progress is not None:
            progress.finished(source.name)
        return self._s3.head_object(Bucket=self.bucket, Key=key)

    def put_once(self, key: str, data: bytes, sha256: str) -> str:
        """Store ``data`` under ``key`` once (``If-None-Match``; S3 checks its bytes against
        ``sha256``), or find it there already; the object's version id. :class:`RolloutFailed`
        when the key holds other bytes. For objects named by their content, outside the
        release layout (the preferences page's zip)."""
        checksum = base64.b64encode(bytes.fromhex(sha256)).decode()
        try:
            made = self._s3.put_object(Bucket=self.bucket, Key=key, Body=data,
                                       IfNoneMatch="*", ChecksumSHA256=checksum)
            return str(made["VersionId"])
        except ClientError as exc:
            if not _refused_write(exc):
                raise
        served = self._stream_sha256(key)
        if served.sha256 != sha256:
            raise RolloutFailed(f"{self.url(key)} holds other bytes than its name says; "
                                "nothing was deployed")
        return str(served.version_id)

    # verifying ---------------------------------------------------------
    def _stream_sha256(self, key: str, version_id: str | None = None) -> Served:
        """Stream the object (the current one, or ``version_id``) and hash it as it comes."""
        found: Any = (self._s3.get_object(Bucket=self.bucket, Key=key) if version_id is None
                      else self._s3.get_object(Bucket=self.bucket, Key=key, VersionId=version_id))
        digest = hashlib.sha256()
        size = 0
        for chunk in found["Body"].iter_chunks(READ_CHUNK):
            digest.update(chunk)
            size += len(chunk)
        return Served(sha256=digest.hexdigest(), size=size, version_id=found.get("VersionId"),
                      etag=str(found["ETag"]).strip('"'))

    def check(self, artefact: ArtefactFile) -> FileCheck:
        """Recompute ``artefact``'s sha256 from the object S3 serves now."""
        base = {"name": artefact.name, "key": artefact.key,
                "expected_sha256": artefact.sha256, "published_version_id": artefact.version_id}
        try:
            served = self._stream_sha256(artefact.key)
        except ClientError as exc:
            if _error_code(exc) not in ("NoSuchKey", "404"):
                raise
            return FileCheck(**base, actual_sha256=None, current_version_id=None,
                             problem=f"{artefact.name} is missing ({self.url(artefact.key)})")
        actual, size, current = served.sha256, served.size, served.version_id
        problem = None
        if actual != artefact.sha256 or size != artefact.size:
            problem = (f"{artefact.name} does not match its manifest (sha256 {actual[:12]}…, "
                       f"{size} bytes; published {artefact.sha256[:12]}…, {artefact.size} bytes)")
            if artefact.version_id and current and current != artefact.version_id:
                problem += (f"; {self.url(artefact.key)} was overwritten: S3 version {current} "
                            f"replaced the published version {artefact.version_id}")
        return FileCheck(**base, actual_sha256=actual, current_version_id=current,
                         problem=problem)

    def check_zip(self, zipped: ZipArtefact) -> None:
        """:class:`RolloutFailed` unless the zip's object version still hashes to its sha256.

        The object version's bytes cannot change in S3, but the manifest that names
        them can be rewritten by an identity with more rights than the release role:
        a colour deploys only bytes that match the manifest it was resolved from.
        """
        where = f"{self.url(zipped.key)} (object version {zipped.object_version})"
        try:
            served = self._stream_sha256(zipped.key, zipped.object_version)
        except ClientError as exc:
            if _error_code(exc) not in ("NoSuchKey", "NoSuchVersion", "404"):
                raise
            raise RolloutFailed(f"{where} is gone from the artefact store; nothing was "
                                "deployed: publish the release as a new version") from None
        if served.sha256 != zipped.sha256:
            raise RolloutFailed(
                f"{where} has sha256 {served.sha256}, but the manifest says {zipped.sha256}; "
                "nothing was deployed: run `rollout release verify` and publish the fix as "
                "a new version")

    def verify(self, version: str) -> VerifyReport:
        """Check every file of release ``version``; :class:`BadInput` if it is not published."""
        manifest = self.require(version)
        return VerifyReport(app=self.app, version=version, bucket=self.bucket,
                            files=[self.check(artefact) for artefact in manifest.files])

    # deleting ----------------------------------------------------------
    def release_keys(self, version: str) -> list[str]:
        """Every key of release ``version``, its manifest last (absent when not published)."""
        pages = self._s3.get_paginator("list_objects_v2").paginate(
            Bucket=self.bucket, Prefix=self.prefix(version))
        keys = [item["Key"] for page in pages for item in page.get("Contents", [])]
        manifest_key = self.prefix(version) + MANIFEST_NAME
        return [key for key in keys if key != manifest_key] + (
            [manifest_key] if manifest_key in keys else [])

    def delete_release(self, version: str, keys: Sequence[str]) -> None:
        """Delete ``keys`` of release ``version``; its manifest alone, after everything else.

        The bucket is versioned, so this leaves delete markers: the bytes stay as
        noncurrent versions until the bucket's lifecycle rule expires them. A crash
        midway leaves the manifest, so the next prune finishes the job.
        """
        manifest_key = self.prefix(version) + MANIFEST_NAME
        ordered = [key for key in keys if key != manifest_key]
        batches = [ordered[start:start + DELETE_BATCH]
                   for start in range(0, len(ordered), DELETE_BATCH)]
        if manifest_key in keys:
            batches.append([manifest_key])
        for batch in batches:
            answer = self._s3.delete_objects(Bucket=self.bucket, Delete={
                "Objects": [{"Key": key} for key in batch], "Quiet": True})
            errors = answer.get("Errors", [])
            if errors:
                first = errors[0]
                raise RolloutFailed(f"could not delete {self.url(first.get('Key', '?'))}: "
                                    f"{first.get('Code')}: {first.get('Message')}; "
                                    "run the prune again")
