"""CloudWatch alarms as the alarm gate reads them: a load balancer's 5xx count, in a state
a test sets by hand (moto never evaluates an alarm's metric itself)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any


def put_5xx_alarm(cloudwatch: Any, name: str, *, threshold: float = 10, state: str = "OK",
                  reason: str = "healthy", reason_data: str | None = None) -> str:
    """An alarm on the target 5xx count, in ``state``; returns its name."""
    cloudwatch.put_metric_alarm(
        AlarmName=name, Namespace="AWS/ApplicationELB", MetricName="HTTPCode_Target_5XX_Count",
        Statistic="Sum", Period=60, EvaluationPeriods=1, Threshold=threshold,
        ComparisonOperator="GreaterThanThreshold")
    extra = {"StateReasonData": reason_data} if reason_data is not None else {}
    cloudwatch.set_alarm_state(AlarmName=name, StateValue=state, StateReason=reason, **extra)
    return name


@contextmanager
def firing(cloudwatch: Any, name: str, reason: str) -> Iterator[None]:
    """The alarm in ALARM for the block, and healthy again after it, whatever happens."""
    cloudwatch.set_alarm_state(AlarmName=name, StateValue="ALARM", StateReason=reason)
    try:
        yield
    finally:
        cloudwatch.set_alarm_state(AlarmName=name, StateValue="OK", StateReason="healthy")
