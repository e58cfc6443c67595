"""The two colours of a cohort: one serves while the other is prepared."""

from __future__ import annotations

from typing import Literal

Colour = Literal["blue", "green"]
COLOURS: tuple[Colour, Colour] = ("blue", "green")


def other_colour(colour: str) -> Colour:
    """The colour that is not ``colour``."""
    return "green" if colour == "blue" else "blue"
