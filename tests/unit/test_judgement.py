"""The judge gate's decisions from samples alone (no AWS), and its settings.

Each classification case states what a user should see (Pass, High, Low, NoData); the
test asks scipy itself whether the case's shift is significant at the gate's alpha, so
the table cannot quietly drift into cases that mean something else.
"""

from __future__ import annotations

import math
import statistics
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pydantic import ValidationError
from scipy.stats import mannwhitneyu

from rollout.errors import BadInput
from rollout.gates.cloudwatch_stats import MetricWindow
from rollout.gates.judge import JudgedMetric, JudgeGate, sample_period, samples_of
from rollout.gates.judgement import (
    Classification,
    Criteria,
    JudgementRules,
    MetricSamples,
    Outcome,
    Tolerance,
    classify,
    judge,
)
from rollout.gates.load import load_gate

RULES = JudgementRules(confidence=0.95, min_samples=50)
OLD = [100.0 + (i * 37 % 50) for i in range(60)]
"""60 samples spread evenly over 100..149 (median 124.5)."""
ALTERNATIVE = {"increase": "greater", "decrease": "less", "both": "two-sided"}


def shifted(by: float, samples: list[float] = OLD) -> list[float]:
    return [value + by for value in samples]


def metric(label: str, old: list[float], new: list[float], **criteria: Any) -> MetricSamples:
    return MetricSamples(label=label, criteria=Criteria.model_validate(criteria),
                         old=old, new=new, unit=" ms")


def passing(label: str, **criteria: Any) -> MetricSamples:
    return metric(label, OLD, list(reversed(OLD)), **criteria)


def high(label: str, **criteria: Any) -> MetricSamples:
    return metric(label, OLD, shifted(30), **criteria)


def no_data(label: str, **criteria: Any) -> MetricSamples:
    return metric(label, OLD[:10], OLD[:10], **criteria)


# --- classification ------------------------------------------------------------------

CASES = [
    # (case, shift of the new colour, direction, tolerance, classification)
    ("much slower is High", 30, "increase", 0, "High"),
    ("much faster is harmless when increase is bad", -30, "increase", 0, "Pass"),
    ("much lower is Low", -30, "decrease", 0, "Low"),
    ("much higher is harmless when decrease is bad", 30, "decrease", 0, "Pass"),
    ("higher is High when both are bad", 30, "both", 0, "High"),
    ("lower is Low when both are bad", -30, "both", 0, "Low"),
    ("a small rise is significant one-sided", 5, "increase", 0, "High"),
    ("the same small rise is not significant two-sided", 5, "both", 0, "Pass"),
    ("a tiny rise is not significant", 2, "increase", 0, "Pass"),
    ("a significant rise within a relative tolerance", 30, "increase", "25%", "Pass"),
    ("a significant rise beyond a relative tolerance", 30, "increase", "20%", "High"),
    ("a significant rise within an absolute tolerance", 30, "increase", 30, "Pass"),
    ("a significant rise beyond an absolute tolerance", 30, "increase", 29.5, "High"),
    ("a significant fall beyond the tolerance both ways", -30, "both", 20, "Low"),
    ("no shift at all", 0, "both", 0, "Pass"),
]


def by_scipy(old: list[float], new: list[float], direction: str,
             tolerance: float | str) -> str:
    """The classification straight from scipy's U test and the medians."""
    p_value = mannwhitneyu(new, old, alternative=ALTERNATIVE[direction]).pvalue
    if p_value >= RULES.alpha:
        return "Pass"
    old_median, difference = statistics.median(old), statistics.median(new) - \
        statistics.median(old)
    allowed = (abs(old_median) * float(tolerance[:-1]) / 100 if isinstance(tolerance, str)
               else tolerance)
    if direction != "decrease" and difference > allowed:
        return "High"
    if direction != "increase" and -difference > allowed:
        return "Low"
    return "Pass"


@pytest.mark.parametrize(("shift", "direction", "tolerance", "expected"),
                         [case[1:] for case in CASES], ids=[case[0] for case in CASES])
def test_a_metric_is_classified_by_the_u_test_and_the_tolerance(
        shift: float, direction: str, tolerance: float | str, expected: str) -> None:
    new = shifted(shift)
    assert by_scipy(OLD, new, direction, tolerance) == expected, "the case is not what it says"

    found = classify(metric("latency", OLD, new, direction=direction, tolerance=tolerance),
                     RULES)

    assert found.classification == Classification(expected)
    assert found.p_value == pytest.approx(
        mannwhitneyu(new, OLD, alternative=ALTERNATIVE[direction]).pvalue)
    assert (found.old_median, found.new_median) == (statistics.median(OLD),
                                                    statistics.median(new))


def test_the_confidence_sets_the_alpha_the_p_value_is_held_to() -> None:
    new = shifted(5)
    p_value = float(mannwhitneyu(new, OLD, alternative="greater").pvalue)
    assert 0.01 < p_value < 0.05
    strict = JudgementRules(confidence=0.99, min_samples=50)

    assert classify(metric("latency", OLD, new), RULES).classification is Classification.HIGH
    assert classify(metric("latency", OLD, new), strict).classification is Classification.PASS


def test_a_relative_tolerance_is_a_share_of_the_old_median() -> None:
    found = classify(metric("latency", OLD, shifted(30), tolerance="10%"), RULES)

    assert found.allowed == pytest.approx(12.45)
    assert found.limit == pytest.approx(136.95)
    assert "tolerance 10% of old" in found.describe(50)


@pytest.mark.parametrize(("old", "new"), [
    (OLD[:49], OLD), (OLD, OLD[:49]), ([], []),
    (OLD, [math.nan] * 11 + OLD[:49]),
], ids=["old too few", "new too few", "none", "nan is no sample"])
def test_fewer_than_min_samples_on_either_colour_is_no_data(
        old: list[float], new: list[float]) -> None:
    found = classify(metric("latency", old, new), RULES)

    assert found.classification is Classification.NODATA
    assert found.p_value is None
    assert found.describe(50).startswith(
        f"latency NoData ({len([v for v in old if math.isfinite(v)])} old / ")


def test_min_samples_is_per_colour_and_inclusive() -> None:
    found = classify(metric("latency", OLD[:50], shifted(30, OLD[:50])), RULES)

    assert found.classification is Classification.HIGH


# --- scoring -------------------------------------------------------------------------


def test_all_passing_metrics_score_100_and_pass() -> None:
    judged = judge([passing("latency"), passing("error-rate")], RULES)

    assert (judged.outcome, judged.score, judged.metric) == (Outcome.PASS, 100.0, "score")
    assert judged.reason.startswith("score 100, at least pass 95: latency Pass (median ")
    assert "\n" not in judged.reason


def test_the_score_is_the_weighted_share_of_passing_metrics() -> None:
    metrics = [passing("latency", weight=2), high("error-rate", weight=1)]
    lenient = JudgementRules.model_validate({"pass": 95, "marginal": 60})

    held = judge(metrics, lenient)
    failed = judge(metrics, RULES)

    assert held.score == pytest.approx(200 / 3)
    assert (held.outcome, held.observed, held.threshold) == (
        Outcome.INCONCLUSIVE, pytest.approx(200 / 3), 60)
    assert "below pass 95, at least marginal 60" in held.reason
    assert failed.outcome is Outcome.FAIL
    assert failed.reason.startswith("score 67, below marginal 75: ")
    assert "error-rate High" in failed.reason


@pytest.mark.parametrize(("pass_score", "marginal", "outcome"), [
    (75, 50, Outcome.PASS), (80, 75, Outcome.INCONCLUSIVE), (90, 80, Outcome.FAIL),
])
def test_score_thresholds_are_inclusive(pass_score: float, marginal: float,
                                        outcome: Outcome) -> None:
    rules = JudgementRules.model_validate({"pass": pass_score, "marginal": marginal})
    metrics = [passing("a"), passing("b"), passing("c"), high("d")]

    assert judge(metrics, rules).outcome is outcome


def test_no_data_metrics_are_left_out_of_the_score() -> None:
    judged = judge([passing("latency"), no_data("queue depth")], RULES)

    assert (judged.outcome, judged.score) == (Outcome.PASS, 100.0)
    assert "queue depth NoData (10 old / 10 new samples, need 50)" in judged.reason


def test_no_data_everywhere_is_inconclusive_never_a_pass() -> None:
    judged = judge([no_data("latency"), no_data("error-rate")], RULES)

    assert (judged.outcome, judged.score) == (Outcome.INCONCLUSIVE, None)
    assert judged.reason.startswith("no metric has enough data to judge: latency NoData")


def test_a_critical_metric_that_is_not_pass_fails_whatever_the_score() -> None:
    metrics = [passing("error-rate", weight=50), high("latency", critical=True)]

    judged = judge(metrics, RULES)

    assert judged.score == pytest.approx(100 * 50 / 51)
    assert judged.outcome is Outcome.FAIL
    assert (judged.metric, judged.observed, judged.threshold) == ("latency", 154.5, 124.5)
    assert judged.reason.startswith("critical metric latency is High (score 98): ")


def test_a_critical_low_fails_with_the_lower_limit() -> None:
    falling = metric("throughput", OLD, shifted(-30), direction="decrease", tolerance=10,
                     critical=True)

    judged = judge([falling], RULES)

    assert (judged.outcome, judged.observed, judged.threshold) == (Outcome.FAIL, 94.5, 114.5)


def test_a_critical_metric_without_data_is_only_no_data() -> None:
    judged = judge([passing("error-rate"), no_data("latency", critical=True)], RULES)

    assert judged.outcome is Outcome.PASS


def test_a_must_have_data_metric_without_data_fails_a_complete_window() -> None:
    metrics = [passing("error-rate"), no_data("latency", must_have_data=True)]

    judged = judge(metrics, RULES)

    assert (judged.outcome, judged.metric, judged.observed, judged.threshold) == (
        Outcome.FAIL, "latency", 10, 50)
    assert judged.reason.startswith("latency must have data but has too few samples "
                                    "(score 100): ")


def test_a_must_have_data_metric_without_data_holds_until_the_window_is_complete() -> None:
    metrics = [passing("error-rate"), no_data("latency", must_have_data=True)]

    judged = judge(metrics, RULES, complete=False)

    assert judged.outcome is Outcome.INCONCLUSIVE
    assert "too few samples so far" in judged.reason


def test_a_critical_failure_is_not_hidden_by_a_window_still_filling() -> None:
    metrics = [high("latency", critical=True), no_data("errors", must_have_data=True)]

    assert judge(metrics, RULES, complete=False).outcome is Outcome.FAIL


def test_a_must_have_data_metric_with_data_is_scored_as_any_other() -> None:
    judged = judge([passing("latency", must_have_data=True)], RULES)

    assert judged.outcome is Outcome.PASS


# --- settings ------------------------------------------------------------------------


@pytest.mark.parametrize(("written", "amount", "relative"), [
    (0.5, 0.5, False), ("10%", 10.0, True), (" 2.5 % ", 2.5, True), ("3", 3.0, False),
])
def test_a_tolerance_is_absolute_or_relative(written: Any, amount: float,
                                             relative: bool) -> None:
    assert Tolerance.parse(written) == Tolerance(amount=amount, relative=relative)


@pytest.mark.parametrize("written", [-1, "-5%", "soon", True, None, "nan"])
def test_a_bad_tolerance_is_refused(written: Any) -> None:
    with pytest.raises(ValidationError):
        Criteria.model_validate({"tolerance": written})


def test_marginal_above_pass_is_refused() -> None:
    with pytest.raises(ValidationError, match="marginal"):
        JudgementRules.model_validate({"pass": 70, "marginal": 80})


def bad(settings: dict[str, Any]) -> str:
    with pytest.raises(BadInput) as raised:
        load_gate({"kind": "judge", **settings})
    message = str(raised.value)
    assert "\n" not in message
    return message


@pytest.mark.parametrize(("settings", "expected"), [
    ({"metrics": []}, "gate.metrics: "),
    ({"metrics": [{"metric": "latency"}], "pass_score": 90}, "gate.pass_score: "),
    ({"metrics": [{"metric": "cloudwatch", "namespace": "App"}]},
     "needs namespace and metric_name"),
    ({"metrics": [{"metric": "latency", "namespace": "App"}]},
     "namespace: only for metric: cloudwatch"),
    ({"metrics": [{"metric": "cloudwatch", "namespace": "App", "metric_name": "Depth",
                   "colour_dimensions": ["LoadBalancer"]}]}, "must include TargetGroup"),
    ({"metrics": [{"metric": "latency"}, {"metric": "latency", "critical": True}]},
     "['latency'] appear twice"),
    ({"metrics": [{"metric": "latency", "weight": 0}]}, "gate.metrics.0.weight: "),
    ({"metrics": [{"metric": "latency"}], "period": "90s"}, "gate.period: "),
])
def test_bad_judge_settings_name_what_is_wrong(settings: dict[str, Any],
                                               expected: str) -> None:
    assert expected in bad(settings)


def test_judge_settings_read_as_written() -> None:
    gate = load_gate({"kind": "judge", "name": "canary judge", "pass": 90, "marginal": 70,
                      "window": "1h", "period": "1m", "metrics": [
                          {"metric": "latency", "tolerance": "10%", "critical": True},
                          {"metric": "cloudwatch", "namespace": "App",
                           "metric_name": "QueueDelay", "stat": "Maximum"}]})

    assert gate.name == "canary judge"
    assert gate.waits_for_human is False
    assert isinstance(gate, JudgeGate)
    assert (gate.settings.window, gate.settings.period, gate.settings.pass_score) == (
        3600, 60, 90)


# --- samples from CloudWatch series ------------------------------------------------------

T0 = datetime(2025, 1, 1, tzinfo=UTC)


def at(second: int) -> datetime:
    return T0 + timedelta(seconds=second)


def test_error_rate_samples_are_per_period_with_requests_and_missing_5xx_is_zero() -> None:
    error_rate = JudgedMetric.model_validate({"metric": "error-rate"})
    parts = {"requests": {at(0): 10.0, at(1): 4.0, at(2): 0.0}, "errors": {at(1): 1.0}}

    assert samples_of(error_rate, parts) == [0.0, 25.0]


def test_latency_samples_are_in_milliseconds() -> None:
    latency = JudgedMetric.model_validate({"metric": "latency"})

    assert samples_of(latency, {"value": {at(0): 0.125}}) == [125.0]


@pytest.mark.parametrize(("span", "wanted", "period"), [
    (timedelta(minutes=5), 1, 1), (timedelta(hours=3), 1, 1), (timedelta(hours=4), 1, 60),
    (timedelta(days=20), 1, 300), (timedelta(days=70), 1, 3600),
    (timedelta(minutes=5), 60, 60), (timedelta(days=20), 420, 600),
])
def test_samples_are_as_short_as_asked_while_cloudwatch_keeps_them(
        span: timedelta, wanted: float, period: int) -> None:
    assert sample_period(MetricWindow(T0, T0 + span), wanted) == period
