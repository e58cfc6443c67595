"""The commands' hold on a rollout a Step Functions execution drives: stop it, approve it.

``rollout abort`` and ``rollout rollback`` stop the execution before their one write, so
no state of the workflow's can land after theirs; ``rollout promote`` reads the task token
the execution keeps in the ledger while it waits for a human and sends it back. This is
the :class:`rollout.rollouts.executor.WorkflowControl` the executor's hooks are given.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from botocore.exceptions import ClientError

from rollout.aws_clients import AwsClients
from rollout.aws_errors import error_code
from rollout.discovery import CohortResources
from rollout.errors import Blocked
from rollout.rollouts.state import RolloutState, Status
from rollout.stepfunctions.engine import WorkflowEngine
from rollout.vocabulary.ledger_keys import approval_sk, cohort_pk

GONE = ("TaskDoesNotExist", "TaskTimedOut", "InvalidToken")
"""What Step Functions answers a token nobody waits on any more."""


class StepFunctionsControl:
    """Stops and approves one cohort's workflow executions.

    ``clients`` are in the cohort's region (the state machine's), ``ledger_clients`` in
    the ledger table's.
    """

    def __init__(self, clients: AwsClients, ledger_clients: AwsClients,
                 cohort: CohortResources) -> None:
        self._engine = WorkflowEngine(clients, cohort)
        self._ledger_clients = ledger_clients
        self._cohort = cohort

    def stop(self, state: RolloutState, reason: str) -> None:
        if state.execution:
            self._engine.stop(state.execution, reason)

    def _waiting_item(self, state: RolloutState) -> dict[str, Any]:
        db = self._ledger_clients.client("dynamodb")
        item: dict[str, Any] | None = db.get_item(
            TableName=self._cohort.ledger_table, ConsistentRead=True,
            Key={"pk": {"S": cohort_pk(state.cohort)},
                 "sk": {"S": approval_sk(state.started_at)}}).get("Item")
        if state.status != Status.PAUSED or item is None:
            raise Blocked(f"the Step Functions execution of cohort {state.cohort} waits for "
                          f"nobody ({state.status.value}); `rollout status` shows where it is")
        return item

    def approve(self, state: RolloutState, record: Callable[[int], None]) -> None:
        item = self._waiting_item(state)
        token, step = item["token"]["S"], int(item["step"]["N"])
        record(step)
        try:
            self._engine.approve(token)
        except ClientError as exc:
            if error_code(exc) not in GONE:
                raise
            raise Blocked(f"the Step Functions execution of cohort {state.cohort} no longer "
                          f"waits for this approval ({error_code(exc)})") from None
        self._ledger_clients.client("dynamodb").delete_item(
            TableName=self._cohort.ledger_table,
            Key={"pk": {"S": cohort_pk(state.cohort)},
                 "sk": {"S": approval_sk(state.started_at)}},
            ConditionExpression="#token = :token", ExpressionAttributeNames={"#token": "token"},
            ExpressionAttributeValues={":token": {"S": token}})


__all__ = ["StepFunctionsControl"]
