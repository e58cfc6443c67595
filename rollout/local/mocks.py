"""Pulumi mocks that create every resource of the infra program in moto, for real.

``new_resource`` receives each registration with its engine (camelCase) inputs,
creates the resource through boto3 against ``AWS_ENDPOINT_URL`` and returns its
real id and outputs. Resources already recorded in the stack's local state are
reused, so running the program twice creates nothing twice.

State is written right after each resource is created, and only then: if the
process dies midway, what it created is remembered and reused by the next run
(only a death between a create call and its state write, one request long,
loses a resource, as with Pulumi's own pending operations). Reused resources
change nothing a crash could lose, so :mod:`rollout.local.program_run` writes
them once, at the end or on failure.
"""

from __future__ import annotations

import threading
from typing import Any, NoReturn

import pulumi

from rollout.aws_clients import AwsClients
from rollout.local.messages import LocalDeployError
from rollout.local.resources import Created, ResourceType, load_all
from rollout.local.state import LocalStateStore, ResourceRecord, StackState

SECRET_SIG_KEY = "4dabf18193072939515e22adb298388d"
SECRET_SIG_VALUE = "1b47061264138c4ac30d75fd1eb44270"
STACK_REFERENCE = "pulumi:pulumi:StackReference"
CALLER_IDENTITY = "aws:index/getCallerIdentity:getCallerIdentity"


def unwrap_secrets(value: Any) -> Any:
    """Replace Pulumi's wrapped secret values with their plain values."""
    if isinstance(value, dict):
        if value.get(SECRET_SIG_KEY) == SECRET_SIG_VALUE:
            return unwrap_secrets(value.get("value"))
        return {k: unwrap_secrets(v) for k, v in value.items()}
    if isinstance(value, list):
        return [unwrap_secrets(v) for v in value]
    return value


class MotoMocks(pulumi.runtime.Mocks):
    """The mock engine behind ``rollout local up``."""

    def __init__(self, clients: AwsClients, store: LocalStateStore, stack: str) -> None:
        self._clients = clients
        self._store = store
        self._stack = stack
        self._state = store.load(stack) or StackState()
        self._types = load_all()
        self._lock = threading.Lock()
        self.errors: list[str] = []
        self.created: list[str] = []
        self.reused: list[str] = []

    @property
    def state(self) -> StackState:
        return self._state

    def call(self, args: pulumi.runtime.MockCallArgs) -> dict[str, Any]:  # type: ignore[override]
        if args.token == CALLER_IDENTITY:
            who = self._clients.client("sts").get_caller_identity()
            return {"accountId": who["Account"], "arn": who["Arn"], "userId": who["UserId"],
                    "id": who["Account"]}
        self._fail(f"the local deployer does not support the function {args.token}")

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str, dict[str, Any]]:
        try:
            return self._new_resource(args)
        except LocalDeployError as exc:
            self._fail(str(exc))
        except Exception as exc:
            detail = " ".join(str(exc).split())
            self._fail(f"{args.typ} {args.name}: {type(exc).__name__}: {detail}")

    def _fail(self, message: str) -> NoReturn:
        self.errors.append(message)
        raise LocalDeployError(message)

    def _new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str, dict[str, Any]]:
        inputs = unwrap_secrets(args.inputs)
        if args.typ == STACK_REFERENCE:
            return args.name, self._stack_reference(args.name)
        if not args.custom:
            return "", inputs
        kind = self._types.get(args.typ)
        if kind is None:
            raise LocalDeployError(
                f"the local deployer does not support resource type {args.typ} "
                f"(resource {args.name!r}); supported: {', '.join(sorted(self._types))}")
        key = f"{args.typ}::{args.name}"
        with self._lock:
            record = self._state.resources.get(key)
            if record is None:
                created = kind.create(self._clients, args.name, inputs)
                record = ResourceRecord(id=created.id, inputs=inputs, outputs=created.outputs)
                self._state.resources[key] = record
                self.created.append(key)
                self._store.save(self._stack, self._state)
            else:
                updated = self._reconcile(key, kind, record, inputs)
                self._state.resources[key] = updated
                self.reused.append(key)
                if (updated.id, updated.outputs) != (record.id, record.outputs):
                    self._store.save(self._stack, self._state)
                record = updated
        return record.id, {**inputs, **record.outputs}

    def _reconcile(self, key: str, kind: ResourceType, record: ResourceRecord,
                   inputs: dict[str, Any]) -> ResourceRecord:
        """Apply what changed since the last run: tags in place, ignored changes kept out."""
        changed = {name for name in set(inputs) | set(record.inputs)
                   if inputs.get(name) != record.inputs.get(name)}
        changed -= kind.ignored_changes
        kept = {name: record.inputs[name] for name in kind.ignored_changes if name in record.inputs}
        existing = Created(record.id, record.outputs)
        if changed - {"tags"}:
            if kind.update is None:
                raise LocalDeployError(
                    f"{key}: the local deployer cannot change "
                    f"{', '.join(sorted(changed - {'tags'}))} in place; restart the moto "
                    "server to start from scratch")
            existing = kind.update(self._clients, existing, record.inputs, inputs)
        if "tags" in changed and kind.retag is not None:
            kind.retag(self._clients, existing, inputs.get("tags") or {})
        return ResourceRecord(id=existing.id, inputs={**inputs, **kept}, outputs=existing.outputs)

    def _stack_reference(self, name: str) -> dict[str, Any]:
        referenced = name.rsplit("/", 1)[-1]
        state = self._store.load(referenced)
        if state is None:
            raise LocalDeployError(
                f"stack reference {name!r}: the {referenced!r} stack is not deployed locally yet")
        return {"name": name, "outputs": state.outputs, "secretOutputNames": []}
