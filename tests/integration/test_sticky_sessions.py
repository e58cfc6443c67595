"""Sticky sessions through the real local data plane while the weights move.

One ``external`` cohort in moto; each colour's stand-in target is a tiny app on loopback
that answers with its colour. The ALB router, built from settings as ``tenants.yaml``
gives them (``stickiness: 1h``), writes the weights; each session is its own httpx
client with its own cookie jar, as each browser is.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from email.utils import parsedate_to_datetime

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from rollout.discovery import CohortResources
from rollout.local.data_plane.proxy import COLOUR_HEADER
from rollout.local.data_plane.routing import STICKINESS_COOKIE, STICKINESS_CORS_COOKIE
from rollout.local.data_plane.serving import serve_cohort, serving_app
from rollout.local.deployer import STAND_IN_TARGET
from rollout.local.fleets import Fleet, deploy_fleet
from rollout.routers.alb import AlbRouter, alb_router
from rollout.vocabulary.colours import Colour
from tests.app_fleet import SECONDS_LONG_STEPS

pytestmark = pytest.mark.integration

SESSIONS = 16
PER_STEP = 3
SHIFT = (10, 20, 30, 40, 50)
"""Green's weight at each step of the shift; every session sends ``PER_STEP`` requests at each."""
TIMEOUT = httpx.Timeout(5.0)
APPLIED_WITHIN = 5.0


def colour_app(colour: str) -> Starlette:
    async def answer(request: Request) -> Response:
        return PlainTextResponse(colour)
    return Starlette(routes=[Route("/{path:path}", answer)])


@pytest.fixture(scope="module")
def sticky_fleet(moto_endpoint: str, tmp_path_factory: pytest.TempPathFactory) -> Fleet:
    return deploy_fleet(tmp_path_factory.mktemp("sticky"), {"s": ["aurora"]})


@pytest.fixture(scope="module")
def cohort(sticky_fleet: Fleet) -> CohortResources:
    return sticky_fleet.cohorts["s"]


@pytest.fixture(scope="module")
def colour_servers() -> Iterator[dict[Colour, str]]:
    with ExitStack() as stack:
        yield {colour: stack.enter_context(serving_app(colour_app(colour))).removeprefix(
            "http://") for colour in ("blue", "green")}


class Listener:
    """The cohort's local listener, and a way to wait until it routes by a new write."""

    def __init__(self, url: str, changed: threading.Event) -> None:
        self.url = url
        self.changed = changed

    def applied(self) -> None:
        assert self.changed.wait(APPLIED_WITHIN), "the listener never read the new weights"
        self.changed.clear()


@contextmanager
def listening(fleet: Fleet, cohort: CohortResources,
              servers: dict[Colour, str]) -> Iterator[Listener]:
    def addresses(target_group_arn: str, target_id: str) -> str | None:
        return servers[cohort.colour_of(target_group_arn)] if target_id == STAND_IN_TARGET \
            else None

    changed = threading.Event()
    with serve_cohort(fleet.clients, cohort, addresses, every=SECONDS_LONG_STEPS,
                      on_change=lambda _: changed.set()) as url:
        yield Listener(url, changed)


class Session:
    """One client with its own cookie jar, and the colour of each answer it got."""

    def __init__(self, url: str) -> None:
        self.client = httpx.Client(base_url=url, timeout=TIMEOUT, trust_env=False)
        self.colours: list[str] = []
        self.first: httpx.Response | None = None

    def send(self, count: int) -> None:
        for _ in range(count):
            answer = self.client.get("/", headers={"Host": "birch.example"})
            assert answer.status_code == 200, answer.text
            self.first = self.first or answer
            self.colours.append(answer.headers[COLOUR_HEADER])

    def share_on_first_colour(self) -> float:
        return self.colours.count(self.colours[0]) / len(self.colours)


@contextmanager
def sessions(url: str, count: int) -> Iterator[list[Session]]:
    opened = [Session(url) for _ in range(count)]
    try:
        yield opened
    finally:
        for session in opened:
            session.client.close()


def shift(router: AlbRouter, listener: Listener, clients: list[Session]) -> None:
    """Every session sends ``PER_STEP`` requests at each weight of :data:`SHIFT`; the first
    weights are already on the listener."""
    for index, green in enumerate(SHIFT):
        if index:
            router.set_weights({"blue": 100 - green, "green": green})
            listener.applied()
        for session in clients:
            session.send(PER_STEP)


def test_sessions_stay_on_the_colour_of_their_first_answer_while_weights_move(
        sticky_fleet: Fleet, cohort: CohortResources,
        colour_servers: dict[Colour, str]) -> None:
    router = alb_router(sticky_fleet.clients, cohort, {"stickiness": "1h"})
    router.set_weights({"blue": 90, "green": 10})
    with listening(sticky_fleet, cohort, colour_servers) as listener, \
            sessions(listener.url, SESSIONS) as clients:
        shift(router, listener, clients)
        with sessions(listener.url, 20) as fresh:
            for session in fresh:
                session.send(1)
    shares = [session.share_on_first_colour() for session in clients]
    assert all(share >= 0.99 for share in shares), shares
    assert {session.colours[0] for session in fresh} == {"blue", "green"}, \
        "sessions that start at 50/50 are drawn by weight, not all kept on one colour"
    first = clients[0].first
    assert first is not None
    set_cookies = first.headers.get_list("set-cookie")
    assert [c.split("=", 1)[0] for c in set_cookies] == [STICKINESS_COOKIE,
                                                         STICKINESS_CORS_COOKIE]
    expires = parsedate_to_datetime(set_cookies[0].split("Expires=", 1)[1].split(";")[0])
    assert abs(expires.timestamp() - time.time() - 3600) < 60
    assert "SameSite=None; Secure" in set_cookies[1]


def test_without_stickiness_the_same_sessions_switch_colour(
        sticky_fleet: Fleet, cohort: CohortResources,
        colour_servers: dict[Colour, str]) -> None:
    router = AlbRouter(sticky_fleet.clients, cohort)
    router.set_weights({"blue": 90, "green": 10})
    with listening(sticky_fleet, cohort, colour_servers) as listener, \
            sessions(listener.url, SESSIONS) as clients:
        shift(router, listener, clients)
    switched = [session for session in clients if session.share_on_first_colour() < 0.99]
    assert len(switched) >= SESSIONS // 2, [s.colours for s in clients]
    assert all(not session.client.cookies for session in clients)


def test_a_sticky_session_keeps_its_colour_after_its_weight_falls_to_zero(
        sticky_fleet: Fleet, cohort: CohortResources,
        colour_servers: dict[Colour, str]) -> None:
    """ALB's documented behaviour: the cookie, not the weight, decides until it expires."""
    router = alb_router(sticky_fleet.clients, cohort, {"stickiness": "1h"})
    router.set_weights({"blue": 50, "green": 50})
    with listening(sticky_fleet, cohort, colour_servers) as listener, \
            sessions(listener.url, SESSIONS) as clients:
        for session in clients:
            session.send(1)
        router.set_weights({"blue": 100, "green": 0})
        listener.applied()
        for session in clients:
            session.send(PER_STEP)
        with sessions(listener.url, 20) as fresh:
            for session in fresh:
                session.send(1)
    assert {session.colours[0] for session in clients} == {"blue", "green"}
    assert all(session.share_on_first_colour() == 1.0 for session in clients), \
        [s.colours for s in clients]
    assert {session.colours[0] for session in fresh} == {"blue"}
