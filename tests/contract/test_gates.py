"""Every registered gate keeps the ``Gate`` contract, against a moto server.

Gates come from the registry, so a new gate file is picked up here by itself, and
fails until :data:`SAMPLES` says how to configure it (settings that work, and a
bad setting with the field it must be named by) and then until it keeps every
promise: it builds from its settings, checks a real cohort to a ``GateResult``
with a known verdict, says whether it waits for a person, and refuses a bad or
unknown setting with one line naming the field.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from rollout.errors import BadInput
from rollout.gates.base import GATES, GateContext, GateResult, Verdict
from rollout.gates.load import load_gate
from rollout.gates.metric import METRICS
from tests.conftest import Fleet, deploy_fleet

pytestmark = pytest.mark.integration


@dataclass(frozen=True)
class Sample:
    """How to configure one gate kind, and how to get one of its settings wrong."""

    settings: dict[str, Any]
    bad: dict[str, Any]
    field: str


SAMPLES: dict[str, Sample] = {
    "alarm": Sample({"alarms": ["contract-no-such-alarm"]}, {"alarms": []}, "alarms"),
    "judge": Sample({"metrics": [{"metric": "latency"}, {"metric": "error-rate"}]},
                    {"metrics": [{"metric": "latency"}], "confidence": 1.5}, "confidence"),
    "manual": Sample({}, {"name": ["not", "text"]}, "name"),
    "metric": Sample({"metric": "error-rate", "max": 2, "window": "5m"},
                     {"metric": "error-rate", "max": 2, "window": "soon"}, "window"),
    "sla": Sample({"target": 99.9}, {"target": 120}, "target"),
    "security": Sample({}, {"timeout": -1}, "timeout"),
}
"""Settings per gate kind; a new gate needs one here."""

GATE_KINDS = GATES.names()


@pytest.fixture(scope="module")
def fleet(moto_endpoint: str, tmp_path_factory: pytest.TempPathFactory) -> Fleet:
    return deploy_fleet(tmp_path_factory.mktemp("contract-gates"), {"canary": ["aurora"]})


def sample(kind: str) -> Sample:
    if kind not in SAMPLES:
        pytest.fail(f"gate {kind!r} is registered but the contract suite cannot configure "
                    "it: add a sample to tests/contract/test_gates.py SAMPLES")
    return SAMPLES[kind]


def context(fleet: Fleet) -> GateContext:
    now = datetime.now(UTC)
    started = now - timedelta(minutes=10)
    return GateContext(clients=fleet.clients, cohort=fleet.cohorts["canary"], old_colour="blue",
                       new_colour="green", rollout_started_at=started,
                       step_started_at=started, now=now)


def test_the_suite_covers_every_registered_gate() -> None:
    assert GATE_KINDS, "no gate registered"
    assert set(GATE_KINDS) <= set(SAMPLES), sorted(set(GATE_KINDS) - set(SAMPLES))


@pytest.mark.parametrize("kind", GATE_KINDS)
def test_a_gate_builds_from_its_settings_and_says_whether_it_waits_for_a_person(
        kind: str) -> None:
    gate = load_gate({"kind": kind, **sample(kind).settings})

    assert isinstance(gate.name, str) and gate.name
    assert isinstance(gate.waits_for_human, bool)


@pytest.mark.parametrize("kind", GATE_KINDS)
def test_a_check_of_a_real_cohort_is_a_result_with_a_known_verdict(
        fleet: Fleet, kind: str) -> None:
    gate = load_gate({"kind": kind, **sample(kind).settings})

    result = gate.check(context(fleet))

    assert isinstance(result, GateResult)
    assert result.verdict in set(Verdict)
    assert result.reason and "\n" not in result.reason
    assert gate.name in result.gate or result.gate in gate.name


@pytest.mark.parametrize("metric", sorted(METRICS))
def test_every_metric_of_the_metric_gate_checks_a_real_cohort(
        fleet: Fleet, metric: str) -> None:
    """The metric sample above reads one metric; each metric reads CloudWatch its own way
    (a colour's target group, or the whole load balancer). A cohort without traffic
    gives none of them enough data: inconclusive, never a pass."""
    gate = load_gate({"kind": "metric", "metric": metric, "max": 2, "min_samples": 1})

    result = gate.check(context(fleet))

    assert result.verdict is Verdict.INCONCLUSIVE, result
    assert result.reason.startswith("no requests ") and "\n" not in result.reason
    assert result.metric == metric


@pytest.mark.parametrize("kind", GATE_KINDS)
def test_a_bad_setting_is_bad_input_naming_the_field(kind: str) -> None:
    wrong = sample(kind)

    with pytest.raises(BadInput) as raised:
        load_gate({"kind": kind, **wrong.bad})

    message = str(raised.value)
    assert "\n" not in message
    assert f"{wrong.field}: " in message, message


@pytest.mark.parametrize("kind", GATE_KINDS)
def test_an_unknown_setting_is_bad_input_naming_it(kind: str) -> None:
    with pytest.raises(BadInput) as raised:
        load_gate({"kind": kind, **sample(kind).settings, "no_such_setting": 1})

    message = str(raised.value)
    assert "\n" not in message
    assert "no_such_setting: " in message, message
