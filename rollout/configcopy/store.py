"""The protocol every settings store implements (SSM Parameter Store, Secrets Manager).

The copier sees only this: read a colour, add tags where they cost a call each,
re-read keys to verify, apply one planned write. Each store owns its boto3
client and turns its errors into :class:`WriteRefused` or :class:`ReadFailed`,
whose messages never quote a value.

A setting a batch read reports it cannot return (``BatchGetSecretValue``'s
``Errors``, ``GetParameters``' ``InvalidParameters``) is never taken for an
absent one: a copy would drop it, a carry-back would delete it on the old
colour, a verification would count an unproven delete as done.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any, ClassVar, Protocol, TypeVar

from botocore.exceptions import BotoCoreError, ClientError

from rollout.configcopy.setting import Setting, StoreName
from rollout.configcopy.wire_log import watch_calls
from rollout.configcopy.writes import Write
from rollout.errors import RolloutFailed
from rollout.vocabulary.clock import as_utc
from rollout.vocabulary.counts import plural

if TYPE_CHECKING:
    from rollout.aws_clients import AwsClients
    from rollout.configcopy.parallel import Parallel
    from rollout.discovery import CohortResources

R = TypeVar("R")

SHOWN_UNREADABLE = 5
STORE_LABELS = {StoreName.SSM: "SSM Parameter Store", StoreName.SECRETS_MANAGER: "Secrets Manager"}


def stamp_time(value: datetime | None) -> str:
    """A modification time in one canonical form, whatever the local time zone."""
    return as_utc(value).isoformat() if value else ""


class WriteRefused(Exception):
    """A store refused one write; the message names the key and the error, never the value."""

    def __init__(self, key: str, reason: str) -> None:
        super().__init__(f"{key}: {reason}")
        self.key = key
        self.reason = reason


class ReadFailed(RolloutFailed):
    """Settings a store listed but would not hand over; names and AWS's error codes only.

    ``unreadable`` maps each key (``<tenant>/<key>``) to the error code AWS gave.
    A read raises it before anything is written; the copier turns a verification
    re-read's into :class:`~rollout.configcopy.copier.VerificationFailed`.
    """

    def __init__(self, store: StoreName, location: str, unreadable: Mapping[str, str],
                 cohort: str) -> None:
        self.store = store
        self.location = location
        self.unreadable = dict(sorted(unreadable.items()))
        self.cohort = cohort
        super().__init__(
            f"cannot read {plural(len(self.unreadable), 'setting')} in {STORE_LABELS[store]} under "
            f"{location} ({self.shown()}), "
            "so the run stopped and nothing was written: a setting that cannot be read is "
            "never taken for a deleted one. Make sure the rollout role may read and decrypt "
            f"them (their KMS key; `rollout iam-policy --cohort {cohort}`), then run the "
            "command again")

    def shown(self) -> str:
        """``tenant/key: Code`` for the first few unreadable keys."""
        keys = list(self.unreadable)
        more = (f" and {len(keys) - SHOWN_UNREADABLE} more"
                if len(keys) > SHOWN_UNREADABLE else "")
        return ", ".join(f"{key}: {self.unreadable[key]}"
                         for key in keys[:SHOWN_UNREADABLE]) + more


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
        """Every setting of the colour (of one tenant), with metadata; tags may be missing.

        :class:`ReadFailed` when a setting the listing names cannot be read.
        """
        ...

    def with_tags(self, colour: str, settings: Mapping[str, Setting],
                  keys: Collection[str]) -> dict[str, Setting]:
        """``settings`` with the tags of ``keys`` filled in."""
        ...

    def reread(self, colour: str, keys: Sequence[str]) -> dict[str, Setting]:
        """Type, value and stamp of ``keys`` as the store holds them now (absent: missing).

        A key is absent only when the store confirms it is gone; one it holds but
        cannot return raises :class:`ReadFailed`.
        """
        ...

    def apply(self, colour: str, write: Write) -> None:
        """Carry out one write; :class:`WriteRefused` when the store says no."""
        ...


class CohortStore:
    """What both stores share: one watched client a cohort, settings named
    ``<location>/<key>``, reads in parallel batches, and the rule that a read hands
    over every setting it was asked for or raises :class:`ReadFailed`."""

    name: StoreName
    service: ClassVar[str]
    """The boto3 client the store talks through."""
    only_secrets: ClassVar[bool] = False
    """Whether every value is a secret, whatever its kind says (AWS's messages withheld)."""

    def __init__(self, clients: AwsClients, cohort: CohortResources, runner: Parallel) -> None:
        self._client: Any = clients.client(self.service)
        watch_calls(self._client)
        self._cohort = cohort
        self._runner = runner

    def location(self, colour: str) -> str:
        raise NotImplementedError

    def _name(self, colour: str, key: str) -> str:
        return f"{self.location(colour)}/{key}"

    def _in_batches(self, stage: str, size: int, call: Callable[[list[str]], R],
                    names: Sequence[str]) -> list[R]:
        """``call`` on ``names`` cut into batches of ``size``, every batch in flight at once."""
        batches = [list(names[i:i + size]) for i in range(0, len(names), size)]
        return self._runner.map(stage, call, batches)

    def _by_key(self, colour: str, values: Mapping[str, dict[str, Any]],
                unreadable: Mapping[str, str],
                setting: Callable[[str, str, dict[str, Any]], Setting]) -> dict[str, Setting]:
        """``values`` (by full name) as settings by key, built by ``setting(key, name, raw)``;
        :class:`ReadFailed` naming each key in ``unreadable`` (full name → AWS's code)."""
        start = len(self.location(colour)) + 1
        if unreadable:
            raise ReadFailed(self.name, self.location(colour),
                             {name[start:]: code for name, code in unreadable.items()},
                             self._cohort.cohort)
        return {name[start:]: setting(name[start:], name, raw) for name, raw in values.items()}

    def apply(self, colour: str, write: Write) -> None:
        try:
            self._apply(self._name(colour, write.key), write)
        except (BotoCoreError, ClientError) as exc:
            secret = self.only_secrets or write.secret
            raise WriteRefused(write.key, safe_reason(exc, secret)) from None

    def _apply(self, name: str, write: Write) -> None:
        raise NotImplementedError
