"""AWS's errors as the toolkit's: one line saying what failed and what to do next.

Every router talks to one AWS service about one cohort's resources. When AWS
refuses, the user needs to know whether their settings name something wrong
(:class:`BadInput`, exit 2: fix the settings or redeploy) or the call failed
for another reason (:class:`RolloutFailed`, exit 1: throttled, denied, down),
and which call it was. botocore's own errors (no connection, no credentials)
are failures too: nothing here lets a raw botocore exception reach the user.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from botocore.exceptions import BotoCoreError, ClientError

from rollout.errors import BadInput, RolloutFailed


def error_code(exc: ClientError) -> str:
    """The error code AWS answered with (``Unknown`` when it gave none)."""
    return str(exc.response.get("Error", {}).get("Code") or "Unknown")


def error_message(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Message") or "")


@dataclass(frozen=True)
class AwsErrors:
    """How one service's refusals about one subject read.

    ``service`` names the service as a user knows it (``Route 53``), ``subject``
    what was asked about (``the listener of cohort canary``); ``wrong_settings``
    says which error codes mean the subject does not exist or the settings are
    wrong, and ``fix`` what to do about it.
    """

    service: str
    subject: str
    wrong_settings: Callable[[str], bool]
    fix: str

    @classmethod
    def with_codes(cls, service: str, subject: str, codes: Collection[str],
                   fix: str) -> AwsErrors:
        """Wrong settings are exactly the error codes in ``codes``."""
        known = frozenset(codes)
        return cls(service, subject, known.__contains__, fix)

    def failure(self, doing: str, exc: ClientError | BotoCoreError) -> BadInput | RolloutFailed:
        """The error to raise for ``exc``, raised while ``doing``."""
        if isinstance(exc, BotoCoreError):
            return RolloutFailed(f"{doing} on {self.service} for {self.subject} failed: {exc}")
        code, message = error_code(exc), error_message(exc)
        if self.wrong_settings(code):
            return BadInput(f"{doing}: {self.service} rejected {self.subject}: {code}: "
                            f"{message} ({self.fix})")
        return RolloutFailed(f"{doing} on {self.service} for {self.subject} failed: "
                             f"{code}: {message}")

    @contextmanager
    def mapped(self, doing: str) -> Iterator[None]:
        """Run AWS calls; what AWS or botocore raises comes out as :meth:`failure`."""
        try:
            yield
        except (ClientError, BotoCoreError) as exc:
            raise self.failure(doing, exc) from None
