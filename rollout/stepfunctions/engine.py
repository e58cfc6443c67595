"""The AWS edge of the Step Functions engine: the workflow's role, its state machine, its
executions.

The state machine of a cohort runs one rollout at a time: its definition is the rollout's
plan compiled by :func:`rollout.stepfunctions.definition.compile_definition`, deployed
(created or updated) when a rollout starts, and acting as a role of its own whose policy
lists exactly the actions that definition uses
(:func:`rollout.vocabulary.workflow_actions.definition_actions`). An execution is named after
the release and cohort, so a second ``start`` finds the running one instead of starting
another.

The role is created with the cohort's permissions boundary
(:mod:`rollout.vocabulary.workflow_boundary`, provisioned by the cohort's stack): the cohort
role may create it and write its policy only so, and a role without it (made before the
boundary existed, or by hand) is refused rather than used.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from rollout.aws_clients import AwsClients
from rollout.aws_errors import AwsErrors, error_code
from rollout.discovery import CohortResources
from rollout.errors import Blocked, RolloutFailed
from rollout.vocabulary.resource_names import rollout_workflow, workflow_boundary, workflow_role
from rollout.vocabulary.workflow_actions import definition_actions
from rollout.vocabulary.workflow_boundary import boundary_arn

TRUST = {"Version": "2012-10-17", "Statement": [{
    "Effect": "Allow", "Principal": {"Service": "states.amazonaws.com"},
    "Action": "sts:AssumeRole"}]}
ROLE_POLICY = "rollout-workflow"
ROLE_VISIBLE_AFTER = 10.0
"""Seconds a new role may take before Step Functions accepts it (IAM is eventually consistent)."""


class WorkflowRoleUnbounded(Blocked, RolloutFailed):
    """The workflow role cannot be had with the cohort's permissions boundary (exit 3, as
    :class:`Blocked`): nothing is deployed or started. Also a :class:`RolloutFailed`, so a
    ``start`` that already recorded its hand-over aborts it and the next begins afresh."""


@dataclass(frozen=True)
class Execution:
    """One execution of a cohort's workflow, as Step Functions reports it."""

    arn: str
    name: str
    status: str
    error: str | None = None
    cause: str | None = None

    @property
    def running(self) -> bool:
        return self.status == "RUNNING"


def role_policy(definition: Mapping[str, Any]) -> dict[str, Any]:
    """The workflow role's policy: the definition's actions, no more.

    Resources are ``*`` because the definition names its resources itself and a
    Step Functions role is only ever used by this state machine; the actions are the
    least privilege (derived, not listed by hand), and the role's permissions boundary
    keeps every one of them to the cohort's own resources."""
    return {"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Action": definition_actions(dict(definition)), "Resource": "*"}]}


class WorkflowEngine:
    """Deploys and runs one cohort's rollout workflow."""

    def __init__(self, clients: AwsClients, cohort: CohortResources) -> None:
        self._clients = clients.for_region(cohort.region)
        self._cohort = cohort
        self.name = rollout_workflow(cohort.app, cohort.cohort)
        self._errors = AwsErrors.with_codes(
            "Step Functions", f"the rollout workflow of cohort {cohort.cohort}",
            ("InvalidDefinition", "InvalidArn", "InvalidName", "ValidationException"),
            "a definition the compiler made was refused: report it")

    @property
    def _sfn(self) -> Any:
        return self._clients.client("stepfunctions")

    def deploy(self, definition: Mapping[str, Any]) -> str:
        """Create or update the state machine (and its role); its ARN."""
        role = self._role(definition)
        text = json.dumps(definition)
        with self._errors.mapped("deploying the rollout workflow"):
            existing = self._find_state_machine()
            if existing is not None:
                self._sfn.update_state_machine(stateMachineArn=existing, definition=text,
                                               roleArn=role)
                return existing
            return str(self._create(text, role))

    def _create(self, definition: str, role: str) -> str:
        deadline = time.monotonic() + ROLE_VISIBLE_AFTER
        while True:
            try:
                made = self._sfn.create_state_machine(
                    name=self.name, definition=definition, roleArn=role, type="STANDARD",
                    tags=[{"key": "rollout:cohort", "value": self._cohort.cohort}])
                return str(made["stateMachineArn"])
            except ClientError as exc:
                if error_code(exc) != "InvalidRoleArn" or time.monotonic() > deadline:
                    raise
                time.sleep(1.0)

    def _find_state_machine(self) -> str | None:
        for page in self._sfn.get_paginator("list_state_machines").paginate():
            for machine in page["stateMachines"]:
                if machine["name"] == self.name:
                    return str(machine["stateMachineArn"])
        return None

    def _partition_and_account(self) -> tuple[str, str]:
        caller = str(self._clients.client("sts").get_caller_identity()["Arn"]).split(":")
        return caller[1], caller[4]

    def machine_arn(self) -> str:
        """The state machine's ARN: the deployed one's, else the one it will be given
        (``arn:<partition>:states:<region>:<account>:stateMachine:<name>``), so the ledger
        documents compiled before the deployment can name their execution."""
        with self._errors.mapped("looking for the rollout workflow"):
            existing = self._find_state_machine()
            if existing is not None:
                return existing
            partition, account = self._partition_and_account()
        region = self._sfn.meta.region_name
        return f"arn:{partition}:states:{region}:{account}:stateMachine:{self.name}"

    @staticmethod
    def execution_arn(machine_arn: str, name: str) -> str:
        """The ARN execution ``name`` of the state machine ``machine_arn`` has."""
        return machine_arn.replace(":stateMachine:", ":execution:", 1) + f":{name}"

    @property
    def _iam_errors(self) -> AwsErrors:
        return AwsErrors.with_codes("IAM", f"role {self._role_name}", (),
                                    "check the deploying identity")

    @property
    def _role_name(self) -> str:
        return workflow_role(self._cohort.app, self._cohort.cohort)

    def require_boundary(self) -> str:
        """The ARN of the cohort's permissions boundary, once it is known to exist and the
        workflow role, if there is one, to carry it; :class:`WorkflowRoleUnbounded`
        otherwise. Reads only, so ``start`` can ask before it writes anything."""
        return self._bounded_role()[0]

    def _bounded_role(self) -> tuple[str, str | None]:
        """The boundary's ARN and the existing role's (None when there is no role yet)."""
        iam = self._clients.client("iam")
        cohort, role = self._cohort.cohort, self._role_name
        policy = workflow_boundary(self._cohort.app, cohort)
        with self._iam_errors.mapped("reading the rollout workflow's role"):
            boundary = boundary_arn(*self._partition_and_account(), self._cohort.app, cohort)
            try:
                iam.get_policy(PolicyArn=boundary)
            except ClientError as exc:
                if error_code(exc) != "NoSuchEntity":
                    raise
                raise WorkflowRoleUnbounded(
                    f"the workflow role's permissions boundary {policy} is missing: run "
                    f"`rollout stacks up --cohort {cohort}` (or `pulumi up`) first") from None
            try:
                found = iam.get_role(RoleName=role)["Role"]
            except ClientError as exc:
                if error_code(exc) != "NoSuchEntity":
                    raise
                return boundary, None
        carried = found.get("PermissionsBoundary", {}).get("PermissionsBoundaryArn")
        if carried != boundary:
            raise WorkflowRoleUnbounded(
                f"the workflow role {role} exists without the permissions boundary {policy} "
                f"(it carries {carried or 'none'}): an administrator deletes the role (its "
                f"inline policy {ROLE_POLICY} first, if it has one; `aws iam delete-role "
                f"--role-name {role}`), then the next start creates it with the boundary")
        return boundary, str(found["Arn"])

    def _role(self, definition: Mapping[str, Any]) -> str:
        iam = self._clients.client("iam")
        boundary, arn = self._bounded_role()
        with self._iam_errors.mapped("creating the rollout workflow's role"):
            if arn is None:
                arn = str(iam.create_role(
                    RoleName=self._role_name, AssumeRolePolicyDocument=json.dumps(TRUST),
                    PermissionsBoundary=boundary)["Role"]["Arn"])
            iam.put_role_policy(RoleName=self._role_name, PolicyName=ROLE_POLICY,
                                PolicyDocument=json.dumps(role_policy(definition)))
        return arn

    def execution(self, name: str) -> Execution | None:
        """The execution called ``name``, whatever its status; None when there is none."""
        with self._errors.mapped("looking for the rollout workflow"):
            machine = self._find_state_machine()
        if machine is None:
            return None
        return self.describe(self.execution_arn(machine, name))

    def start(self, machine_arn: str, name: str, payload: Mapping[str, Any]) -> Execution:
        """Start execution ``name``; the running one, when a start already made it."""
        with self._errors.mapped("starting the rollout workflow"):
            try:
                made = self._sfn.start_execution(stateMachineArn=machine_arn, name=name,
                                                 input=json.dumps(payload))
            except ClientError as exc:
                if error_code(exc) != "ExecutionAlreadyExists":
                    raise
                found = self.execution(name)
                if found is None:
                    raise
                return found
        return Execution(str(made["executionArn"]), name, "RUNNING")

    def stop(self, execution_arn: str, cause: str) -> None:
        """Stop a running execution (an operator's stop; the command then routes back)."""
        with self._errors.mapped("stopping the rollout workflow"):
            try:
                self._sfn.stop_execution(executionArn=execution_arn, error="StoppedByOperator",
                                         cause=cause[:32_000])
            except ClientError as exc:
                if error_code(exc) != "ExecutionDoesNotExist":
                    raise

    def describe(self, execution_arn: str) -> Execution | None:
        """The execution at ``execution_arn``; None when Step Functions knows none."""
        try:
            found = self._sfn.describe_execution(executionArn=execution_arn)
        except ClientError as exc:
            if error_code(exc) in ("ExecutionDoesNotExist", "ResourceNotFoundException"):
                return None
            raise self._errors.failure("reading the workflow's execution", exc) from None
        except BotoCoreError as exc:
            raise self._errors.failure("reading the workflow's execution", exc) from None
        return Execution(str(found["executionArn"]), str(found["name"]), str(found["status"]),
                         found.get("error"), found.get("cause"))

    def approve(self, token: str) -> None:
        """Let a waiting execution go on (``rollout promote``); the :class:`ClientError` of
        a token nobody waits on any more is left to the caller to judge."""
        try:
            self._sfn.send_task_success(taskToken=token, output="{}")
        except BotoCoreError as exc:
            raise self._errors.failure("approving the workflow's waiting step", exc) from None
