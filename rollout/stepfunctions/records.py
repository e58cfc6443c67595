"""The ledger writes of a compiled definition: one transaction per transition, its refusals
read, the notices and the waits for a human.

A transition writes, in one ``TransactWriteItems``: a check that the rollout's stop request
is absent, the ``STATE`` document, the event at the execution's next event slot and the
claim on the event's key (both only if new), as :class:`rollout.rollouts.ledger.Ledger`
does. When DynamoDB refuses it, the definition looks at what is there: the stop request
(an operator stopped the rollout: the execution ends, their command rolls back), the claim
(this transition is recorded already: go on), else another writer took the slot: the next
reserved slot is tried, as many times as there are slots.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from rollout.stepfunctions.machine import (
    RETRY_TRANSIENT,
    STOPPED,
    Machine,
    catch_all,
    present,
    rule,
)
from rollout.stepfunctions.spec import HaltPlacement, LedgerWrite, WorkflowSpec
from rollout.stepfunctions.templates import plain_or_formatted, string_value
from rollout.vocabulary import workflow_paths as paths
from rollout.vocabulary.ledger_keys import STATE_SK, event_key_sk

SLOTS_PATH = "$.slots"
LEDGER_PATH = "$.ledger"
FOUND_PATH = "$.found"


def initial_data(spec: WorkflowSpec) -> dict[str, Any]:
    """The execution's data at its start: the reserved event slots, the first one next."""
    return {"slots": {"seqs": [seq for seq, _ in spec.event_slots],
                      "sks": [sk for _, sk in spec.event_slots]},
            "ledger": {"i": 0}}


def _key(pk: str, sk: str) -> dict[str, Any]:
    return {"pk": {"S": pk}, "sk": {"S": sk}}


def transaction(spec: WorkflowSpec, write: LedgerWrite) -> dict[str, Any]:
    """The ``TransactWriteItems`` parameters of ``write``, at the slot in ``$.ledger``."""
    table, pk = spec.ledger_table, spec.ledger_pk
    only_if_new = "attribute_not_exists(pk)"
    event = string_value(write.event_doc)
    return {"TransactItems": [
        {"ConditionCheck": {"TableName": table, "Key": _key(pk, spec.stop_sk),
                            "ConditionExpression": only_if_new}},
        {"Put": {"TableName": table, "Item": {**_key(pk, STATE_SK),
                                              "doc": string_value(write.state_doc)}}},
        {"Put": {"TableName": table, "ConditionExpression": only_if_new, "Item": {
            "pk": {"S": pk}, "sk": {"S.$": f"{LEDGER_PATH}.sk"}, "doc": event}}},
        {"Put": {"TableName": table, "ConditionExpression": only_if_new, "Item": {
            **_key(pk, event_key_sk(write.event_key)), "doc": event}}},
    ]}


def halt_transaction(spec: WorkflowSpec, placement: HaltPlacement) -> dict[str, Any]:
    """The ``TransactWriteItems`` placing one halt: the item only if none stands at its
    key, its history entry with it."""
    only_if_new = "attribute_not_exists(pk)"
    return {"TransactItems": [
        {"Put": {"TableName": spec.ledger_table, "ConditionExpression": only_if_new,
                 "Item": {**_key(placement.pk, placement.sk),
                          "doc": string_value(placement.doc)}}},
        {"Put": {"TableName": spec.ledger_table, "ConditionExpression": only_if_new,
                 "Item": {"pk": {"S": placement.pk}, "sk": string_value(placement.history_sk),
                          "doc": string_value(placement.history_doc)}}}]}


def add_halt_placements(machine: Machine, spec: WorkflowSpec, write: LedgerWrite, prefix: str,
                        next_state: str) -> str:
    """Place ``write.halts_placed`` one by one, then go on to ``next_state``.

    A refusal is a halt standing already (it stays as it was); any other failure goes on
    too, after the retries, its error at ``$.halt_error``: the traffic is back already, and
    the execution ends as rolled back either way.
    """
    following = next_state
    for index, placement in reversed(list(enumerate(write.halts_placed))):
        following = machine.task(f"{prefix}: halt later wave {index + 1}", paths.TRANSACT_WRITE,
                                 halt_transaction(spec, placement), following,
                                 on_error=following, error_path="$.halt_error")
    return following


def get_item(spec: WorkflowSpec, pk: str, sk: str) -> dict[str, Any]:
    return {"TableName": spec.ledger_table, "Key": _key(pk, sk), "ConsistentRead": True}


@dataclass(frozen=True)
class Record:
    """Where one ledger write goes on: written (or found written), and on a failure."""

    name: str
    next_state: str
    on_error: str


def add_record(machine: Machine, spec: WorkflowSpec, write: LedgerWrite, where: Record) -> str:
    """The states writing ``write``; returns the first one's name.

    ``where.name`` is the transaction's own state; its helpers are named after it.
    """
    name = where.name
    used, slot, first = f"{name} (slot used)", f"{name} (take slot)", f"{name} (out of slots?)"
    refused = f"{name} (refused: stop?)"
    machine.choice(first, [rule({"Variable": f"{LEDGER_PATH}.i",
                                 "NumericGreaterThanEquals": len(spec.event_slots)},
                                where.on_error)], slot)
    machine.pass_state(slot, name, result_path=LEDGER_PATH, parameters={
        "i.$": f"{LEDGER_PATH}.i",
        "seq.$": f"States.ArrayGetItem({SLOTS_PATH}.seqs, {LEDGER_PATH}.i)",
        "sk.$": f"States.ArrayGetItem({SLOTS_PATH}.sks, {LEDGER_PATH}.i)"})
    machine.add(name, {
        "Type": "Task", "Resource": paths.TRANSACT_WRITE,
        "Parameters": transaction(spec, write), "ResultPath": None, "Next": used,
        "Retry": RETRY_TRANSIENT,
        "Catch": [{"ErrorEquals": [paths.TRANSACTION_CANCELED], "ResultPath": "$.refused",
                   "Next": refused}, *catch_all(where.on_error)]})
    machine.pass_state(used, where.next_state, result_path=LEDGER_PATH,
                       parameters={"i.$": f"States.MathAdd({LEDGER_PATH}.i, 1)"})
    _add_refusal(machine, spec, write, where, first)
    return first


def _add_refusal(machine: Machine, spec: WorkflowSpec, write: LedgerWrite, where: Record,
                 retry_from: str) -> None:
    """Read why the transaction was refused: stopped, recorded already, or slot taken."""
    name = where.name
    refused, stopped = f"{name} (refused: stop?)", f"{name} (stopped?)"
    claim, claimed = f"{name} (refused: claim?)", f"{name} (claimed?)"
    following = f"{name} (next slot)"
    machine.task(refused, paths.GET_ITEM, get_item(spec, spec.ledger_pk, spec.stop_sk),
                 stopped, result_path=FOUND_PATH, on_error=where.on_error)
    machine.choice(stopped, [rule(present(f"{FOUND_PATH}.{paths.ITEM}"), STOPPED)], claim)
    machine.task(claim, paths.GET_ITEM,
                 get_item(spec, spec.ledger_pk, event_key_sk(write.event_key)), claimed,
                 result_path=FOUND_PATH, on_error=where.on_error)
    machine.choice(claimed, [rule(present(f"{FOUND_PATH}.{paths.ITEM}"), where.next_state)],
                   following)
    machine.pass_state(following, retry_from, result_path=LEDGER_PATH,
                       parameters={"i.$": f"States.MathAdd({LEDGER_PATH}.i, 1)"})


def add_announce(machine: Machine, spec: WorkflowSpec, write: LedgerWrite, name: str,
                 next_state: str) -> str:
    """Publish ``write.announce`` on the notices topic, or go straight on without either.

    A notice is best effort: its failure goes on to ``next_state`` (a promotion is not
    rolled back because a notice could not be sent), after the usual retries.
    """
    if spec.notices_topic_arn is None or write.announce is None:
        return next_state
    machine.task(name, paths.PUBLISH, {"TopicArn": spec.notices_topic_arn,
                                       **plain_or_formatted("Message", write.announce)},
                 next_state, on_error=next_state, error_path="$.notice_error")
    return name


def add_wait_for_human(machine: Machine, spec: WorkflowSpec, name: str, step_index: int,
                       next_state: str, on_error: str) -> str:
    """Keep a task token in the ledger and wait until someone sends it back.

    ``SendTaskSuccess`` goes on to ``next_state``; ``SendTaskFailure`` (a human saying
    no) goes to ``on_error``, like any failure. Never retried: a retry would replace
    the token a human may be holding.
    """
    item = {**_key(spec.ledger_pk, spec.approval_item_sk),
            "token": {"S.$": "$$.Task.Token"}, "step": {"N": str(step_index)}}
    return machine.task(name, paths.PUT_ITEM_AND_WAIT,
                        {"TableName": spec.ledger_table, "Item": item}, next_state,
                        on_error=on_error, retry=False)
