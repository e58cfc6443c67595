"""Every registered kind of lifecycle hook keeps the ``LifecycleHook`` contract.

Kinds come from the registry, so a new hook file is picked up here by itself, and
fails until :data:`SAMPLES` says how to make one of its hooks pass, fail and hang,
how to read back what the hook was told, and how to get one of its settings wrong.
Then it must: pass when its check does; fail, as an outcome and never an exception,
when its check fails or overruns its timeout (and say so within the timeout and two
seconds); tell its check the rollout's facts and the test route where the README
says; never show the test route's token or a URL's path; and refuse a bad setting in
``tenants.yaml`` with one line naming the file, line and field. Hooks are built the
way a rollout builds them: ``tenants.yaml`` read by its loader, then ``load_hooks``.
Everything runs on this machine: a Python child, or an HTTP server on 127.0.0.1.
"""

from __future__ import annotations

import json
import re
import sys
import textwrap
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import pytest

from rollout.errors import BadInput
from rollout.hooks.base import HOOKS, HookOutcome, LifecycleHook
from rollout.hooks.load import load_hooks
from rollout.model.tenants import load_tenants
from tests.hook_receivers import COHORT, HEADER, TOKEN, Receiver, facts, serve
from tests.tenant_files import cohort_entry, write_tenants

Behaviour = Literal["pass", "fail", "hang"]
URL_SECRET = "p4th-FAKE-secret-in-url"
"""In the callback's path and query: a URL may carry a token, so it is never shown."""
TIMEOUT = 1.0
SLACK = 2.0
"""A hook that overruns its timeout says so within this many seconds more."""

CHECK = textwrap.dedent("""\
    import json, os, sys, time
    behaviour, told = sys.argv[1], sys.argv[2]
    with open(told, "w") as out:
        json.dump(dict(os.environ), out)
    print("smoke: sending", os.environ.get("ROLLOUT_TEST_TOKEN", "no token"))
    if behaviour == "hang":
        time.sleep(30)
    sys.exit(0 if behaviour == "pass" else 3)
    """)
"""The command hook's check: writes down its environment, prints the token, then
passes, fails with exit 3, or hangs."""


@dataclass(frozen=True)
class Where:
    """A test's own folder and loopback receiver."""

    folder: Path
    receiver: Receiver


@dataclass(frozen=True)
class Sample:
    """How to configure one kind of hook, read back what it was told, and get it wrong."""

    settings: Callable[[Behaviour, Where], dict[str, Any]]
    told: Callable[[Where], dict[str, Any]]
    """The facts and test route as the hook's check saw them, in :func:`expected`'s words."""
    bad: dict[str, Any]
    field: str


def command_settings(behaviour: Behaviour, where: Where) -> dict[str, Any]:
    script = where.folder / "check.py"
    script.write_text(CHECK)
    return {"command": f"{sys.executable} {script} {behaviour} {where.folder / 'told.json'}"}


def command_told(where: Where) -> dict[str, Any]:
    env = json.loads((where.folder / "told.json").read_text())
    named = {"app": "APP", "cohort": "COHORT", "release": "RELEASE",
             "old_version": "OLD_VERSION", "old_colour": "OLD_COLOUR",
             "new_colour": "NEW_COLOUR", "stage": "STAGE", "started_at": "STARTED_AT",
             "test_header": "TEST_HEADER", "test_token": "TEST_TOKEN"}
    return {fact: env.get(f"ROLLOUT_{name}") for fact, name in named.items()}


def http_settings(behaviour: Behaviour, where: Where) -> dict[str, Any]:
    where.receiver.status = 500 if behaviour == "fail" else 204
    where.receiver.stall = behaviour == "hang"
    return {"url": f"{where.receiver.url}/hook/{URL_SECRET}?key={URL_SECRET}"}


def http_told(where: Where) -> dict[str, Any]:
    [request] = where.receiver.received
    body = request.json()
    route = body.pop("test_route") or {}
    assert body.pop("hook")
    return {**body, "test_header": route.get("header"), "test_token": route.get("token")}


SAMPLES: dict[str, Sample] = {
    "command": Sample(command_settings, command_told,
                      {"command": "true", "env": ["NOT A NAME"]}, "env.0"),
    "http": Sample(http_settings, http_told,
                   {"url": "https://hooks.example/x", "env": ["SMOKE_USER"]}, "env"),
}
"""Per hook kind; a new kind needs one here."""

KINDS = HOOKS.names()


def sample(kind: str) -> Sample:
    if kind not in SAMPLES:
        pytest.fail(f"hook kind {kind!r} is registered but the contract suite cannot "
                    "configure it: add a sample to tests/contract/test_hooks.py SAMPLES")
    return SAMPLES[kind]


@pytest.fixture
def where(tmp_path: Path) -> Iterator[Where]:
    with serve(Receiver()) as receiver:
        yield Where(tmp_path, receiver)


def tenants_with(folder: Path, hook: dict[str, Any]) -> Path:
    return write_tenants(folder / "tenants.yaml",
                         [cohort_entry("canary", hooks={"after_test_traffic": [hook]})], [])


def built(kind: str, behaviour: Behaviour, where: Where, **extra: Any) -> LifecycleHook:
    """The one hook of a cohort whose ``tenants.yaml`` has the sample's settings."""
    path = tenants_with(where.folder, {**sample(kind).settings(behaviour, where), **extra})
    [hook] = load_hooks(load_tenants(path).cohort("canary").hooks, COHORT)
    return hook


def expected(route: bool = True) -> dict[str, Any]:
    return {**facts().public(), "test_header": HEADER if route else None,
            "test_token": TOKEN if route else None}


def shown(hook: LifecycleHook, outcome: HookOutcome) -> list[str]:
    """Everything of a hook and its outcome that reaches a terminal, a ledger or a report."""
    return [hook.describe(), repr(hook), outcome.summary, repr(outcome), repr(facts())]


def test_the_suite_covers_every_registered_kind() -> None:
    assert set(KINDS) >= {"command", "http"}
    assert set(KINDS) <= set(SAMPLES), sorted(set(KINDS) - set(SAMPLES))


@pytest.mark.parametrize("kind", KINDS)
def test_a_hook_whose_check_passes_passes(kind: str, where: Where) -> None:
    hook = built(kind, "pass", where)

    outcome = hook.run(facts())

    assert outcome.passed, outcome
    assert (outcome.hook, outcome.stage) == (hook.name, "after_test_traffic") == (
        "after_test_traffic-1", hook.stage)
    assert outcome.summary.isprintable() and outcome.seconds >= 0


@pytest.mark.parametrize("kind", KINDS)
def test_a_hook_whose_check_fails_is_a_failed_outcome(kind: str, where: Where) -> None:
    outcome = built(kind, "fail", where).run(facts())

    assert not outcome.passed
    assert outcome.summary.isprintable() and outcome.summary


@pytest.mark.parametrize("kind", KINDS)
def test_a_hook_that_overruns_its_timeout_fails_in_time(kind: str, where: Where) -> None:
    hook = built(kind, "hang", where, timeout=f"{TIMEOUT:g}s")
    began = time.monotonic()

    outcome = hook.run(facts())

    took = time.monotonic() - began
    assert not outcome.passed
    assert TIMEOUT <= took < TIMEOUT + SLACK, took
    assert "1s" in outcome.summary or "1 s" in outcome.summary, outcome.summary


@pytest.mark.parametrize("route", [True, False], ids=["test-route", "no-test-route"])
@pytest.mark.parametrize("kind", KINDS)
def test_a_hook_tells_its_check_the_facts_and_the_test_route(
        kind: str, route: bool, where: Where) -> None:
    assert built(kind, "pass", where).run(facts(route=route)).passed

    assert sample(kind).told(where) == expected(route)


@pytest.mark.parametrize("behaviour", ["pass", "fail"])
@pytest.mark.parametrize("kind", KINDS)
def test_nothing_a_hook_shows_holds_the_token_or_the_url_s_path(
        kind: str, behaviour: Behaviour, where: Where) -> None:
    hook = built(kind, behaviour, where)

    outcome = hook.run(facts())

    for text in shown(hook, outcome):
        assert TOKEN not in text and URL_SECRET not in text, text


@pytest.mark.parametrize("kind", KINDS)
def test_a_bad_setting_is_one_line_naming_file_line_and_field(kind: str, tmp_path: Path) -> None:
    wrong = sample(kind)
    path = tenants_with(tmp_path, wrong.bad)

    with pytest.raises(BadInput) as raised:
        load_tenants(path)

    message = str(raised.value)
    assert "\n" not in message
    field = re.escape(f"cohorts.0.hooks.after_test_traffic.0.{wrong.field}: ")
    assert re.match(rf"{re.escape(str(path))}:\d+: {field}", message), message


@pytest.mark.parametrize("kind", KINDS)
def test_an_unknown_setting_is_refused_naming_it(kind: str, where: Where) -> None:
    settings = {**sample(kind).settings("pass", where), "no_such_setting": 1}
    path = tenants_with(where.folder, settings)

    with pytest.raises(BadInput) as raised:
        load_tenants(path)

    assert "cohorts.0.hooks.after_test_traffic.0.no_such_setting: " in str(raised.value)
