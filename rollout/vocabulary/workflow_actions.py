"""The IAM actions a compiled definition's tasks call, read from the definition itself.

The state machine's role is granted exactly these, so a definition that gains a task
gains its permission with it, and none is granted that no task uses. A task resource
names its service and API as Step Functions spells them
(``arn:aws:states:::aws-sdk:elasticloadbalancingv2:modifyListener``,
``arn:aws:states:::dynamodb:getItem``, ``….waitForTaskToken``); IAM spells them
``elasticloadbalancing:ModifyListener`` and ``dynamodb:GetItem``. DynamoDB has no IAM
action for a transaction: AWS authorises each of its items under the item's own action
(``ConditionCheckItem``, ``PutItem``...), so a ``TransactWriteItems`` task needs those.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

INTEGRATION_PREFIX = "arn:aws:states:::"
SDK = "aws-sdk:"
PATTERN_SUFFIXES = (".waitForTaskToken", ".sync:2", ".sync")
IAM_PREFIX = {"elasticloadbalancingv2": "elasticloadbalancing"}
"""Step Functions service names whose IAM service prefix differs."""
TRANSACTION_ITEMS = {"ConditionCheck": "dynamodb:ConditionCheckItem", "Put": "dynamodb:PutItem",
                     "Update": "dynamodb:UpdateItem", "Delete": "dynamodb:DeleteItem"}
TRANSACTIONS = {"dynamodb:TransactWriteItems"}


def iam_action(resource: str) -> str:
    """``service:Action`` for one task resource ARN of an AWS integration."""
    if not resource.startswith(INTEGRATION_PREFIX):
        raise ValueError(f"not an AWS service integration: {resource!r}")
    integration = resource.removeprefix(INTEGRATION_PREFIX).removeprefix(SDK)
    for suffix in PATTERN_SUFFIXES:
        integration = integration.removesuffix(suffix)
    service, _, api = integration.partition(":")
    if not service or not api:
        raise ValueError(f"no service and action in {resource!r}")
    return f"{IAM_PREFIX.get(service, service)}:{api[0].upper()}{api[1:]}"


def task_actions(state: dict[str, Any]) -> set[str]:
    """What one task state calls: its action, or a transaction's items' actions."""
    action = iam_action(state["Resource"])
    if action not in TRANSACTIONS:
        return {action}
    items = state.get("Parameters", {}).get("TransactItems", [])
    return {TRANSACTION_ITEMS[kind] for item in items for kind in item}


def tasks(states: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """Every task state, including those inside Parallel branches and Map iterators."""
    for state in states.values():
        if state.get("Type") == "Task":
            yield state
        for branch in state.get("Branches", []):
            yield from tasks(branch["States"])
        for key in ("Iterator", "ItemProcessor"):
            if key in state:
                yield from tasks(state[key]["States"])


def definition_actions(definition: dict[str, Any]) -> list[str]:
    """The IAM actions ``definition``'s tasks use, sorted, each once."""
    return sorted({action for state in tasks(definition["States"])
                   for action in task_actions(state)})
