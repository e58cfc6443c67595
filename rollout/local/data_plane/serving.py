"""Serve one cohort's local listener on a loopback port, for as long as a ``with`` lasts.

Starts the three parts in the order a request needs them, and stops them the other
way round: the :class:`ListenerWatcher` (its first read raises if the listener cannot
be read at all), the :class:`AlbMetrics` flusher, then uvicorn in a thread of its own;
the base URL is yielded once uvicorn listens. On exit uvicorn stops first, so the last
requests are recorded before the metrics' final flush.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import uvicorn

from rollout.aws_clients import AwsClients
from rollout.discovery import CohortResources
from rollout.local.data_plane.alb_metrics import AlbMetrics
from rollout.local.data_plane.proxy import Addresses, listener_app
from rollout.local.data_plane.watcher import LISTENER_READ_EVERY, ListenerWatcher
from rollout.local.server import LOOPBACK, free_port

START_TIMEOUT = 10.0
STOP_TIMEOUT = 10.0


@contextmanager
def serve_cohort(clients: AwsClients, cohort: CohortResources, addresses: Addresses, *,
                 every: float = LISTENER_READ_EVERY,
                 on_change: Callable[[float], None] | None = None) -> Iterator[str]:
    """The cohort's listener at ``http://127.0.0.1:PORT`` while the block runs.

    ``addresses(target_group_arn, target_id)`` names the local process standing in for
    each registered target (see :mod:`rollout.local.data_plane.proxy`); ``every`` is how
    often the listener is read; ``on_change`` is told when a changed listener is applied
    (see :class:`~rollout.local.data_plane.watcher.ListenerWatcher`).
    """
    with ListenerWatcher(clients, cohort, every, on_change=on_change) as watcher, \
            AlbMetrics(clients, cohort) as metrics, \
            serving_app(listener_app(watcher, metrics, addresses)) as url:
        yield url


@contextmanager
def serving_app(app: Any, port: int | None = None) -> Iterator[str]:
    """Any ASGI ``app`` served by uvicorn on a loopback port in a thread; its base URL.

    When ``app.state.listener`` has an ``aclose``, it is awaited on the server's loop
    once the server has stopped (the listener's HTTP client lives on that loop).
    """
    port = port or free_port()
    config = uvicorn.Config(app, host=LOOPBACK, port=port, log_level="warning",
                            lifespan="off", server_header=False, date_header=False,
                            timeout_graceful_shutdown=5)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=asyncio.run, args=(_run(server, app),),
                              name=f"uvicorn-{port}", daemon=True)
    thread.start()
    try:
        _wait_started(server, thread)
        yield f"http://{LOOPBACK}:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=STOP_TIMEOUT)


async def _run(server: uvicorn.Server, app: Any) -> None:
    try:
        await server.serve()
    finally:
        listener = getattr(getattr(app, "state", None), "listener", None)
        if listener is not None and hasattr(listener, "aclose"):
            await listener.aclose()


def _wait_started(server: uvicorn.Server, thread: threading.Thread) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while not server.started:
        if not thread.is_alive():
            raise RuntimeError("the local listener stopped while starting (is the port taken?)")
        if time.monotonic() > deadline:
            raise RuntimeError(f"the local listener did not start within {START_TIMEOUT:.0f} s")
        time.sleep(0.01)
