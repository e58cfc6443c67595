"""Traffic for rehearsals: requests per tenant, by Host header, to a local listener.

Bounded in count and in time, and sent to a loopback address only: it stands in for a
cohort's customers during a rehearsal (``rollout local traffic``, the demo, the tests).
Each answer is tallied by the colour that served it (the data plane's
``X-Rollout-Colour`` header), with the status codes, so a rehearsal sees what tenants
got while weights move.
"""

from __future__ import annotations

import http.cookiejar
import itertools
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from pydantic import BaseModel

from rollout.aws_clients import AwsClients
from rollout.discovery import CohortResources
from rollout.errors import BadInput
from rollout.local.data_plane.colour_processes import ColourProcesses
from rollout.local.data_plane.proxy import COLOUR_HEADER
from rollout.local.data_plane.serving import serve_cohort
from rollout.local.data_plane.watcher import LISTENER_READ_EVERY
from rollout.local.endpoint import why_not_local
from rollout.model.stack import TenantRef

MAX_RPS = 2_000
MAX_SECONDS = 3_600.0
MAX_REQUESTS = 200_000
NO_COLOUR = "none"
SENDERS = 16
"""Requests in flight at most: a rehearsal's customers do not wait for each other."""


class TrafficSummary(BaseModel):
    """What ``rollout local traffic --json`` prints: requests sent and what answered them."""

    requests: int
    seconds: float
    per_colour: dict[str, int]
    statuses: dict[str, int]
    per_tenant: dict[str, dict[str, int]]
    failed: int
    """Requests that got no HTTP answer at all (refused, reset, timed out)."""


@dataclass(frozen=True)
class Answer:
    """One request as its sender saw it: whose it was, which colour served it (the data
    plane's header), its status (None: no HTTP answer), when it was sent and answered
    (``time.time()``), and the body."""

    tenant: str
    colour: str
    status: int | None
    sent_at: float
    answered_at: float
    body: bytes = b""


@dataclass
class Tally:
    """Answers counted so far, thread-safe: what the live display and the summary show."""

    per_colour: Counter[str] = field(default_factory=Counter)
    statuses: Counter[str] = field(default_factory=Counter)
    per_tenant: dict[str, Counter[str]] = field(default_factory=dict)
    failed: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def answered(self, answer: Answer) -> None:
        """Count one answer (a subclass may keep more of it)."""
        self.add(answer.tenant, answer.colour, answer.status)

    def add(self, tenant: str, colour: str, status: int | None) -> None:
        with self._lock:
            if status is None:
                self.failed += 1
                colour = NO_COLOUR
            else:
                self.statuses[str(status)] += 1
            self.per_colour[colour] += 1
            self.per_tenant.setdefault(tenant, Counter())[colour] += 1

    @property
    def requests(self) -> int:
        return sum(self.per_colour.values())

    def summary(self, seconds: float) -> TrafficSummary:
        with self._lock:
            return TrafficSummary(
                requests=self.requests, seconds=round(seconds, 3),
                per_colour=dict(self.per_colour), statuses=dict(self.statuses),
                per_tenant={tenant: dict(found) for tenant, found in self.per_tenant.items()},
                failed=self.failed)


def checked_loopback(url: str) -> str:
    """``url`` if its host is (or resolves only to) a loopback address, by the local
    guard's own rule with no host allowed beyond it; :class:`BadInput` otherwise."""
    problem = why_not_local(url, frozenset())
    if problem is not None:
        raise BadInput(f"rehearsal traffic goes to loopback addresses only: {problem}")
    return url


def checked_rate(rps: float, duration: float) -> int:
    """How many requests ``rps`` for ``duration`` seconds means; :class:`BadInput` past the
    bounds (a rehearsal must end, and must not swamp the machine)."""
    if not 0 < rps <= MAX_RPS:
        raise BadInput(f"--rps must be above 0 and at most {MAX_RPS}, got {rps:g}")
    if not 0 < duration <= MAX_SECONDS:
        raise BadInput(f"--duration must be above 0 and at most 1h, got {duration:g}s")
    return min(MAX_REQUESTS, max(1, round(rps * duration)))


def _no_cookies() -> http.cookiejar.CookieJar:
    """A jar that keeps nothing: the rehearsal's requests are many clients' first requests,
    so a stickiness cookie (``router: {stickiness: ...}``) must not send them all after the
    first answer's colour."""
    return http.cookiejar.CookieJar(http.cookiejar.DefaultCookiePolicy(allowed_domains=[]))


def send_traffic(url: str, tenants: Sequence[TenantRef], *, rps: float, duration: float,
                 tally: Tally | None = None, stop: threading.Event | None = None,
                 on_request: Callable[[Tally], None] | None = None) -> TrafficSummary:
    """Send ``rps`` requests a second for ``duration`` seconds, tenants in turn by Host.

    Paced against the clock and sent by up to :data:`SENDERS` threads, so a slow answer
    delays no other request; when all of them wait for answers, the next request waits
    for one (no backlog builds up, so a ``stop`` ends the traffic at once and a slow
    listener sees fewer requests, as a real client's would); at most ``rps * duration``
    requests, ended early by ``stop``; each answer tallied by the colour that served it.
    """
    checked_loopback(url)
    total = checked_rate(rps, duration)
    hosts = [tenant for tenant in tenants if tenant.host]
    if not hosts:
        raise BadInput("no tenant of the cohort has a host to send requests as")
    tally = tally or Tally()
    started = time.monotonic()
    with httpx.Client(base_url=url, timeout=5.0, cookies=_no_cookies()) as client, \
            ThreadPoolExecutor(SENDERS, thread_name_prefix="rehearsal") as senders:

        def send(tenant: TenantRef) -> None:
            sent_at = time.time()
            try:
                got = client.get("/", headers={"Host": str(tenant.host)})
            except httpx.HTTPError:
                tally.answered(Answer(tenant.id, NO_COLOUR, None, sent_at, time.time()))
            else:
                tally.answered(Answer(tenant.id, got.headers.get(COLOUR_HEADER, NO_COLOUR),
                                      got.status_code, sent_at, time.time(), got.content))
            if on_request is not None:
                on_request(tally)

        free = threading.BoundedSemaphore(SENDERS)

        def stopped() -> bool:
            return stop is not None and stop.is_set()

        def a_free_sender() -> bool:
            """Wait for a sender to be free; False once ``stop`` is set meanwhile."""
            while not free.acquire(timeout=0.05):
                if stopped():
                    return False
            return True

        for index, tenant in zip(range(total), itertools.cycle(hosts), strict=False):
            wait = started + index / rps - time.monotonic()
            if wait > 0:
                time.sleep(wait)
            if stopped() or not a_free_sender():
                break
            senders.submit(send, tenant).add_done_callback(lambda _: free.release())
    return tally.summary(time.monotonic() - started)


@contextmanager
def traffic_meanwhile(url: str, tenants: Sequence[TenantRef], *, rps: float,
                      duration: float, tally: Tally) -> Iterator[threading.Event]:
    """:func:`send_traffic` in a daemon thread while the block runs, into ``tally``;
    stopped and waited for when the block ends. Yields the stop event (setting it ends
    the traffic early)."""
    stop = threading.Event()
    sender = threading.Thread(target=send_traffic, args=(url, tenants), name="traffic",
                              kwargs={"rps": rps, "duration": duration, "tally": tally,
                                      "stop": stop}, daemon=True)
    sender.start()
    try:
        yield stop
    finally:
        stop.set()
        sender.join(timeout=10)


@contextmanager
def local_listener(clients: AwsClients, cohort: CohortResources, *,
                   on_change: Callable[[float], None] | None = None,
                   every: float = LISTENER_READ_EVERY) -> Iterator[str]:
    """The cohort's listener on a loopback port while the block runs, each colour's code
    running as a local process of its artefact behind it (see
    :mod:`rollout.local.data_plane`); yields the listener's URL. ``on_change`` is told
    (``time.time()``) whenever the listener starts routing by a changed listener;
    ``every`` is how often the listener is read (each reading costs moto two requests)."""
    with local_colours(clients, cohort, on_change=on_change, every=every) as (_, url):
        yield url


@contextmanager
def local_colours(clients: AwsClients, cohort: CohortResources, *,
                  on_change: Callable[[float], None] | None = None,
                  every: float = LISTENER_READ_EVERY,
                  ) -> Iterator[tuple[ColourProcesses, str]]:
    """:func:`local_listener`, yielding its colour processes too: a rehearsal can stop one
    (:meth:`ColourProcesses.stop`) to play a colour dying under traffic."""
    with tempfile.TemporaryDirectory(prefix="rollout-colours-") as work, \
            ColourProcesses(clients, cohort, Path(work)) as processes, \
            serve_cohort(clients, cohort, processes.address, every=every,
                         on_change=on_change) as url:
        yield processes, url


def rehearse(clients: AwsClients, cohort: CohortResources, *, rps: float, duration: float,
             on_request: Callable[[Tally], None] | None = None) -> TrafficSummary:
    """``rollout local traffic``: the cohort's tenants' requests through its local listener."""
    checked_rate(rps, duration)
    with local_listener(clients, cohort) as url:
        return send_traffic(url, cohort.tenants, rps=rps, duration=duration,
                            on_request=on_request)
