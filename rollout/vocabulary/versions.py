"""The one version grammar (semver.org) and its precedence, so ``1.10.0`` sorts after ``1.9.0``.

Every version the toolkit reads (stack config, release notes, options, store listings)
is checked against :data:`VERSION_PATTERN`; retention and listings order releases by
:func:`semver_key`, never by text.
"""

from __future__ import annotations

import re
from functools import total_ordering
from typing import Annotated

from pydantic import AfterValidator

from rollout.errors import BadInput

VERSION_PATTERN = (
    r"^(?P<major>0|[1-9]\d*)\.(?P<minor>0|[1-9]\d*)\.(?P<patch>0|[1-9]\d*)"
    r"(?:-(?P<pre>(?:0|[1-9]\d*|\d*[A-Za-z-][0-9A-Za-z-]*)"
    r"(?:\.(?:0|[1-9]\d*|\d*[A-Za-z-][0-9A-Za-z-]*))*))?"
    r"(?:\+(?P<build>[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*))?$"
)
"""A semantic version (semver.org's own expression: no leading zero in a number, a
pre-release identifier included): the one grammar of every version the toolkit reads."""

_SEMVER = re.compile(VERSION_PATTERN)


def is_semver(version: str) -> bool:
    """Whether ``version`` is, whole, a semantic version (a trailing newline is not)."""
    return _SEMVER.fullmatch(version) is not None


def _is_version(value: str) -> str:
    if not is_semver(value):
        raise ValueError(f"{value!r} is not a version like 1.5.0 or 1.5.0-rc.1")
    return value


Version = Annotated[str, AfterValidator(_is_version)]


def checked_version(value: str, option: str) -> str:
    """``value`` when it is a version like 1.5.0; bad input naming ``option`` when not."""
    if not is_semver(value):
        raise BadInput(f"{option} {value!r} is not a version like 1.5.0")
    return value


@total_ordering
class _Identifier:
    """One pre-release identifier: numeric ones sort numerically and before alphanumeric."""

    __slots__ = ("number", "text")

    def __init__(self, text: str) -> None:
        self.text = text
        self.number = int(text) if text.isdigit() else None

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Identifier) and self.text == other.text

    def __hash__(self) -> int:
        return hash(self.text)

    def __lt__(self, other: _Identifier) -> bool:
        if self.number is not None and other.number is not None:
            return self.number < other.number
        if self.number is not None or other.number is not None:
            return self.number is not None
        return self.text < other.text


SemverKey = tuple[int, int, int, int, tuple[_Identifier, ...]]


def semver_key(version: str) -> SemverKey:
    """A sort key with semver precedence; build metadata is ignored, as semver says.

    A release sorts after its own pre-releases (``1.0.0-rc.1 < 1.0.0``).
    """
    match = _SEMVER.fullmatch(version)
    if match is None:
        raise BadInput(f"version {version!r} is not a semantic version like 1.5.0")
    pre = match.group("pre")
    identifiers = tuple(_Identifier(part) for part in pre.split(".")) if pre else ()
    return (int(match.group("major")), int(match.group("minor")), int(match.group("patch")),
            0 if pre else 1, identifiers)


def newest_first(versions: list[str]) -> list[str]:
    """``versions`` from newest to oldest by semver precedence (ties keep text order)."""
    return sorted(sorted(versions), key=semver_key, reverse=True)
