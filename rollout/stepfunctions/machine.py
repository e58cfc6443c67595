"""The pieces every compiled state is made of: the states collected so far, and a task's
error handling.

A task's failure is never left to end the execution as it pleases: every task state
carries a ``Catch`` (``States.ALL``) saying where it goes, most of them to the rollback
(:data:`ON_ERROR`), and a ``Retry`` on transient failures where repeating the call is
harmless. DynamoDB's refusal of a transaction is never retried: it is an answer the
definition reads (someone else took the event slot, or an operator stopped the rollout).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from rollout.vocabulary import workflow_paths as paths

State = dict[str, Any]

ON_ERROR = "Unexpected error: roll back"
"""Where any unexpected task failure outside the rollback goes."""
STOPPED = "Stopped by an operator"
"""Where a write refused by an operator's stop request ends: their command rolls back."""
ERROR_PATH = "$.error"

RETRY_TRANSIENT: list[dict[str, Any]] = [
    {"ErrorEquals": [paths.TRANSACTION_CANCELED], "MaxAttempts": 0},
    {"ErrorEquals": ["States.ALL"], "IntervalSeconds": 1, "MaxAttempts": 3, "BackoffRate": 2.0},
]


def catch_all(target: str, result_path: str | None = ERROR_PATH) -> list[dict[str, Any]]:
    """A ``Catch`` sending every error to ``target``, the error kept at ``result_path``."""
    return [{"ErrorEquals": ["States.ALL"], "ResultPath": result_path, "Next": target}]


@dataclass
class Machine:
    """The states of one definition, by name, in the order they were added."""

    states: dict[str, State] = field(default_factory=dict)

    def add(self, name: str, state: State) -> str:
        """Add ``state`` as ``name`` (names are unique); returns the name, to chain with."""
        if name in self.states:
            raise ValueError(f"two states named {name!r}")
        self.states[name] = state
        return name

    def task(self, name: str, resource: str, parameters: dict[str, Any], next_state: str, *,
             result_path: str | None = None, on_error: str = ON_ERROR,
             retry: bool = True, error_path: str = ERROR_PATH) -> str:
        """A task state whose failures go to ``on_error`` (retried first if ``retry``),
        the error kept at ``error_path``."""
        state: State = {"Type": "Task", "Resource": resource, "Parameters": parameters,
                        "ResultPath": result_path, "Next": next_state}
        if retry:
            state["Retry"] = RETRY_TRANSIENT
        state["Catch"] = catch_all(on_error, error_path)
        return self.add(name, state)

    def choice(self, name: str, rules: list[dict[str, Any]], default: str) -> str:
        return self.add(name, {"Type": "Choice", "Choices": rules, "Default": default})

    def pass_state(self, name: str, next_state: str, *, result: Any = None,
                   parameters: dict[str, Any] | None = None, result_path: str = "$") -> str:
        """A Pass state putting ``result`` (or ``parameters`` evaluated) at ``result_path``."""
        state: State = {"Type": "Pass", "ResultPath": result_path, "Next": next_state}
        if parameters is not None:
            state["Parameters"] = parameters
        else:
            state["Result"] = result
        return self.add(name, state)

    def wait(self, name: str, seconds: int, next_state: str) -> str:
        return self.add(name, {"Type": "Wait", "Seconds": seconds, "Next": next_state})


def present(path: str) -> dict[str, Any]:
    return {"Variable": path, "IsPresent": True}


def any_of(conditions: list[dict[str, Any]]) -> dict[str, Any]:
    """One Choice condition true when any of ``conditions`` is (``Or`` needs two or more)."""
    return conditions[0] if len(conditions) == 1 else {"Or": conditions}


def rule(condition: dict[str, Any], next_state: str) -> dict[str, Any]:
    return {**condition, "Next": next_state}
