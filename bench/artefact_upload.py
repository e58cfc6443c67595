"""Upload throughput of a 100 MB artefact: our transfer-manager path against one ``put_object``.

Both run in one process against the same embedded moto server, alternating, so
they see the same machine. Ours is :meth:`ArtefactStore.upload` (boto3's transfer
manager with the store's default :data:`DEFAULT_TRANSFER`: multipart above 8 MB,
8 parts in flight, each part retried on its own); the baseline sends the whole
file in a single ``PutObject`` request. The script prints MB/s for each and the
ratios. Moto runs in this process and over loopback, so this measures client
and server CPU, not network: it is a like-for-like comparison on this machine,
not a prediction of S3 throughput.

Run: ``.venv/bin/python bench/artefact_upload.py [--mb 100] [--rounds 3]``
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from rollout.artefacts.store import (
    DEFAULT_TRANSFER,
    MB,
    PART_SIZE,
    PARTS_IN_FLIGHT,
    ArtefactStore,
    Source,
)
from rollout.aws_clients import AwsClients
from rollout.local.server import embedded_moto

BUCKET = "bench-artefacts"


def write_artefact(path: Path, size_mb: int) -> None:
    with path.open("wb") as handle:
        for _ in range(size_mb):
            handle.write(os.urandom(MB))


def timed(action: Callable[[], object]) -> float:
    started = time.perf_counter()
    action()
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=int, default=100, help="artefact size in MB")
    parser.add_argument("--rounds", type=int, default=3, help="uploads per method")
    args = parser.parse_args()

    with embedded_moto(), tempfile.TemporaryDirectory() as scratch:
        clients = AwsClients()
        s3 = clients.client("s3")
        s3.create_bucket(Bucket=BUCKET,
                         CreateBucketConfiguration={"LocationConstraint": clients.region})
        s3.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"})
        artefact = Path(scratch) / "artefact.bin"
        write_artefact(artefact, args.mb)
        source = Source(artefact, artefact.name, artefact.stat().st_size)
        store = ArtefactStore(clients, BUCKET, "bench")

        def ours() -> None:
            store.upload(source, "bench/ours/artefact.bin")

        def transfer_only() -> None:
            s3.upload_file(str(artefact), BUCKET, "bench/transfer/artefact.bin",
                           Config=DEFAULT_TRANSFER)

        def single_put() -> None:
            with artefact.open("rb") as body:
                s3.put_object(Bucket=BUCKET, Key="bench/put/artefact.bin", Body=body)

        times: dict[str, list[float]] = {"ours": [], "transfer": [], "put_object": []}
        for _ in range(args.rounds):
            times["ours"].append(timed(ours))
            times["transfer"].append(timed(transfer_only))
            times["put_object"].append(timed(single_put))

        etag = s3.head_object(Bucket=BUCKET, Key="bench/ours/artefact.bin")["ETag"]
        size_mb = source.size / MB
        rates = {name: size_mb / statistics.median(runs) for name, runs in times.items()}
        print(f"artefact: {size_mb:.0f} MB, {args.rounds} rounds each, median shown, "
              f"moto server at {os.environ['AWS_ENDPOINT_URL']}")
        parts = etag.strip('"').rpartition("-")[2]
        print(f"ours: transfer manager, {PART_SIZE // MB} MB parts, {PARTS_IN_FLIGHT} in flight "
              f"({parts} parts)")
        print(f"  ours, upload only                 {rates['transfer']:8.1f} MB/s")
        print(f"  ours, as publish runs it (+sha256) {rates['ours']:7.1f} MB/s")
        print(f"  baseline: one put_object          {rates['put_object']:8.1f} MB/s")
        print(f"  ratio upload only / baseline:     {rates['transfer'] / rates['put_object']:.2f}x")
        print(f"  ratio publish path / baseline:    {rates['ours'] / rates['put_object']:.2f}x")


if __name__ == "__main__":
    main()
