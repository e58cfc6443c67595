"""Releases are ordered by semantic version precedence, as semver.org defines it."""

from __future__ import annotations

import pytest

from rollout.errors import BadInput
from rollout.vocabulary.versions import is_semver, newest_first, semver_key


def test_precedence_follows_semver_spec_example() -> None:
    ascending = ["1.0.0-alpha", "1.0.0-alpha.1", "1.0.0-alpha.beta", "1.0.0-beta",
                 "1.0.0-beta.2", "1.0.0-beta.11", "1.0.0-rc.1", "1.0.0", "1.2.0", "1.10.0",
                 "2.0.0"]

    assert newest_first(list(reversed(ascending[::2] + ascending[1::2]))) == ascending[::-1]


def test_build_metadata_does_not_change_precedence() -> None:
    assert semver_key("1.5.0+build.7") == semver_key("1.5.0")


@pytest.mark.parametrize("text", ["1.5", "01.2.3", "1.2.3-", "v1.2.3", "latest"])
def test_non_semver_is_bad_input(text: str) -> None:
    assert not is_semver(text)
    with pytest.raises(BadInput, match="not a semantic version"):
        semver_key(text)
