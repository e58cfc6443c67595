"""The local listener: routes each request as the cohort's ALB would and forwards it.

moto routes no traffic, so this Starlette app stands in for the load balancer: per
request it routes by Host and headers with the watcher's latest
:class:`~rollout.local.data_plane.watcher.Snapshot`, picks one of the chosen target
group's registered targets in turn, and forwards method, path, query, headers (Host
kept, ``X-Forwarded-*`` added as ALB adds them) and body to the local process standing
in for that target. What the target answers goes back unchanged; what ALB would answer
itself it answers the same way:

- 503 when the action forwards nowhere or the target group has no target;
- 502 when the target has no local process (``addresses`` gives None) or refuses,
  resets or breaks the connection;
- 504 when the target does not answer within :data:`FORWARD_TIMEOUT` (ALB's answer to
  a target that times out).

``addresses(target_group_arn, target_id)`` gives the ``127.0.0.1:PORT`` of the process
standing in for a target. It takes the group too because a target id need not say
which colour it serves: the stand-in target of an ``external`` colour has the same id
in both colours' groups.

Every answer names its colour in :data:`COLOUR_HEADER` (for the traffic tally)
and is recorded in :class:`~rollout.local.data_plane.alb_metrics.AlbMetrics`.

A sticky forward (see :mod:`~rollout.local.data_plane.routing`) is honoured from the
request's cookies; when it drew the group, the answer, whoever gave it, sets ALB's two
stickiness cookies as ALB words them: ``AWSALBTG=<value>; Expires=<now + duration>;
Path=/`` and the same ``AWSALBTGCORS`` with ``SameSite=None; Secure``.
"""

from __future__ import annotations

import itertools
import random
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from email.utils import formatdate

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from rollout.local.data_plane.alb_metrics import AlbMetrics
from rollout.local.data_plane.lambda_host import ELB_ERROR_HEADER
from rollout.local.data_plane.routing import (
    STICKINESS_COOKIE,
    STICKINESS_CORS_COOKIE,
    NoTargetGroup,
    Routed,
)
from rollout.local.data_plane.watcher import ListenerWatcher

Addresses = Callable[[str, str], str | None]
"""``(target group ARN, target id)`` → ``"127.0.0.1:PORT"``, or None: nothing local."""
COLOUR_HEADER = "X-Rollout-Colour"
"""The answer header naming the colour whose target group the request was routed to."""
FORWARD_TIMEOUT = 10.0
ELB_ERROR = ELB_ERROR_HEADER.encode()
"""A Lambda target's failed invocation, which ALB answers and counts as its own 502."""
METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]
HOP_BY_HOP = frozenset({b"connection", b"keep-alive", b"proxy-authenticate",
                        b"proxy-authorization", b"te", b"trailer", b"transfer-encoding",
                        b"upgrade", b"content-length"})


ELB_ANSWERS = {502: "502 Bad Gateway", 503: "503 Service Temporarily Unavailable",
               504: "504 Gateway Time-out"}


@dataclass(frozen=True)
class Forwarded:
    """What the target answered and how long it took to start answering."""

    status: int
    headers: list[tuple[bytes, bytes]]
    body: bytes
    seconds: float


class Listener:
    """The request handler behind :func:`listener_app`, with its one HTTP client."""

    def __init__(self, watcher: ListenerWatcher, metrics: AlbMetrics, addresses: Addresses,
                 draw: Callable[[], float] = random.random) -> None:
        self._watcher = watcher
        self._metrics = metrics
        self._addresses = addresses
        self._draw = draw
        self._colours = {arn: colour for colour, arn
                         in watcher.cohort.target_group_arns.items()}
        self._turns: dict[str, Iterator[int]] = {}
        self._http = httpx.AsyncClient(timeout=FORWARD_TIMEOUT, trust_env=False,
                                       follow_redirects=False)

    async def handle(self, request: Request) -> Response:
        snapshot = self._watcher.snapshot()
        try:
            routed = snapshot.table.decide(request.headers.get("host", ""), request.headers,
                                           self._draw(), request.cookies)
        except NoTargetGroup:
            self._metrics.record(None, 503, True, 0.0)
            return _elb_answer(503, None)
        arn = routed.target_group
        colour = self._colours.get(arn) or arn.rsplit("/", 2)[-2]
        targets = snapshot.targets.get(arn, ())
        if not targets:
            self._metrics.record(arn, 503, True, 0.0)
            return _elb_answer(503, colour, routed)
        turn = next(self._turns.setdefault(arn, itertools.count()))
        address = self._addresses(arn, targets[turn % len(targets)])
        forwarded: Forwarded | int = 502 if address is None else await self._forward(
            request, address)
        if isinstance(forwarded, int):
            self._metrics.record(arn, forwarded, True, 0.0)
            return _elb_answer(forwarded, colour, routed)
        elb_error = any(name.lower() == ELB_ERROR for name, _ in forwarded.headers)
        self._metrics.record(arn, forwarded.status, elb_error, forwarded.seconds)
        if elb_error:
            return _elb_answer(forwarded.status, colour, routed)
        response = Response(forwarded.body, status_code=forwarded.status)
        response.raw_headers = [*forwarded.headers, *_answer_headers(len(forwarded.body),
                                                                     colour, routed)]
        return response

    async def _forward(self, request: Request, address: str) -> Forwarded | int:
        """The target's answer, or the status ALB answers with when there is none."""
        query = request.scope.get("query_string", b"")
        path = request.scope.get("raw_path") or request.url.path.encode()
        url = f"http://{address}{path.decode('latin-1')}"
        if query:
            url += f"?{query.decode('latin-1')}"
        outgoing = self._http.build_request(
            request.method, url, headers=_forwarded_headers(request),
            content=await request.body())
        started = time.perf_counter()
        try:
            upstream = await self._http.send(outgoing, stream=True)
            seconds = time.perf_counter() - started
            try:
                body = b"".join([chunk async for chunk in upstream.aiter_raw()])
            finally:
                await upstream.aclose()
        except httpx.TimeoutException:
            return 504
        except httpx.TransportError:
            return 502
        kept = [(name, value) for name, value in upstream.headers.raw
                if name.lower() not in HOP_BY_HOP]
        return Forwarded(upstream.status_code, kept, body, seconds)

    async def aclose(self) -> None:
        await self._http.aclose()


def _forwarded_headers(request: Request) -> list[tuple[bytes, bytes]]:
    """The request's headers, hop-by-hop ones dropped, with ALB's ``X-Forwarded-*``."""
    client = request.client.host if request.client else ""
    server = request.scope.get("server") or ("", 80)
    kept = [(name, value) for name, value in request.headers.raw
            if name.lower() not in HOP_BY_HOP and not name.lower().startswith(b"x-forwarded-")]
    earlier = request.headers.get("x-forwarded-for")
    chain = f"{earlier}, {client}" if earlier else client
    return [*kept, (b"x-forwarded-for", chain.encode()), (b"x-forwarded-proto", b"http"),
            (b"x-forwarded-port", str(server[1]).encode())]


def _answer_headers(length: int, colour: str | None,
                    routed: Routed | None = None) -> list[tuple[bytes, bytes]]:
    found = [(b"content-length", str(length).encode())]
    if colour:
        found.append((COLOUR_HEADER.lower().encode(), colour.encode()))
    if routed is not None and routed.stick_for is not None:
        found += stickiness_cookies(routed.cookie_value, routed.stick_for, time.time())
    return found


def stickiness_cookies(value: str, seconds: int, now: float) -> list[tuple[bytes, bytes]]:
    """The ``Set-Cookie`` headers ALB answers with when it drew a sticky group at ``now``."""
    expires = formatdate(now + seconds, usegmt=True)
    plain = f"{STICKINESS_COOKIE}={value}; Expires={expires}; Path=/"
    cors = f"{STICKINESS_CORS_COOKIE}={value}; Expires={expires}; Path=/; SameSite=None; Secure"
    return [(b"set-cookie", plain.encode()), (b"set-cookie", cors.encode())]


def _elb_answer(status: int, colour: str | None, routed: Routed | None = None) -> Response:
    """The listener's own answer, as ALB words it."""
    body = f"<html><body><center><h1>{ELB_ANSWERS[status]}</h1></center></body></html>\n"
    response = Response(body.encode(), status_code=status)
    response.raw_headers = [(b"content-type", b"text/html"),
                            *_answer_headers(len(body.encode()), colour, routed)]
    return response


def listener_app(watcher: ListenerWatcher, metrics: AlbMetrics, addresses: Addresses,
                 draw: Callable[[], float] = random.random) -> Starlette:
    """The listener as an ASGI app; ``app.state.listener`` is its :class:`Listener`, whose
    ``aclose()`` closes the shared HTTP client (on the loop that served it)."""
    listener = Listener(watcher, metrics, addresses, draw)
    app = Starlette(routes=[Route("/{path:path}", listener.handle, methods=METHODS)])
    app.state.listener = listener
    return app
