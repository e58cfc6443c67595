"""The errors a user can act on, and the exit code each one means.

The CLI maps these to exit codes in one place (``rollout.cli``); everything
else raises them with a message that says what happened and what to do next.
"""

from __future__ import annotations


class RolloutError(Exception):
    """Base of every error the toolkit reports to a user."""

    exit_code = 1


class BadInput(RolloutError):
    """The user's input is wrong; nothing was written to AWS (exit 2)."""

    exit_code = 2


class Blocked(RolloutError):
    """A schedule, gate, lock or opt-out forbids the action right now (exit 3)."""

    exit_code = 3


class RolloutFailed(RolloutError):
    """The rollout failed or was rolled back (exit 1)."""

    exit_code = 1
