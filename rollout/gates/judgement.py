"""A canary judgement from two colours' samples, after Kayenta's NetflixACAJudge (no AWS).

Each metric is classified on its own, then the classifications are scored:

- **NoData**: either colour has fewer than ``min_samples`` finite samples. A
  ``must_have_data`` metric with NoData fails the judgement (once the window is complete,
  see :func:`judge`); any other is left out of the score; when every metric has NoData
  the judgement is inconclusive. A ``critical`` metric with NoData is just NoData.
- **High** / **Low**: the new colour differs from the old in a direction that matters,
  both *significantly* and *by more than the tolerance*. Significance is scipy's
  Mann-Whitney U test at ``alpha = 1 - confidence``: one-sided ("greater" for
  ``direction: increase``, "less" for ``decrease``) when only one direction is bad,
  two-sided for ``both``. The U test makes no assumption of normality, which latency
  samples never meet, and compares whole distributions rather than means.
- **Pass**: anything else, including a significant change in the harmless direction.

Effect size is the **difference of the medians** (new minus old), compared with the
tolerance: an absolute amount in the metric's unit, or a share of the old colour's
median (``"10%"``). Medians go with a rank test (both ignore outliers), and unlike the
Hodges-Lehmann shift they are two numbers a person can check on a dashboard. The cost:
on a metric that is mostly zero (per-second error rates at low traffic) both medians are
zero, so a significant rise can still pass; judge such a metric over longer periods or
with the metric gate's totals instead. A relative tolerance of an old median of zero
allows no difference at all.

The score is the weighted share of the scored metrics (those with data) that pass, in
percent: ``>= pass`` passes, ``>= marginal`` is inconclusive (the step holds), lower
fails. A ``critical`` metric that is High or Low fails the judgement whatever the score.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from rollout.vocabulary.amounts import parse_amount


class Direction(StrEnum):
    """Which change of the new colour is bad."""

    INCREASE = "increase"
    DECREASE = "decrease"
    BOTH = "both"


class Classification(StrEnum):
    PASS = "Pass"
    HIGH = "High"
    LOW = "Low"
    NODATA = "NoData"


class Outcome(StrEnum):
    """The judgement's verdict; the same words as :class:`rollout.gates.base.Verdict`."""

    PASS = "pass"
    FAIL = "fail"
    INCONCLUSIVE = "inconclusive"


_ALTERNATIVE = {Direction.INCREASE: "greater", Direction.DECREASE: "less",
                Direction.BOTH: "two-sided"}


class Tolerance(BaseModel):
    """How far the new colour's median may move in a bad direction before it counts."""

    model_config = ConfigDict(frozen=True)

    amount: float = Field(ge=0)
    relative: bool = False

    @classmethod
    def parse(cls, value: Any) -> Tolerance:
        """``0.5`` (absolute, in the metric's unit) or ``"10%"`` (of the old median)."""
        if isinstance(value, Tolerance):
            return value
        amount, relative = parse_amount(value, "the old colour's median")
        return cls(amount=amount, relative=relative)

    def allowed(self, old_median: float) -> float:
        """The largest harmless difference of medians, given the old colour's median."""
        return abs(old_median) * self.amount / 100 if self.relative else self.amount

    def describe(self, unit: str = "") -> str:
        return f"{self.amount:g}% of old" if self.relative else f"{self.amount:g}{unit}"


class Criteria(BaseModel):
    """How one metric is judged, as a user writes it for a judge gate."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    direction: Direction = Direction.INCREASE
    tolerance: Tolerance = Tolerance(amount=0)
    critical: bool = False
    must_have_data: bool = False
    weight: float = Field(default=1.0, gt=0)

    @field_validator("tolerance", mode="before")
    @classmethod
    def _tolerance(cls, value: Any) -> Tolerance:
        return Tolerance.parse(value)


class JudgementRules(BaseModel):
    """The judgement's thresholds, as a user writes them for a judge gate."""

    model_config = ConfigDict(frozen=True)

    confidence: float = Field(default=0.95, gt=0, lt=1)
    min_samples: int = Field(default=50, ge=1)
    pass_score: float = Field(default=95.0, ge=0, le=100, alias="pass")
    marginal: float = Field(default=75.0, ge=0, le=100)

    @model_validator(mode="after")
    def _ordered(self) -> JudgementRules:
        if self.marginal > self.pass_score:
            raise ValueError(f"marginal ({self.marginal:g}) must not be above pass "
                             f"({self.pass_score:g})")
        return self

    @property
    def alpha(self) -> float:
        return 1.0 - self.confidence


@dataclass(frozen=True)
class MetricSamples:
    """One metric's samples per colour (one per CloudWatch period), and how to judge them.

    ``unit`` is only for the reason (``" ms"``, ``"%"``).
    """

    label: str
    criteria: Criteria
    old: Sequence[float]
    new: Sequence[float]
    unit: str = ""


@dataclass(frozen=True)
class MetricFinding:
    """What the judgement found for one metric."""

    label: str
    criteria: Criteria
    classification: Classification
    old_count: int
    new_count: int
    unit: str = ""
    old_median: float | None = None
    new_median: float | None = None
    p_value: float | None = None
    allowed: float | None = None
    """The largest harmless difference of medians (from the tolerance)."""

    @property
    def passed(self) -> bool:
        return self.classification is Classification.PASS

    @property
    def has_data(self) -> bool:
        return self.classification is not Classification.NODATA

    @property
    def limit(self) -> float | None:
        """The new median at which the metric turns High (or Low, for ``decrease``)."""
        if self.old_median is None or self.allowed is None:
            return None
        if self.criteria.direction is Direction.DECREASE:
            return self.old_median - self.allowed
        return self.old_median + self.allowed

    def describe(self, min_samples: int) -> str:
        flags = "".join(f", {flag}" for flag, on in (
            ("critical", self.criteria.critical),
            ("must have data", self.criteria.must_have_data)) if on)
        if not self.has_data:
            return (f"{self.label} NoData ({self.old_count} old / {self.new_count} new "
                    f"samples, need {min_samples}{flags})")
        return (f"{self.label} {self.classification.value} (median "
                f"{_number(self.new_median)}{self.unit} new vs {_number(self.old_median)}"
                f"{self.unit} old, p={self.p_value:.3g}, tolerance "
                f"{self.criteria.tolerance.describe(self.unit)}, {self.new_count}/{self.old_count} "
                f"samples{flags})")


@dataclass(frozen=True)
class Judgement:
    """The outcome, its score, and which number decided it (for the gate's result)."""

    outcome: Outcome
    score: float | None
    findings: tuple[MetricFinding, ...]
    reason: str
    metric: str
    observed: float | None = None
    threshold: float | None = None


def _number(value: float | None) -> str:
    return "-" if value is None else f"{value:.4g}"


def _finite(samples: Sequence[float]) -> list[float]:
    return [float(value) for value in samples if math.isfinite(value)]


def classify(samples: MetricSamples, rules: JudgementRules) -> MetricFinding:
    """One metric's classification: NoData, else the U test and the tolerance decide."""
    old, new = _finite(samples.old), _finite(samples.new)
    found = MetricFinding(label=samples.label, criteria=samples.criteria,
                          classification=Classification.NODATA, old_count=len(old),
                          new_count=len(new), unit=samples.unit)
    if min(len(old), len(new)) < rules.min_samples:
        return found
    from scipy.stats import mannwhitneyu  # 0.7 s to import: only when a judge judges

    criteria = samples.criteria
    test = mannwhitneyu(new, old, alternative=_ALTERNATIVE[criteria.direction])
    p_value = float(test.pvalue)
    if math.isnan(p_value):
        p_value = 1.0
    old_median, new_median = statistics.median(old), statistics.median(new)
    allowed = criteria.tolerance.allowed(old_median)
    difference = new_median - old_median
    classification = Classification.PASS
    if p_value < rules.alpha:
        if difference > allowed and criteria.direction is not Direction.DECREASE:
            classification = Classification.HIGH
        elif -difference > allowed and criteria.direction is not Direction.INCREASE:
            classification = Classification.LOW
    return MetricFinding(
        label=found.label, criteria=criteria, classification=classification,
        old_count=found.old_count, new_count=found.new_count, unit=found.unit,
        old_median=old_median, new_median=new_median, p_value=p_value, allowed=allowed)


def score(findings: Sequence[MetricFinding]) -> float | None:
    """Weighted share of the metrics with data that pass, in percent; None without data."""
    scored = [finding for finding in findings if finding.has_data]
    total = sum(finding.criteria.weight for finding in scored)
    if not scored or total <= 0:
        return None
    return 100.0 * sum(f.criteria.weight for f in scored if f.passed) / total


def judge(metrics: Sequence[MetricSamples], rules: JudgementRules, *,
          complete: bool = True) -> Judgement:
    """Classify every metric, then decide: critical and must-have-data rules first, then
    the score against ``pass`` and ``marginal``.

    ``complete`` says whether the samples cover the whole window the user asked for. A
    gate is checked from the first moment of a step, when no metric can have
    ``min_samples`` yet and any failure rolls back; so a ``must_have_data`` metric's
    NoData fails only a complete window, and holds (inconclusive) until then.
    """
    findings = tuple(classify(samples, rules) for samples in metrics)
    found = "; ".join(finding.describe(rules.min_samples) for finding in findings)
    total = score(findings)
    shown = "no score" if total is None else f"score {total:.0f}"
    for finding in findings:
        if finding.criteria.critical and finding.has_data and not finding.passed:
            return Judgement(Outcome.FAIL, total, findings, metric=finding.label,
                             reason=f"critical metric {finding.label} is "
                                    f"{finding.classification.value} ({shown}): {found}",
                             observed=finding.new_median, threshold=finding.limit)
    for finding in findings:
        if finding.criteria.must_have_data and not finding.has_data:
            fewest = float(min(finding.old_count, finding.new_count))
            so_far, outcome = (("", Outcome.FAIL) if complete
                               else (" so far", Outcome.INCONCLUSIVE))
            return Judgement(outcome, total, findings, metric=finding.label,
                             reason=f"{finding.label} must have data but has too few samples"
                                    f"{so_far} ({shown}): {found}",
                             observed=fewest, threshold=float(rules.min_samples))
    if total is None:
        return Judgement(Outcome.INCONCLUSIVE, None, findings, metric="score",
                         reason=f"no metric has enough data to judge: {found}",
                         threshold=rules.pass_score)
    if total >= rules.pass_score:
        outcome, verdict = Outcome.PASS, f"at least pass {rules.pass_score:g}"
    elif total >= rules.marginal:
        outcome, verdict = (Outcome.INCONCLUSIVE, f"below pass {rules.pass_score:g}, at "
                            f"least marginal {rules.marginal:g}")
    else:
        outcome, verdict = Outcome.FAIL, f"below marginal {rules.marginal:g}"
    return Judgement(outcome, total, findings, metric="score", observed=total,
                     threshold=rules.pass_score if outcome is Outcome.PASS else rules.marginal,
                     reason=f"{shown}, {verdict}: {found}")
