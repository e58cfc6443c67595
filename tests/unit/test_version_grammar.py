"""One version grammar: what a command accepts is what retention can order, and back."""

from __future__ import annotations

import pytest

from rollout.errors import BadInput
from rollout.vocabulary.versions import checked_version, is_semver


@pytest.mark.parametrize(("version", "valid"), [
    ("1.5.0", True), ("0.0.1", True), ("1.5.0-rc.1", True), ("1.5.0-rc.1+b7", True),
    ("1.5.0+build.5", True), ("01.5.0", False), ("1.05.0", False), ("1.5", False),
    ("1.5.0-", False), ("1.5.0-rc..1", False), ("v1.5.0", False),
])
def test_commands_and_retention_agree_on_every_version(version: str, valid: bool) -> None:
    assert is_semver(version) is valid
    if valid:
        assert checked_version(version, "--release") == version
    else:
        with pytest.raises(BadInput, match="--release"):
            checked_version(version, "--release")

