"""The local deployer's state: which resource of which stack has which id, kept inside moto.

Keeping it in the moto server (an S3 object per stack) means state and resources
live and die together: restart the server and both start fresh.
"""

from __future__ import annotations

import json
from typing import Any

from pydantic import BaseModel, Field

from rollout.aws_clients import AwsClients

STATE_BUCKET = "rollout-local-engine-state"


class ResourceRecord(BaseModel):
    """One resource the local deployer created."""

    id: str
    inputs: dict[str, Any]
    outputs: dict[str, Any]


class StackState(BaseModel):
    """Everything the local deployer knows about one stack."""

    resources: dict[str, ResourceRecord] = Field(default_factory=dict)
    outputs: dict[str, Any] = Field(default_factory=dict)
    overrides: dict[str, Any] = Field(default_factory=dict)


class LocalStateStore:
    """Reads and writes one app's :class:`StackState` objects in the moto server's S3."""

    def __init__(self, clients: AwsClients, app: str) -> None:
        self._s3 = clients.client("s3")
        self._region = clients.region
        self._app = app
        self._bucket_exists = False

    @staticmethod
    def prefix(app: str) -> str:
        """The S3 key prefix of ``app``'s stacks in :data:`STATE_BUCKET`."""
        return f"stacks/{app}/"

    def key(self, stack: str) -> str:
        """The S3 key of ``stack``'s state in :data:`STATE_BUCKET`."""
        return f"{self.prefix(self._app)}{stack}.json"

    def _ensure_bucket(self) -> None:
        if self._bucket_exists:
            return
        try:
            self._s3.head_bucket(Bucket=STATE_BUCKET)
        except self._s3.exceptions.ClientError:
            # us-east-1 is S3's default location, the one it refuses to be told.
            where = ({} if self._region == "us-east-1" else
                     {"CreateBucketConfiguration": {"LocationConstraint": self._region}})
            self._s3.create_bucket(Bucket=STATE_BUCKET, **where)
        self._bucket_exists = True

    def load(self, stack: str) -> StackState | None:
        """The stack's state, or None when the local deployer never deployed it."""
        try:
            body = self._s3.get_object(Bucket=STATE_BUCKET, Key=self.key(stack))["Body"].read()
        except (self._s3.exceptions.NoSuchKey, self._s3.exceptions.NoSuchBucket):
            return None
        return StackState.model_validate_json(body)

    def save(self, stack: str, state: StackState) -> None:
        """Write the whole state of ``stack`` (one small object, one request)."""
        self._ensure_bucket()
        self._s3.put_object(Bucket=STATE_BUCKET, Key=self.key(stack),
                            Body=json.dumps(state.model_dump(), sort_keys=True).encode())

    def stacks(self) -> list[str]:
        """Names of the stacks the local deployer has deployed."""
        try:
            listed = self._s3.list_objects_v2(Bucket=STATE_BUCKET, Prefix=self.prefix(self._app))
        except self._s3.exceptions.NoSuchBucket:
            return []
        return sorted(obj["Key"].rsplit("/", 1)[1].removesuffix(".json")
                      for obj in listed.get("Contents", []))
