"""The local data plane: how fast a weight change takes effect, and what the listener costs.

One ``external`` cohort deployed into moto; moto, each colour's app and the data plane
each run in a process of their own (spawned), so the measuring process holds only the
clients. Three measurements, side by side where there is something to compare:

* weight change: ``AlbRouter.set_weights`` flips all traffic to the other colour; from
  the moment it returns, one client polls the listener until the new colour answers.
  Idle, then again while four other clients keep the listener busy. The promise is
  100 ms.
* per-request latency, one request at a time: straight to the blue app process, and
  through the data plane to that same process (its p50 and p99, and the difference:
  the listener's overhead).
* the highest sustained requests/s in one run: 1, 4 and 16 client threads with a
  connection each, 2 s per level, straight and through; the best level counts.

The client is Python (httpx) in one process, so the straight-to-app numbers are partly
the client's own limit; on a machine with few cores every process competes for them.

    .venv/bin/python -m bench.data_plane [REQUESTS] [ROUNDS]
"""

from __future__ import annotations

import multiprocessing
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from multiprocessing.queues import Queue
from multiprocessing.synchronize import Event
from pathlib import Path

import httpx
from rich.console import Console
from rich.table import Table
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from rollout.aws_clients import AwsClients
from rollout.discovery import CohortResources
from rollout.local.data_plane.proxy import COLOUR_HEADER
from rollout.local.data_plane.serving import serve_cohort, serving_app
from rollout.local.fleets import deploy_fleet
from rollout.local.server import moto_in_child_process
from rollout.routers.alb import AlbRouter
from rollout.vocabulary.colours import COLOURS, Colour

PROMISE_MS = 100.0
LEVELS = (1, 4, 16)
LEVEL_SECONDS = 2.0
BUSY_CLIENTS = 4
SPAWN = multiprocessing.get_context("spawn")
TIMEOUT = httpx.Timeout(10.0)


def colour_app(colour: str) -> Starlette:
    """A colour's app: answers its name, as small as an app gets."""
    async def answer(request: Request) -> PlainTextResponse:
        return PlainTextResponse(colour)
    return Starlette(routes=[Route("/{path:path}", answer)])


@dataclass(frozen=True)
class StandIns:
    """``addresses`` of the data plane: each colour's target group → its app process."""

    by_group: dict[str, str]

    def __call__(self, target_group_arn: str, target_id: str) -> str | None:
        return self.by_group.get(target_group_arn)


def _app_process(colour: str, urls: Queue[str], stop: Event) -> None:
    with serving_app(colour_app(colour)) as url:
        urls.put(url)
        stop.wait()


def _data_plane_process(cohort: CohortResources, stand_ins: StandIns, urls: Queue[str],
                        stop: Event) -> None:
    with serve_cohort(AwsClients(), cohort, stand_ins) as url:
        urls.put(url)
        stop.wait()


@contextmanager
def in_process(target: Callable[..., None], *args: object) -> Iterator[str]:
    """Run ``target(*args, urls, stop)`` in a spawned process; the URL it serves."""
    urls: Queue[str] = SPAWN.Queue()
    stop = SPAWN.Event()
    child = SPAWN.Process(target=target, args=(*args, urls, stop), daemon=True)
    child.start()
    try:
        yield urls.get(timeout=60)
    finally:
        stop.set()
        child.join(timeout=15)


def sequential_ms(url: str, requests: int) -> list[float]:
    """Milliseconds of each of ``requests`` GETs, one after another on one connection."""
    with httpx.Client(base_url=url, timeout=TIMEOUT, trust_env=False) as client:
        for _ in range(min(100, requests)):
            client.get("/")
        found = []
        for _ in range(requests):
            started = time.perf_counter()
            client.get("/").raise_for_status()
            found.append(1000 * (time.perf_counter() - started))
    return found


def _keep_sending(url: str, stop: threading.Event, done: list[int]) -> None:
    sent = 0
    with httpx.Client(base_url=url, timeout=TIMEOUT, trust_env=False) as client:
        while not stop.is_set():
            client.get("/").raise_for_status()
            sent += 1
    done.append(sent)


def sustained_rps(url: str, clients: int, seconds: float = LEVEL_SECONDS) -> float:
    """Requests/s ``clients`` threads got answered, each sending one after another."""
    done: list[int] = []
    stop = threading.Event()
    threads = [threading.Thread(target=_keep_sending, args=(url, stop, done))
               for _ in range(clients)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    stop.wait(seconds)
    stop.set()
    for thread in threads:
        thread.join(timeout=30)
    return sum(done) / (time.perf_counter() - started)


def switch_ms(router: AlbRouter, url: str, to: Colour) -> float:
    """Milliseconds from ``set_weights`` returning to the first answer from ``to``."""
    router.set_weights({colour: 100 if colour == to else 0 for colour in COLOURS})
    written = time.perf_counter()
    deadline = written + 5
    with httpx.Client(base_url=url, timeout=TIMEOUT, trust_env=False) as client:
        while time.perf_counter() < deadline:
            if client.get("/").headers.get(COLOUR_HEADER) == to:
                return 1000 * (time.perf_counter() - written)
    raise RuntimeError(f"{to} did not answer within 5 s of the weight change")


def switches(router: AlbRouter, url: str, rounds: int) -> list[float]:
    found = []
    for index in range(rounds):
        target: Colour = "green" if index % 2 == 0 else "blue"
        found.append(switch_ms(router, url, target))
        time.sleep(0.05)
    return found


def busy_switches(router: AlbRouter, url: str, rounds: int) -> tuple[list[float], float]:
    """:func:`switches` while other clients keep the listener busy; and their requests/s."""
    done: list[int] = []
    stop = threading.Event()
    threads = [threading.Thread(target=_keep_sending, args=(url, stop, done), daemon=True)
               for _ in range(BUSY_CLIENTS)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    try:
        found = switches(router, url, rounds)
    finally:
        stop.set()
    for thread in threads:
        thread.join(timeout=30)
    return found, sum(done) / (time.perf_counter() - started)


def quantile(values: list[float], percent: int) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[percent - 1]


def latency_table(direct: list[float], through: list[float], rps: dict[str, list[float]]
                  ) -> Table:
    table = Table(title="per request: straight to the app process vs through the data plane")
    for column in ("", "straight to app", "through data plane", "difference"):
        table.add_column(column, justify="right" if column else "left")
    for label, percent in (("p50 (ms)", 50), ("p99 (ms)", 99)):
        a, b = quantile(direct, percent), quantile(through, percent)
        table.add_row(f"latency {label}", f"{a:.2f}", f"{b:.2f}", f"+{b - a:.2f}")
    table.add_section()
    for index, clients in enumerate(LEVELS):
        a, b = rps["direct"][index], rps["through"][index]
        table.add_row(f"requests/s, {clients} client(s)", f"{a:.0f}", f"{b:.0f}",
                      f"x{b / a:.2f}")
    a, b = max(rps["direct"]), max(rps["through"])
    table.add_row("[bold]highest sustained requests/s", f"[bold]{a:.0f}", f"[bold]{b:.0f}",
                  f"x{b / a:.2f}")
    return table


def switch_table(idle: list[float], busy: list[float], busy_rps: float) -> Table:
    table = Table(title=f"weight change to first answer from the new colour "
                        f"(promise: {PROMISE_MS:.0f} ms)")
    for column in ("", "idle", f"busy (~{busy_rps:.0f} req/s)"):
        table.add_column(column, justify="right" if column else "left")
    for label, pick in (("p50 (ms)", lambda v: quantile(v, 50)),
                        ("p99 (ms)", lambda v: quantile(v, 99)), ("max (ms)", max)):
        table.add_row(label, f"{pick(idle):.1f}", f"{pick(busy):.1f}")
    table.add_row("within the promise", *(f"{sum(v <= PROMISE_MS for v in found)}/{len(found)}"
                                          for found in (idle, busy)))
    return table


def main(requests: int, rounds: int) -> None:
    console = Console(width=110)
    with moto_in_child_process(), tempfile.TemporaryDirectory() as base:
        fleet = deploy_fleet(Path(base), {"c": ["aurora"]})
        cohort = fleet.cohorts["c"]
        router = AlbRouter(fleet.clients, cohort)
        router.set_weights({"blue": 100, "green": 0})
        with in_process(_app_process, "blue") as blue, \
                in_process(_app_process, "green") as green:
            apps = {"blue": blue, "green": green}
            stand_ins = StandIns({cohort.target_group_arns[c]: apps[c].removeprefix("http://")
                                  for c in COLOURS})
            with in_process(_data_plane_process, cohort, stand_ins) as listener:
                idle = switches(router, listener, rounds)
                busy, busy_rps = busy_switches(router, listener, rounds)
                router.set_weights({"blue": 100, "green": 0})
                time.sleep(0.2)
                direct, through = sequential_ms(blue, requests), sequential_ms(listener, requests)
                rps = {"direct": [sustained_rps(blue, n) for n in LEVELS],
                       "through": [sustained_rps(listener, n) for n in LEVELS]}
    console.print()
    console.print(switch_table(idle, busy, busy_rps))
    console.print(latency_table(direct, through, rps))


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 2000,
         int(sys.argv[2]) if len(sys.argv) > 2 else 20)
