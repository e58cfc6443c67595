"""The HTTP callback hook: a real POST to a receiver on 127.0.0.1, and only where it may go.

The receiver is a ``ThreadingHTTPServer`` in a thread. Where a hook may POST is the
webhook's allow-list: plain http only to this machine, internal addresses only for
hosts named in ``ROLLOUT_HOOK_ALLOW_HOSTS``; a URL it refuses stops the rollout when
the hooks are built, before anything is written, in one line without the URL's path.
"""

from __future__ import annotations

import socket
from collections.abc import Sequence
from typing import Any

import pytest
from pydantic import SecretStr

from rollout.errors import BadInput
from rollout.hooks.base import LifecycleHook
from rollout.hooks.http_callback import ALLOW_HOSTS_ENV, HttpCallback
from rollout.hooks.load import load_hooks
from rollout.hooks.settings import CohortHooks
from tests.hook_receivers import COHORT, HEADER, TOKEN, Receiver, facts, serve

SECRET = "FAKE-path-token-0123"


def callback(url: str, stage: str = "after_allow_traffic", **settings: Any) -> LifecycleHook:
    [hook] = load_hooks(CohortHooks.model_validate({stage: [{"url": url, **settings}]}), COHORT)
    return hook


def refused(url: str) -> str:
    with pytest.raises(BadInput) as caught:
        callback(url)
    message = str(caught.value)
    assert "\n" not in message and SECRET not in message
    assert message.startswith("cohort canary: hooks.after_allow_traffic.0.url: hook URL "), \
        message
    return message


def resolving(answers: dict[str, Sequence[str]]) -> Any:
    """A stand-in for ``getaddrinfo``: each host's next answer, the last one repeating."""
    asked: dict[str, int] = {}

    def resolve(host: str, port: int, **_: Any) -> list[tuple[Any, ...]]:
        index = min(asked.get(host, 0), len(answers[host]) - 1)
        asked[host] = asked.get(host, 0) + 1
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (answers[host][index], port))]

    return resolve


def test_the_hook_posts_the_facts_and_the_test_route_as_json() -> None:
    with serve(Receiver(status=200)) as receiver:
        hook = callback(f"{receiver.url}/qa/{SECRET}?run=smoke", stage="after_test_traffic")
        outcome = hook.run(facts("after_test_traffic"))

    assert outcome.passed, outcome
    [request] = receiver.received
    assert (request.method, request.path) == ("POST", f"/qa/{SECRET}?run=smoke")
    assert request.headers["Content-Type"] == "application/json"
    assert request.json() == {**facts("after_test_traffic").public(),
                              "hook": "after_test_traffic-1",
                              "test_route": {"header": HEADER, "token": TOKEN}}
    assert outcome.summary.startswith(f"POST to {receiver.url}: answered 200")


def test_without_a_test_route_the_body_says_null() -> None:
    with serve(Receiver()) as receiver:
        assert callback(receiver.url).run(facts(route=False)).passed
    assert receiver.received[0].json()["test_route"] is None


def test_the_idempotency_key_is_one_per_hook_and_rollout() -> None:
    with serve(Receiver()) as receiver:
        hook = callback(receiver.url)
        hook.run(facts("after_allow_traffic"))
        hook.run(facts("after_allow_traffic"))
        callback(receiver.url, stage="after_promote").run(facts("after_promote"))
    first, again, other = (r.headers["Idempotency-Key"] for r in receiver.received)
    assert first == again != other
    assert len(first) == 32


def test_a_redirect_fails_and_its_target_gets_nothing() -> None:
    with serve(Receiver()) as elsewhere, serve(Receiver(status=302)) as receiver:
        receiver.headers["Location"] = f"{elsewhere.url}/steal"
        outcome = callback(f"{receiver.url}/hook").run(facts())

    assert not outcome.passed
    assert "answered 302, a redirect, which is not followed" in outcome.summary
    assert len(receiver.received) == 1 and elsewhere.received == []


def test_an_error_status_and_a_closed_port_fail_without_an_exception() -> None:
    with serve(Receiver(status=503)) as receiver:
        busy = callback(receiver.url).run(facts())
    closed = callback(receiver.url).run(facts())

    assert not busy.passed and "answered 503" in busy.summary
    assert not closed.passed and "cannot connect" in closed.summary


def test_proxies_in_the_environment_are_not_used(monkeypatch: pytest.MonkeyPatch) -> None:
    """A proxy would reach whatever it likes on our behalf: the address check would be moot."""
    for name in ("HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy"):
        monkeypatch.setenv(name, "http://127.0.0.1:9")
    with serve(Receiver()) as receiver:
        assert callback(receiver.url).run(facts()).passed
    assert len(receiver.received) == 1


def test_plain_http_beyond_this_machine_is_refused_when_the_hooks_are_built() -> None:
    message = refused(f"http://93.184.216.34/hook/{SECRET}")
    assert "hook URL http://93.184.216.34: plain http is only for this machine" in message


@pytest.mark.parametrize("url", [
    f"https://169.254.169.254/latest/meta-data/?tok={SECRET}",
    f"https://10.0.0.5/hook/{SECRET}",
    f"https://[::ffff:192.168.1.20]/hook/{SECRET}",
])
def test_an_internal_address_is_refused_unless_its_host_is_named(
        url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(ALLOW_HOSTS_ENV, raising=False)
    assert ALLOW_HOSTS_ENV in refused(url)


def test_a_host_named_in_the_allow_hosts_variable_may_be_internal(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ALLOW_HOSTS_ENV, "qa.internal, 10.0.0.5")
    hook = callback(f"https://10.0.0.5/hook/{SECRET}")
    assert "POST the rollout's facts to https://10.0.0.5 " in hook.describe()
    assert SECRET not in hook.describe() and SECRET not in repr(hook)


def test_a_named_internal_host_name_is_let_through_and_others_are_not() -> None:
    resolve = resolving({"qa.internal": ["10.1.2.3"], "db.internal": ["10.1.2.4"]})
    url = SecretStr(f"https://qa.internal/hook/{SECRET}")

    hook = HttpCallback("qa", "after_promote", url, 5, allow_hosts={"qa.internal"},
                        resolve=resolve)
    with pytest.raises(BadInput) as caught:
        HttpCallback("db", "after_promote", SecretStr("https://db.internal/x"), 5,
                     allow_hosts={"qa.internal"}, resolve=resolve)

    assert hook.describe().endswith("to https://qa.internal (2xx within 5s)")
    assert str(caught.value).startswith("hook URL https://db.internal: db.internal resolves "
                                        "to 10.1.2.4, which is a private address")


def test_a_host_that_resolves_elsewhere_when_the_hook_runs_gets_nothing() -> None:
    """Checked when built and again for each call: a second DNS answer cannot swap it."""
    with serve(Receiver()) as receiver:
        port = receiver.url.rpartition(":")[2]
        resolve = resolving({"smoke.localhost": ["127.0.0.1", "10.9.9.9"]})
        hook = HttpCallback("smoke", "after_test_traffic",
                            SecretStr(f"http://smoke.localhost:{port}/x"), 2,
                            allow_hosts=(), resolve=resolve)
        outcome = hook.run(facts())

    assert not outcome.passed
    assert "smoke.localhost resolves to 10.9.9.9" in outcome.summary
    assert receiver.received == []


def test_a_host_that_does_not_resolve_is_refused_when_the_hooks_are_built() -> None:
    def nowhere(host: str, port: int, **_: Any) -> list[tuple[Any, ...]]:
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    with pytest.raises(BadInput, match=r"cannot resolve the hook host qa\.example"):
        HttpCallback("qa", "after_promote", SecretStr("https://qa.example/x"), 5,
                     allow_hosts=(), resolve=nowhere)
