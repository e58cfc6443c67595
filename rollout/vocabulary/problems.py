"""How a problem pydantic found in what a user wrote is told: where, what, and how many more.

The same words whoever reads the file: the command line (``file:line: field: problem``)
and the Pulumi program (``tenant-rollout:stack.field: problem``).
"""

from __future__ import annotations

from pydantic import ValidationError

from rollout.vocabulary.counts import and_more


def first_problem(exc: ValidationError) -> tuple[tuple[str | int, ...], str]:
    """Where (the field's path, without pydantic's validator wrappers) and what the first
    problem pydantic found is."""
    first = exc.errors()[0]
    location = tuple(part for part in first["loc"] if not str(part).startswith("function-"))
    return location, first["msg"].removeprefix("Value error, ")


def more_problems(exc: ValidationError) -> str:
    """`` (and 2 more problems)`` after the first problem, when there are others."""
    return and_more(len(exc.errors()) - 1, "problem")
