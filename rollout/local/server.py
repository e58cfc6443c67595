"""An embedded moto server on a loopback port, with its request logging silenced.

moto comes with the ``[local]`` extra, which a production install leaves out: it is
imported only when a server starts, and every local stand-in first checks it is
there (:func:`require_local_extra`), so without it the user reads what to install.
"""

from __future__ import annotations

import importlib.util
import logging
import multiprocessing
import os
import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager
from multiprocessing.synchronize import Event as EventType

from rollout.aws_clients import region
from rollout.errors import BadInput
from rollout.stacks.providers import LOCAL_EXTRA_MISSING

LOOPBACK = "127.0.0.1"
FAKE_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
}


LOCAL_EXTRA_MODULES = ("moto", "flask", "werkzeug")
"""What ``moto[server]`` brings that the stand-ins use, checked without importing it."""


def require_local_extra() -> None:
    """:class:`BadInput` naming the extra to install, unless ``moto[server]`` is installed."""
    if any(importlib.util.find_spec(name) is None for name in LOCAL_EXTRA_MODULES):
        raise BadInput(LOCAL_EXTRA_MISSING)


def silence_request_logging() -> None:
    """moto's server logs every request through werkzeug, and its state machine
    interpreter logs as an ERROR every ``IsPresent`` check that finds nothing (the
    definitions' normal way of asking "is there an alarm, a halt?"): a user wants none
    of that."""
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    logging.getLogger("moto.stepfunctions.parser").setLevel(logging.CRITICAL)


def free_port() -> int:
    """A free TCP port on the loopback interface."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((LOOPBACK, 0))
        return int(sock.getsockname()[1])


def wait_until_listening(port: int, timeout: float = 10.0) -> None:
    """Block until something accepts connections on ``port``."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            with socket.create_connection((LOOPBACK, port), timeout=0.5):
                return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


@contextmanager
def pointed_at(endpoint: str) -> Iterator[None]:
    """This process's AWS settings point at ``endpoint`` with moto's fake credentials; the
    previous environment is restored afterwards."""
    names = (*FAKE_CREDENTIALS, "AWS_ENDPOINT_URL", "AWS_REGION", "AWS_DEFAULT_REGION")
    saved = {key: os.environ.get(key) for key in names}
    os.environ.update(FAKE_CREDENTIALS)
    os.environ["AWS_ENDPOINT_URL"] = endpoint
    os.environ["AWS_REGION"] = os.environ["AWS_DEFAULT_REGION"] = region()
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


@contextmanager
def _pointed_at_listening(port: int) -> Iterator[str]:
    """Once the server on ``port`` answers, this process's AWS settings point at it."""
    wait_until_listening(port)
    endpoint = f"http://{LOOPBACK}:{port}"
    with pointed_at(endpoint):
        yield endpoint


@contextmanager
def embedded_moto(port: int | None = None) -> Iterator[str]:
    """Run a moto server in a thread and point this process's AWS settings at it.

    Yields the endpoint URL. The server executes state machines
    (:mod:`rollout.local.stepfunctions_moto`), parsing each definition once
    (:mod:`rollout.local.stepfunctions_parsing`), and serves one DynamoDB item operation at
    a time (:mod:`rollout.local.dynamodb_serialized`); it finds a request's service without
    the disk (:mod:`rollout.local.moto_host_lookup`). The previous environment is restored
    afterwards.
    """
    require_local_extra()
    from moto.server import ThreadedMotoServer

    from rollout.local import (
        cloudwatch_percentiles,
        dynamodb_serialized,
        ecs_tasks,
        moto_host_lookup,
        stepfunctions_moto,
        stepfunctions_parsing,
    )

    silence_request_logging()
    ecs_tasks.install()
    cloudwatch_percentiles.install()
    stepfunctions_moto.install()
    stepfunctions_parsing.install()
    dynamodb_serialized.install()
    moto_host_lookup.install()
    port = port or free_port()
    server = ThreadedMotoServer(ip_address=LOOPBACK, port=port, verbose=False)
    with stepfunctions_moto.executing(port):
        server.start()
        try:
            with _pointed_at_listening(port) as endpoint:
                yield endpoint
        finally:
            server.stop()


def _serve(port: int, ready: EventType, stop: EventType) -> None:
    with embedded_moto(port):
        ready.set()
        stop.wait()


@contextmanager
def moto_in_child_process() -> Iterator[str]:
    """An embedded moto server in a child process; this process's AWS settings point at it.

    For measurements and the demo: a server in the same process would share its
    interpreter lock with the data plane and the traffic, on a machine of two cores.
    """
    require_local_extra()
    spawn = multiprocessing.get_context("spawn")
    ready, stop = spawn.Event(), spawn.Event()
    port = free_port()
    child = spawn.Process(target=_serve, args=(port, ready, stop), daemon=True)
    child.start()
    if not ready.wait(timeout=60):
        raise RuntimeError("the moto server did not start")
    try:
        with _pointed_at_listening(port) as endpoint:
            yield endpoint
    finally:
        stop.set()
        child.join(timeout=10)
