"""Gate settings and gate decisions, without AWS.

Settings: every mistake is one line naming where (file:line when known) and which field.
Decisions: the verdict each gate reaches from the numbers alone; above all, too little
data is never a pass.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rollout.errors import BadInput
from rollout.gates.alarm import AlarmGate, AlarmState, judge_alarms
from rollout.gates.base import Verdict
from rollout.gates.cloudwatch_stats import (
    MetricWindow,
    TrafficStats,
    arn_suffix,
    load_balancer_stats,
)
from rollout.gates.load import load_gate, load_gates
from rollout.gates.manual import ManualGate, judge_approval
from rollout.gates.metric import METRICS, MetricGate, MetricSettings, judge_metric
from rollout.gates.sla import SlaGate, SlaSettings, judge_availability
from rollout.userfile import read_yaml
from tests.metrics_feed import response_time_distribution

# --- settings ----------------------------------------------------------------------------


def bad(raw: Any) -> str:
    with pytest.raises(BadInput) as caught:
        load_gates(raw)
    message = str(caught.value)
    assert "\n" not in message
    return message


def test_a_list_of_settings_builds_one_gate_per_entry_in_order() -> None:
    gates = load_gates([
        {"kind": "alarm", "alarms": ["api-5xx", "api-5xx", "queue-depth"]},
        {"kind": "metric", "metric": "latency-p99", "max_increase": "20%", "window": "2m"},
        {"kind": "sla", "target": 99.9, "name": "contract"},
        {"kind": "manual"},
    ])

    assert [type(gate) for gate in gates] == [AlarmGate, MetricGate, SlaGate, ManualGate]
    assert [gate.name for gate in gates] == [
        "alarm", "metric latency-p99", "contract", "manual approval"]
    alarm, metric = gates[0], gates[1]
    assert isinstance(alarm, AlarmGate) and alarm.settings.alarms == ["api-5xx", "queue-depth"]
    assert isinstance(metric, MetricGate) and metric.settings.window == 120
    assert [getattr(gate, "waits_for_human", None) for gate in gates] == [
        False, False, False, True]


def test_no_gates_is_an_empty_list() -> None:
    assert load_gates(None) == [] and load_gates([]) == []


def test_unknown_kind_names_the_field_and_the_known_kinds() -> None:
    message = bad([{"kind": "alarm", "alarms": ["a"]}, {"kind": "alarms", "alarms": ["a"]}])
    assert message.startswith("gate settings: gates.1.kind: unknown gate 'alarms' (known: ")
    assert all(kind in message for kind in ("alarm", "manual", "metric", "sla"))


def test_extra_field_is_refused_by_name() -> None:
    message = bad([{"kind": "metric", "metric": "error-rate", "max": 1, "threshold": 2}])
    assert message.startswith("gate settings: gates.0.threshold: Extra inputs are not permitted")


@pytest.mark.parametrize(("settings", "field", "problem"), [
    ({"kind": "metric", "metric": "error-rate", "max_increase": -0.5}, "max_increase",
     "must not be negative"),
    ({"kind": "metric", "metric": "error-rate", "max_increase": "-10%"}, "max_increase",
     "must not be negative"),
    ({"kind": "metric", "metric": "error-rate", "max": -1}, "max", "greater than or equal to 0"),
    ({"kind": "metric", "metric": "error-rate", "max": 1, "min_samples": 0}, "min_samples",
     "greater than or equal to 1"),
    ({"kind": "metric", "metric": "error-rate", "max_increase": "lots"}, "max_increase",
     "percentage like '20%'"),
    ({"kind": "metric", "metric": "error-rate", "max": 1, "window": "5 minutes"}, "window",
     "is not a duration"),
    ({"kind": "metric", "metric": "error-rate", "max": 1, "window": "0s"}, "window",
     "greater than 0"),
    ({"kind": "metric", "metric": "5xx", "max": 1}, "metric",
     "'error-rate', 'latency-p99' or 'lb-error-rate'"),
    ({"kind": "metric", "metric": "lb-error-rate", "max": 1, "max_increase": 0.5},
     "max_increase", "no old colour to compare with"),
    ({"kind": "metric", "metric": "lb-error-rate", "max": 1, "max_increase": "20%"},
     "max_increase", "set max only"),
    ({"kind": "sla", "target": 120}, "target", "less than 100"),
    ({"kind": "sla"}, "target", "Field required"),
    ({"kind": "alarm", "alarms": []}, "alarms", "at least 1 item"),
    ({"kind": "alarm", "alarms": [""]}, "alarms.0", "at least 1 character"),
    ({"kind": "manual", "cohort": "canary"}, "cohort", "Extra inputs are not permitted"),
])
def test_bad_setting_names_its_field(settings: dict[str, Any], field: str, problem: str) -> None:
    message = bad([settings])
    assert message.startswith(f"gate settings: gates.0.{field}: ")
    assert problem in message


def test_metric_gate_needs_a_threshold() -> None:
    message = bad([{"kind": "metric", "metric": "error-rate"}])
    assert "set max_increase (compared with the old colour) and/or max" in message


def test_the_load_balancer_error_rate_needs_a_maximum() -> None:
    message = bad([{"kind": "metric", "metric": "lb-error-rate"}])
    assert message.startswith("gate settings: gates.0: ")
    assert "lb-error-rate needs max" in message


@pytest.mark.parametrize(("raw", "expected"), [
    ([{"alarms": ["a"]}], "gate settings: gates.0.kind: missing (known kinds: "),
    (["alarm"], "gate settings: gates.0: a gate must be a mapping with a kind, got str"),
    ([{"kind": 3}], "gate settings: gates.0.kind: must be text, got 3"),
    ({"kind": "manual"}, "gate settings: gates: must be a list of gates, got dict"),
])
def test_malformed_entries_say_what_is_wrong(raw: Any, expected: str) -> None:
    assert bad(raw).startswith(expected)


def test_errors_in_a_file_point_at_the_line(tmp_path: Path) -> None:
    path = tmp_path / "steps.yaml"
    path.write_text("steps:\n"
                    "  - weight: 10\n"
                    "    gates:\n"
                    "      - kind: alarm\n"
                    "        alarms: [api-5xx]\n"
                    "      - kind: metric\n"
                    "        metric: error-rate\n"
                    "        max_increase: -1\n"
                    "  - weight: 100\n")
    data, lines = read_yaml(path)

    with pytest.raises(BadInput) as caught:
        load_gates(data["steps"][0]["gates"], source=str(path), lines=lines,
                   location=("steps", 0, "gates"))

    assert str(caught.value) == (f"{path}:8: steps.0.gates.1.max_increase: "
                                 "must not be negative, got -1")


def test_a_single_gate_loads_on_its_own() -> None:
    gate = load_gate({"kind": "sla", "target": 99.5})
    assert isinstance(gate, SlaGate) and gate.name == "sla 99.5%"


# --- metric decisions --------------------------------------------------------------------

SINCE = "10:02 UTC"


def metric(**settings: Any) -> MetricSettings:
    return MetricSettings.model_validate({"metric": "error-rate", "min_samples": 100, **settings})


def judge(settings: MetricSettings, new: TrafficStats, old: TrafficStats | None = None,
          ) -> tuple[Verdict, float | None, float | None, str]:
    result = judge_metric("g", settings, "green", new, "blue", old, SINCE)
    return result.verdict, result.observed, result.threshold, result.reason


def test_error_rate_within_absolute_increase_passes() -> None:
    verdict, observed, threshold, _ = judge(
        metric(max_increase=0.5), TrafficStats(1000, 6), TrafficStats(2000, 6))
    assert verdict is Verdict.PASS
    assert [observed, threshold] == pytest.approx([0.6, 0.8])


def test_error_rate_over_relative_increase_fails_with_the_numbers() -> None:
    verdict, observed, threshold, reason = judge(
        metric(max_increase="50%"), TrafficStats(1000, 10), TrafficStats(1000, 5))
    assert verdict is Verdict.FAIL
    assert [observed, threshold] == pytest.approx([1.0, 0.75])
    assert reason == ("error rate on green is 1.00% over 1000 requests since 10:02 UTC vs "
                      "0.50% on blue, more than the allowed +50% (at most 0.75%)")


def test_relative_increase_over_an_error_free_old_colour_allows_no_errors() -> None:
    verdict, *_ = judge(metric(max_increase="50%"), TrafficStats(1000, 1), TrafficStats(1000, 0))
    assert verdict is Verdict.FAIL


def test_maximum_fails_without_a_baseline_and_passes_below_it() -> None:
    assert judge(metric(max=2, max_increase=1), TrafficStats(100, 3))[0] is Verdict.FAIL
    assert judge(metric(max=2), TrafficStats(100, 2))[0] is Verdict.PASS


def test_comparison_without_a_baseline_is_inconclusive() -> None:
    verdict, _, _, reason = judge(metric(max=5, max_increase=1), TrafficStats(100, 1),
                                  TrafficStats(40, 0))
    assert verdict is Verdict.INCONCLUSIVE
    assert reason == ("only 40 requests on blue (the old colour) since 10:02 UTC, need 100 "
                      "to compare against")


def test_the_tighter_limit_is_reported_as_the_threshold() -> None:
    assert judge(metric(max=0.5, max_increase=1), TrafficStats(1000, 1),
                 TrafficStats(1000, 1))[2] == 0.5


def test_latency_uses_p99_and_says_when_it_is_only_an_upper_bound() -> None:
    settings = MetricSettings.model_validate({"metric": "latency-p99", "max": 300})
    exact = judge(settings, TrafficStats(500, 0, p99_ms=250))
    bound = judge(settings, TrafficStats(500, 0, p99_ms=350, p99_is_upper_bound=True))
    missing = judge(settings, TrafficStats(500, 0))

    assert exact[:3] == (Verdict.PASS, 250, 300)
    assert bound[0] is Verdict.FAIL and "upper bound" in bound[3]
    assert missing[0] is Verdict.INCONCLUSIVE and "no response time data" in missing[3]


@given(requests=st.integers(min_value=0, max_value=99), errors=st.integers(min_value=0),
       p99=st.floats(min_value=0, max_value=1e5))
def test_fewer_requests_than_min_samples_is_never_a_pass(
        requests: int, errors: int, p99: float) -> None:
    for name, kind in METRICS.items():
        compared = {} if kind.load_balancer else {"max_increase": 1e9}
        settings = MetricSettings.model_validate(
            {"metric": name, "max": 1e9, "min_samples": 100, **compared})
        new = TrafficStats(requests, min(errors, requests), p99_ms=p99)
        assert judge(settings, new, TrafficStats(10_000, 0, p99_ms=1.0))[0] is \
            Verdict.INCONCLUSIVE


@given(requests=st.integers(min_value=100, max_value=10**6), data=st.data())
def test_pass_means_every_configured_limit_held(requests: int, data: st.DataObject) -> None:
    errors = data.draw(st.integers(min_value=0, max_value=requests))
    old_errors = data.draw(st.integers(min_value=0, max_value=1000))
    ceiling = data.draw(st.floats(min_value=0, max_value=100))
    increase = data.draw(st.floats(min_value=0, max_value=100))
    verdict, observed, *_ = judge(metric(max=ceiling, max_increase=increase),
                                  TrafficStats(requests, errors), TrafficStats(1000, old_errors))
    rate = 100.0 * errors / requests
    within = rate <= ceiling and rate <= 100.0 * old_errors / 1000 + increase
    assert verdict is (Verdict.PASS if within else Verdict.FAIL)
    assert observed == pytest.approx(rate)


# --- the load balancer's own 5xx ---------------------------------------------------------

def lb_rate(**settings: Any) -> MetricSettings:
    return MetricSettings.model_validate(
        {"metric": "lb-error-rate", "min_samples": 100, "max": 1, **settings})


def test_the_load_balancer_s_own_5xx_above_the_maximum_fail_naming_them() -> None:
    verdict, observed, threshold, reason = judge(lb_rate(), TrafficStats(400, 10))
    assert verdict is Verdict.FAIL
    assert [observed, threshold] == pytest.approx([2.5, 1.0])
    assert reason == ("the load balancer's own 5xx answers (HTTPCode_ELB_5XX_Count) are "
                      "2.50% of 400 requests since 10:02 UTC, above the maximum 1.00%")


def test_the_load_balancer_s_own_5xx_within_the_maximum_pass_without_an_old_colour() -> None:
    verdict, observed, threshold, reason = judge(lb_rate(), TrafficStats(400, 4), None)
    assert (verdict, observed, threshold) == (Verdict.PASS, 1.0, 1.0)
    assert reason.endswith("are 1.00% of 400 requests since 10:02 UTC, within 1.00%")


@pytest.mark.parametrize(("stats", "said"), [
    (TrafficStats(0, 0), "no requests answered by the load balancer since 10:02 UTC, need 100"),
    (TrafficStats(99, 99), "only 99 requests answered by the load balancer since 10:02 UTC, "
                           "need 100"),
])
def test_too_few_load_balancer_requests_are_inconclusive(stats: TrafficStats,
                                                         said: str) -> None:
    assert judge(lb_rate(), stats)[0::3] == (Verdict.INCONCLUSIVE, said)


@pytest.mark.parametrize(("counted", "own_5xx", "expected"), [
    (400, 10, TrafficStats(400, 10)),
    (0, 0, TrafficStats(0, 0)),
    # 503s for a group with no target are not in RequestCount (no target was chosen):
    # the requests answered are at least the 5xx answered
    (0, 30, TrafficStats(30, 30)),
])
def test_load_balancer_answers_are_never_fewer_than_its_own_5xx(
        counted: float, own_5xx: float, expected: TrafficStats) -> None:
    assert load_balancer_stats(counted, own_5xx) == expected


@given(counted=st.integers(min_value=0, max_value=10**6),
       own_5xx=st.integers(min_value=0, max_value=10**6))
def test_the_load_balancer_error_rate_is_a_percentage(counted: int, own_5xx: int) -> None:
    rate = load_balancer_stats(counted, own_5xx).error_rate_percent
    if counted == own_5xx == 0:
        assert rate is None
    else:
        assert rate is not None and 0 <= rate <= 100


# --- sla decisions -----------------------------------------------------------------------

SLA = SlaSettings(target=99.9, min_samples=1000)


@pytest.mark.parametrize(("requests", "errors", "verdict"), [
    (10_000, 10, Verdict.PASS),   # exactly the whole budget
    (10_000, 11, Verdict.FAIL),
    (10_000, 0, Verdict.PASS),
    (999, 0, Verdict.INCONCLUSIVE),
    (0, 0, Verdict.INCONCLUSIVE),
])
def test_availability_against_target(requests: int, errors: int, verdict: Verdict) -> None:
    result = judge_availability("sla", SLA, "green", TrafficStats(requests, errors), SINCE)
    assert result.verdict is verdict
    if verdict is not Verdict.INCONCLUSIVE:
        assert result.threshold == 99.9
        assert result.observed == pytest.approx(100 * (requests - errors) / requests)


def test_failing_availability_never_prints_as_the_target() -> None:
    result = judge_availability("sla", SLA, "green", TrafficStats(1_000_000, 1001), SINCE)
    assert result.verdict is Verdict.FAIL
    assert result.reason == ("availability on green is 99.899%, below the SLA target 99.9% "
                             "(1001 of 1000000 requests failed since 10:02 UTC, 100.1% of the "
                             "error budget)")


# --- alarm and manual decisions ----------------------------------------------------------

def test_alarm_verdicts_rank_alarm_over_missing_over_no_data() -> None:
    states = {"ok": AlarmState("ok", "OK"), "wait": AlarmState("wait", "INSUFFICIENT_DATA"),
              "hot": AlarmState("hot", "ALARM", "Threshold Crossed", "Latency", 0.9, 0.5)}
    hot = judge_alarms("alarm", ["ok", "wait", "gone", "hot"], states)
    gone = judge_alarms("alarm", ["ok", "wait", "gone"], states)
    wait = judge_alarms("alarm", ["ok", "wait"], states)
    fine = judge_alarms("alarm", ["ok"], states)

    assert (hot.verdict, hot.reason) == (Verdict.FAIL, "alarm hot is in ALARM: Threshold Crossed")
    assert (hot.metric, hot.observed, hot.threshold) == ("Latency", 0.9, 0.5)
    assert gone.verdict is Verdict.FAIL and "alarm gone does not exist" in gone.reason
    assert wait.verdict is Verdict.INCONCLUSIVE and "wait" in wait.reason
    assert fine.verdict is Verdict.PASS


def test_manual_approval() -> None:
    assert judge_approval("manual", "wave1", True).verdict is Verdict.PASS
    waiting = judge_approval("manual", "wave1", False)
    assert waiting.verdict is Verdict.INCONCLUSIVE
    assert waiting.reason == "waiting for approval: run `rollout promote --cohort wave1`"


# --- CloudWatch query shapes -------------------------------------------------------------

def test_arn_suffixes_are_cloudwatch_dimension_values() -> None:
    assert arn_suffix("arn:aws:elasticloadbalancing:eu-west-1:123456789012:"
                      "targetgroup/t1-canary-green/0123456789abcdef") == \
        "targetgroup/t1-canary-green/0123456789abcdef"
    assert arn_suffix("arn:aws:elasticloadbalancing:eu-west-1:123456789012:"
                      "loadbalancer/app/t1-canary/50dc6c495c0c9188") == \
        "app/t1-canary/50dc6c495c0c9188"


@given(seconds=st.integers(min_value=0, max_value=90 * 86400))
def test_one_period_covers_the_window_in_units_cloudwatch_accepts(seconds: int) -> None:
    end = datetime(2025, 3, 1, tzinfo=UTC)
    period = MetricWindow(end - timedelta(seconds=seconds), end).period_seconds()
    unit = 3600 if seconds > 63 * 86400 else 300 if seconds > 15 * 86400 else 60
    assert period % unit == 0
    assert seconds <= period < max(seconds, 1) + unit


def test_naive_times_are_taken_as_utc() -> None:
    window = MetricWindow.between(datetime(2025, 3, 1, 10, 2), datetime(2025, 3, 1, 10, 7))
    assert window.start.tzinfo is UTC and window.since_text == "10:02 UTC"
    assert MetricWindow.between(datetime(2025, 2, 28, 23, 0), datetime(2025, 3, 1, 1, 0)
                             ).since_text == "2025-02-28 23:00 UTC"


@given(requests=st.integers(min_value=1, max_value=10**6),
       p99_ms=st.floats(min_value=1, max_value=60_000))
def test_fed_response_times_have_the_requested_p99_and_maximum(
        requests: int, p99_ms: float) -> None:
    values, counts = response_time_distribution(requests, p99_ms)
    assert sum(counts) == requests
    rank = math.ceil(0.99 * requests)  # nearest-rank percentile
    cumulative = 0
    for value, count in zip(values, counts, strict=True):
        cumulative += count
        if cumulative >= rank:
            assert value * 1000 == pytest.approx(p99_ms)
            break
    assert max(values) * 1000 == pytest.approx(p99_ms)
