"""How a message counts things, said one way everywhere: ``1 setting``, ``3 settings``,
``x failed (and 2 more files)``."""

from __future__ import annotations


def plural(count: int, noun: str) -> str:
    """``1 setting``, ``0 settings``, ``3 settings``."""
    return f"{count} {noun}{'' if count == 1 else 's'}"


def and_more(others: int, noun: str = "") -> str:
    """What follows the first of several things a message names: `` (and 2 more files)``,
    `` (and 1 more)``; nothing when there are no others."""
    if others <= 0:
        return ""
    named = f" {noun}{'' if others == 1 else 's'}" if noun else ""
    return f" (and {others} more{named})"
