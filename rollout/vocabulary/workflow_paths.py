"""Every choice made so that one definition means the same on AWS and on moto, in one place.

The definitions are written for AWS; moto (5.2) runs them locally with the corrections
:mod:`rollout.local.stepfunctions_moto` installs. What remains different is avoided here
rather than bent around elsewhere:

* moto's JSONPath turns a path that goes *through* an array index (``$.MetricAlarms[0]
  .StateValue``) into a one-element list, where AWS yields the value (its fix for
  getmoto/moto#7825). A path that *ends* at an index is unwrapped on both, so every path
  here ends at an index or has none: "is any alarm in ALARM" is a ``DescribeAlarms``
  filtered by ``StateValue`` and ``IsPresent`` on the first alarm, never a look at a field
  of it; a metric's value is ``…MetricDataResults[0].Values[0]``, the only query returning
  data being the one the Choice reads.
* Whether a ledger item exists is ``IsPresent`` on ``$.…Item`` of a ``GetItem``: the same on
  both, and no condition expression's cancellation reasons to parse (AWS puts them in the
  error's cause text only).
* Service names are AWS's: ``elasticloadbalancingv2``, never moto's ``elbv2``.
* "Is it inside a freeze now" compares ``$$.State.EnteredTime`` with the freeze's ends as
  *strings* (``StringGreaterThanEquals`` / ``StringLessThan``), never as timestamps: AWS
  gives ``2026-03-02T09:05:00.192Z``, moto ``2026-03-02T09:05:00.192345+00:00`` (or no
  fraction at all), and moto's timestamp operators read neither (whole seconds only).
  Both are UTC, and a whole second written ``2026-03-02T09:05:00`` (:func:`compared_instant`)
  is a prefix of every moment inside it, so either sorts against it exactly as the moments
  do. A Wait's ``Timestamp`` is :func:`wait_instant`, whole seconds, the one form both read.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Final

SDK: Final = "arn:aws:states:::aws-sdk:"
MODIFY_LISTENER: Final = f"{SDK}elasticloadbalancingv2:modifyListener"
DESCRIBE_ALARMS: Final = f"{SDK}cloudwatch:describeAlarms"
GET_METRIC_DATA: Final = f"{SDK}cloudwatch:getMetricData"
TRANSACT_WRITE: Final = f"{SDK}dynamodb:transactWriteItems"
"""The optimized DynamoDB integration has no transactions (GetItem, PutItem, UpdateItem and
DeleteItem only): the ledger's writes go through the SDK integration."""
GET_ITEM: Final = "arn:aws:states:::dynamodb:getItem"
PUT_ITEM_AND_WAIT: Final = f"{SDK}dynamodb:putItem.waitForTaskToken"
"""The optimized DynamoDB integration supports request-response only; the SDK integration
supports ``.waitForTaskToken``."""
PUBLISH: Final = "arn:aws:states:::sns:publish"

TRANSACTION_CANCELED: Final = "DynamoDb.TransactionCanceledException"
"""How an SDK integration names DynamoDB's refusal: ``<Service>.<Exception>`` with the
service as AWS spells it in errors (``DynamoDb``)."""

ITEM: Final = "Item"
"""A ``GetItem`` result has this key only when the item exists."""
FIRING: Final = ("MetricAlarms[0]", "CompositeAlarms[0]")
"""Under a ``DescribeAlarms`` result filtered by ``StateValue: ALARM``: present when any
named alarm is in ALARM."""
METRIC_VALUE: Final = "MetricDataResults[0].Values[0]"
"""Under a ``GetMetricData`` result with one returned query: its value, when it has one."""

PATH_THROUGH_INDEX: Final = re.compile(r"^\$.*\[\d+\]\.[^\[\]]*$")
"""A reference path ending at a field of an array element: differs between moto and AWS."""

ENTERED_TIME: Final = "$$.State.EnteredTime"
"""When the state reading it was entered: "now" to a Choice."""


def compared_instant(moment: datetime) -> str:
    """``moment`` (whole seconds) as a string compared with :data:`ENTERED_TIME`."""
    return f"{moment.astimezone(UTC):%Y-%m-%dT%H:%M:%S}"


def wait_instant(moment: datetime) -> str:
    """``moment`` (whole seconds) as a Wait state's ``Timestamp``."""
    return f"{moment.astimezone(UTC):%Y-%m-%dT%H:%M:%S}Z"
