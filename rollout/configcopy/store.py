"""The protocol every settings store implements (SSM Parameter Store, Secrets Manager).

The copier sees only this: read a colour, add tags where they cost a call each,
re-read keys to verify, apply one planned write. Each store owns its boto3
client and turns its errors into :class:`WriteRefused` whose message never
quotes a value.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from typing import Protocol

from botocore.exceptions import BotoCoreError, ClientError

from rollout.configcopy.plan import Write
from rollout.configcopy.setting import Setting, StoreName


class WriteRefused(Exception):
    """A store refused one write; the message names the key and the error, never the value."""

    def __init__(self, key: str, reason: str) -> None:
        super().__init__(f"{key}: {reason}")
        self.key = key
        self.reason = reason


def safe_reason(exc: BotoCoreError | ClientError, secret: bool) -> str:
    """What went wrong, fit to print: AWS validation messages can quote the value sent."""
    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        code = error.get("Code", "error")
        if secret:
            return f"{code} (AWS's message withheld: it may quote the secret)"
        return f"{code}: {error.get('Message', '')}".rstrip(": ")
    return type(exc).__name__ if secret else str(exc)


class ConfigStore(Protocol):
    """Tenant settings of one cohort, one colour at a time."""

    name: StoreName

    def location(self, colour: str) -> str:
        """Where the colour's settings live (a path or a name prefix), for messages."""
        ...

    def read(self, colour: str, tenant: str | None) -> dict[str, Setting]:
        """Every setting of the colour (of one tenant), with metadata; tags may be missing."""
        ...

    def with_tags(self, colour: str, settings: Mapping[str, Setting],
                  keys: Collection[str]) -> dict[str, Setting]:
        """``settings`` with the tags of ``keys`` filled in."""
        ...

    def reread(self, colour: str, keys: Sequence[str]) -> dict[str, Setting]:
        """Type, value and stamp of ``keys`` as the store holds them now (absent: missing)."""
        ...

    def apply(self, colour: str, write: Write) -> None:
        """Carry out one write; :class:`WriteRefused` when the store says no."""
        ...
