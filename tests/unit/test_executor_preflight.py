"""The copy before a rollout's first step refuses conflicts with the one rule and message.

``config copy`` and the preflight copy of ``start`` find the same conflicts; a person
must read the same line, and the same exit code, whichever of the two found them.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from rollout.configcopy.diff import compare
from rollout.configcopy.report import (
    ConflictsLeftAlone,
    CopyReport,
    conflicts_left_alone,
    item_from,
)
from rollout.configcopy.sealed import Sealed
from rollout.configcopy.setting import Kind, Setting, StoreName
from rollout.configcopy.writes import action_for
from rollout.rollouts.assembly import ConfigCopyCheck
from rollout.rollouts.state import RolloutState
from tests.rollout_doubles import THREE_STEPS

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def setting(key: str, value: str, version: str) -> Setting:
    return Setting(key=key, kind=Kind.STRING, value=Sealed(value), version=version,
                   modified="2025-01-01T00:00:00+00:00")


class ConflictingCopier:
    """A copier whose copy found one setting someone changed on the new colour."""

    def __init__(self) -> None:
        comparisons = compare({"aurora/locale": setting("aurora/locale", "en-GB", "1")},
                              {"aurora/locale": setting("aurora/locale", "fr-FR", "2")})
        self.report = CopyReport(cohort="canary", source="blue", target="green", items=[
            item_from(StoreName.SSM, c, action_for(c, False)) for c in comparisons])

    def copy(self, source: str, target: str) -> CopyReport:
        return self.report


def test_a_conflict_in_the_preflight_copy_is_refused_as_config_copy_refuses_it() -> None:
    copier = ConflictingCopier()
    check = ConfigCopyCheck(copier)  # type: ignore[arg-type]
    state = RolloutState(cohort="canary", release="1.5.0", old_version="1.4.2",
                         old_colour="blue", new_colour="green", strategy="linear",
                         steps=THREE_STEPS.steps, weights={"blue": 100, "green": 0},
                         started_at=T0, updated_at=T0,
                         versions={"blue": "1.4.2", "green": "1.5.0"}, last_known_good="1.4.2")
    expected = conflicts_left_alone(copier.report)
    assert expected is not None
    with pytest.raises(ConflictsLeftAlone) as refused:
        check.run(state)
    assert str(refused.value) == str(expected)
    assert refused.value.exit_code == 3
