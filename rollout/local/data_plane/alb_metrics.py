"""Publish what the local listener served as ALB's ``AWS/ApplicationELB`` metrics.

The gates decide on CloudWatch's numbers, so a rehearsal's gates must see the
requests it really sent. Each request is recorded as it is answered; every second
(and on :meth:`AlbMetrics.flush`) the per-second buckets go to CloudWatch with the
names and dimensions the gates read (:mod:`rollout.gates.cloudwatch_stats`), at one
second resolution, stamped with the bucket's second, as ALB would.

Per colour, under its target group's dimensions (``TargetGroup`` and ``LoadBalancer``):

- ``RequestCount``: requests the listener chose a target for (not its own 503s, sent
  when a target group has no target), as a Sum;
- ``HTTPCode_Target_5XX_Count``: 5xx answers of the targets themselves, as a Sum;
- ``HTTPCode_ELB_5XX_Count``: 5xx answers of the listener itself (no target, target
  unreachable, timed out), as a Sum. ALB does not publish this one per target group:
  it is a deviation, kept so a rehearsal can tell which colour failed (no gate reads it);
- ``TargetResponseTime``: the seconds targets took to answer, as a distribution
  (``Values``/``Counts``, rounded to 0.1 ms, at most 150 distinct values per datum),
  so CloudWatch computes percentiles from it.

For the whole load balancer, under its ``LoadBalancer`` dimension alone, as ALB:

- ``RequestCount``: every request the listener chose a target for, whichever group it
  went to and however it ended (target answers, its own 502 and 504), as a Sum; like
  ALB's, it leaves out the 503s answered without a target;
- ``HTTPCode_ELB_5XX_Count``: every 5xx of the listener itself, those 503s included
  (also when the forward had no group to choose), as a Sum. This is what the
  ``lb-error-rate`` metric gate reads.

ALB publishes more under that dimension (``HTTPCode_Target_5XX_Count``,
``TargetResponseTime``, ...); no gate reads those, and they are not published here.
Like ALB, a zero count is not published. Per target group, requests on a group that is
no colour of the cohort are not published (the gates read colours only); they are in
the load balancer's totals.
"""

from __future__ import annotations

import threading
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from time import time
from types import TracebackType
from typing import Any

from rollout.aws_clients import AwsClients
from rollout.discovery import CohortResources
from rollout.gates.cloudwatch_stats import (
    ELB_ERRORS_5XX,
    ERRORS_5XX,
    NAMESPACE,
    REQUESTS,
    RESPONSE_TIME,
    elb_dimensions,
    load_balancer_dimensions,
)
from rollout.local.data_plane.background import Repeating

MAX_VALUES_PER_DATUM = 150
MAX_DATUMS_PER_CALL = 100
FLUSH_EVERY = 1.0
NO_TARGET = 503
"""The status ALB answers itself when a target group has no target to send to."""


@dataclass
class Bucket:
    """One second of one target group, or of the whole load balancer (whose buckets
    count requests and the listener's own 5xx only)."""

    requests: int = 0
    target_5xx: int = 0
    elb_5xx: int = 0
    times: Counter[float] = field(default_factory=Counter)

    def add(self, status: int, elb_error: bool, seconds: float) -> None:
        self.count(status, elb_error)
        if not elb_error:
            self.target_5xx += status >= 500
            self.times[round(max(seconds, 0.0), 4)] += 1

    def count(self, status: int, elb_error: bool) -> None:
        """The request and the listener's own 5xx only: the load balancer's totals."""
        if not (elb_error and status == NO_TARGET):
            self.requests += 1
        if elb_error:
            self.elb_5xx += status >= 500

    def merge(self, other: Bucket) -> None:
        self.requests += other.requests
        self.target_5xx += other.target_5xx
        self.elb_5xx += other.elb_5xx
        self.times.update(other.times)


WHOLE_BALANCER = ""
"""The key of the load balancer's own totals, in place of a target group ARN."""
Key = tuple[int, str]
"""(epoch second, target group ARN or :data:`WHOLE_BALANCER`)."""


class AlbMetrics:
    """Records one cohort's requests and publishes them as its ALB would."""

    def __init__(self, clients: AwsClients, cohort: CohortResources) -> None:
        self._cloudwatch = clients.for_region(cohort.region).client("cloudwatch")
        self._cohort = cohort
        self._colours = {arn: colour for colour, arn in cohort.target_group_arns.items()}
        self._buckets: dict[Key, Bucket] = {}
        self._lock = threading.Lock()
        self._loop = Repeating("alb-metrics", FLUSH_EVERY, self.flush)

    def record(self, target_group_arn: str | None, status: int, elb_error: bool,
               seconds: float) -> None:
        """One answered request: its group (None: the forward had none to choose), status,
        whether the listener itself answered (``elb_error``), and how long the target
        took. Counted for its group and in the load balancer's totals. Thread-safe."""
        second = int(time())
        with self._lock:
            if target_group_arn is not None:
                self._bucket((second, target_group_arn)).add(status, elb_error, seconds)
            self._bucket((second, WHOLE_BALANCER)).count(status, elb_error)

    def _bucket(self, key: Key) -> Bucket:
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = self._buckets[key] = Bucket()
        return bucket

    def flush(self) -> int:
        """Publish every bucket recorded so far; the number of datums sent.

        A failed call puts its buckets and the unsent ones back and raises, so the next
        flush sends them.
        """
        with self._lock:
            taken, self._buckets = self._buckets, {}
        calls = self._calls(taken)
        sent = 0
        for index, (_, data) in enumerate(calls):
            try:
                self._cloudwatch.put_metric_data(Namespace=NAMESPACE, MetricData=data)
            except Exception:
                self._put_back({key: taken[key] for later, _ in calls[index:] for key in later})
                raise
            sent += len(data)
        return sent

    def start(self) -> AlbMetrics:
        """Flush every second in a daemon thread until :meth:`stop`."""
        self._loop.start()
        return self

    def stop(self) -> None:
        """Stop the flusher and publish what is left."""
        self._loop.stop()
        self.flush()

    @property
    def last_error(self) -> Exception | None:
        """Why the latest background flush failed (its data is kept for the next), or None."""
        return self._loop.last_error

    def _put_back(self, buckets: dict[Key, Bucket]) -> None:
        with self._lock:
            for key, bucket in buckets.items():
                self._buckets.setdefault(key, Bucket()).merge(bucket)

    def _calls(self, buckets: dict[Key, Bucket]) -> list[tuple[list[Key], list[dict[str, Any]]]]:
        """The datums in calls of at most :data:`MAX_DATUMS_PER_CALL`, each bucket whole
        in one call, with the keys each call carries."""
        calls: list[tuple[list[Key], list[dict[str, Any]]]] = []
        for key, bucket in sorted(buckets.items()):
            at = datetime.fromtimestamp(key[0], UTC)
            colour = self._colours.get(key[1])
            if key[1] == WHOLE_BALANCER:
                data = balancer_datums(bucket, load_balancer_dimensions(self._cohort), at)
            elif colour is None:
                continue
            else:
                data = datums(bucket, elb_dimensions(self._cohort, colour), at)
            if not data:
                continue
            if not calls or len(calls[-1][1]) + len(data) > MAX_DATUMS_PER_CALL:
                calls.append(([], []))
            calls[-1][0].append(key)
            calls[-1][1].extend(data)
        return calls

    def __enter__(self) -> AlbMetrics:
        return self.start()

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        self.stop()


def _counts(counts: list[tuple[str, int]], common: dict[str, Any]) -> list[dict[str, Any]]:
    return [{"MetricName": name, "Value": float(count), "Unit": "Count", **common}
            for name, count in counts if count]


def balancer_datums(bucket: Bucket, dimensions: list[dict[str, str]],
                    at: datetime) -> list[dict[str, Any]]:
    """The load balancer's totals of one second: its requests and its own 5xx, as Sums."""
    common = {"Dimensions": dimensions, "Timestamp": at, "StorageResolution": 1}
    return _counts([(REQUESTS, bucket.requests), (ELB_ERRORS_5XX, bucket.elb_5xx)], common)


def datums(bucket: Bucket, dimensions: list[dict[str, str]],
           at: datetime) -> list[dict[str, Any]]:
    """One target group's bucket as ``MetricData``: counts above zero as Sums, response
    times as a distribution split into datums of at most 150 distinct values."""
    common = {"Dimensions": dimensions, "Timestamp": at, "StorageResolution": 1}
    found = _counts([(REQUESTS, bucket.requests), (ERRORS_5XX, bucket.target_5xx),
                     (ELB_ERRORS_5XX, bucket.elb_5xx)], common)
    times = sorted(bucket.times.items())
    for start in range(0, len(times), MAX_VALUES_PER_DATUM):
        chunk = times[start:start + MAX_VALUES_PER_DATUM]
        found.append({"MetricName": RESPONSE_TIME, "Unit": "Seconds", **common,
                      "Values": [value for value, _ in chunk],
                      "Counts": [float(count) for _, count in chunk]})
    return found
