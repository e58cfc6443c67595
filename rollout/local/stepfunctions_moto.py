"""What the embedded moto server needs to run the state machines ``rollout`` compiles.

moto 5.2 executes a state machine only when its ``stepfunctions.execute_state_machine``
option is on, and its SDK-integration tasks call back into the server on
``localhost:$MOTO_PORT``: :func:`executing` sets both for the life of a server.
:func:`install` makes the corrections a definition written for AWS needs:

* AWS names the ELBv2 integration ``elasticloadbalancingv2``
  (``arn:aws:states:::aws-sdk:elasticloadbalancingv2:modifyListener``); moto maps only
  ``elbv2`` to the boto3 client, so the AWS name is registered here;
* ``DescribeAlarms`` given both ``AlarmNames`` and ``StateValue`` answers every named
  alarm whatever its state (moto applies the first filter only); CloudWatch applies
  both, and the definitions' gates ask for the named alarms *in ALARM*;
* an intrinsic function is read as AWS reads it: its JSON string decoded first (moto
  hands the raw JSON text, escapes and all, to its intrinsic parser, so ``\\'`` ends
  the literal there), and ``States.Format`` turns the escapes ``\\{ \\} \\' \\\\``
  into the characters (moto keeps the backslashes and fails on an escaped brace). The
  ledger documents a definition writes are JSON built with ``States.Format``: without
  this, no document would arrive intact.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from rollout.stepfunctions.templates import INTRINSIC_ESCAPED

INSTALLED = "_rollout_filters_alarm_states"
AWS_TO_BOTO3 = {"elasticloadbalancingv2": "elbv2"}
"""aws-sdk integration names AWS uses that moto does not map to a boto3 client."""


def install() -> None:
    """Register AWS's integration names and the alarm-state filter in moto; idempotent."""
    from moto.cloudwatch.responses import CloudWatchResponse
    from moto.stepfunctions.parser.asl.component.state.exec.state_task.service import (
        state_task_service,
    )

    overrides: dict[str, str] = (
        state_task_service.StateTaskService._SERVICE_NAME_SFN_TO_BOTO_OVERRIDES)
    overrides.update(AWS_TO_BOTO3)
    if getattr(CloudWatchResponse, INSTALLED, False):
        return
    describe = CloudWatchResponse.describe_alarms

    def describe_alarms(self: Any) -> Any:
        result = describe(self)
        wanted = self._get_param("StateValue")
        answered: dict[str, Any] = result.result  # type: ignore[assignment]
        if wanted and self._get_param("AlarmNames"):
            for kind in ("MetricAlarms", "CompositeAlarms"):
                answered[kind] = [a for a in answered.get(kind, []) if a.state_value == wanted]
        return result

    CloudWatchResponse.describe_alarms = describe_alarms  # type: ignore[method-assign]
    _read_intrinsics_as_aws()
    setattr(CloudWatchResponse, INSTALLED, True)


def render_format(template: str, values: list[str]) -> str:
    """``States.Format`` as AWS evaluates it: each ``{}`` takes the next value, and a
    backslash before one of ``\\ ' { }`` stands for that character (moto's parser leaves
    the escapes in the literal; moto itself feeds it to ``str.format``)."""
    out: list[str] = []
    pending = iter(values)
    index = 0
    while index < len(template):
        pair = template[index:index + 2]
        if pair[:1] == "\\" and pair[1:] in INTRINSIC_ESCAPED:
            out.append(pair[1])
        elif pair == "{}":
            out.append(next(pending))
        else:
            out.append(template[index])
            index += 1
            continue
        index += 2
    return "".join(out)


def _read_intrinsics_as_aws() -> None:
    from moto.stepfunctions.parser.asl.component.common.string.string_expression import (
        StringIntrinsicFunction,
    )
    from moto.stepfunctions.parser.asl.component.intrinsic.function.statesfunction.generic.string_format import (  # noqa: E501
        StringFormat,
    )
    from moto.stepfunctions.parser.asl.parse.intrinsic.intrinsic_parser import IntrinsicParser
    from moto.stepfunctions.parser.asl.parse.preprocessor import Preprocessor

    def visit_intrinsic(self: Any, ctx: Any) -> Any:
        derivation = json.loads(ctx.STRINGINTRINSICFUNC().getText())
        function, _ = IntrinsicParser.parse(derivation)
        return StringIntrinsicFunction(intrinsic_function_derivation=derivation,
                                       function=function)

    def eval_body(self: Any, env: Any) -> None:
        self.argument_list.eval(env=env)
        template, *values = env.stack.pop()
        env.stack.append(render_format(template, [self._to_str_repr(v) for v in values]))

    Preprocessor.visitString_intrinsic_function = visit_intrinsic  # type: ignore[method-assign]
    StringFormat._eval_body = eval_body  # type: ignore[method-assign]


@contextmanager
def executing(port: int) -> Iterator[None]:
    """moto runs state machines, its tasks calling the server on ``port``, for the block.

    The in-process equivalent of ``POST /moto-api/config {"stepfunctions":
    {"execute_state_machine": true}}``; the option and ``MOTO_PORT`` are restored after.
    """
    from moto.core.config import default_user_config

    saved_config = default_user_config.get("stepfunctions", {})
    saved_port = os.environ.get("MOTO_PORT")
    default_user_config["stepfunctions"] = {"execute_state_machine": True}
    os.environ["MOTO_PORT"] = str(port)
    try:
        yield
    finally:
        default_user_config["stepfunctions"] = saved_config
        if saved_port is None:
            os.environ.pop("MOTO_PORT", None)
        else:
            os.environ["MOTO_PORT"] = saved_port
