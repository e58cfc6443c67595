"""What every contract suite does to get its subjects: a setup per registered name, made
once per module on first use, and a failure naming the file when a name has none."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TypeVar

import pytest

SetupT = TypeVar("SetupT")


def lazy_setups(setups: Mapping[str, Callable[[pytest.TempPathFactory], SetupT]],
                tmp_path_factory: pytest.TempPathFactory, what: str,
                suite: str) -> Callable[[str], SetupT]:
    """``setup_of(name)``: ``setups[name]`` made once; a registered ``what`` without a setup
    fails the test, telling where to add one (``suite``)."""
    made: dict[str, SetupT] = {}

    def setup_of(name: str) -> SetupT:
        if name not in setups:
            pytest.fail(f"{what} {name!r} is registered but the contract suite cannot set it "
                        f"up: add a setup to {suite} SETUPS")
        if name not in made:
            made[name] = setups[name](tmp_path_factory)
        return made[name]

    return setup_of
