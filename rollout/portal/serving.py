"""Serving the preferences page with uvicorn: on loopback unless a host is allowed by name.

The page speaks plain http here, and every request carries a tenant's token, so it
listens on this machine only unless the user names the other address on purpose (TLS
then belongs in front of it). uvicorn's access log stays off: its request line would
print the token of every link opened. The socket is bound before uvicorn starts, so a
taken port is one line of bad input and the URL printed is the one really served
(port 0 picks a free one).
"""

from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any

import uvicorn

from rollout.choices.links import CHOOSE_PATH
from rollout.errors import BadInput
from rollout.host_allow_list import address_of

LOOPBACK = "127.0.0.1"
DEFAULT_PORT = 8080


def is_loopback(host: str) -> bool:
    if host.lower().rstrip(".") == "localhost":
        return True
    try:
        return address_of(host).is_loopback
    except ValueError:
        return False


def checked_host(host: str, allowed: Iterable[str]) -> str:
    """``host`` when it is loopback or named in ``allowed`` (``--allow-host``)."""
    if is_loopback(host) or host.lower() in {name.lower() for name in allowed}:
        return host
    raise BadInput(f"--host {host}: the page carries tenants' links over plain http, so it "
                   f"listens on loopback only; to serve on {host} on purpose add "
                   f"--allow-host {host} (and put TLS in front of it)")


def listening_socket(host: str, port: int) -> socket.socket:
    """A socket bound to ``host``:``port``; :class:`BadInput` when it cannot be."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise BadInput(f"cannot listen on {host} port {port} ({exc.strerror or exc}): "
                       "choose another with --port") from None
    return sock


def served_url(sock: socket.socket) -> str:
    """The page's address on ``sock``, without any token: ``http://HOST:PORT/choose``."""
    host, port = sock.getsockname()[:2]
    shown = f"[{host}]" if ":" in host else host
    return f"http://{shown}:{port}{CHOOSE_PATH}"


def portal_server(app: Any) -> uvicorn.Server:
    """uvicorn for ``app``, its access log off, only warnings and errors on stderr; run it
    with ``run(sockets=[listening_socket(...)])``."""
    config = uvicorn.Config(app, access_log=False, log_level="warning", lifespan="off",
                            server_header=False, timeout_graceful_shutdown=5)
    return uvicorn.Server(config)


@contextmanager
def serving_in_background(app: Any, sock: socket.socket) -> Iterator[str]:
    """``app`` served on ``sock`` by a background thread while the block runs (the demo,
    the tests); yields :func:`served_url`. ``sock`` stays the caller's to close."""
    server = portal_server(app)
    thread = threading.Thread(target=asyncio.run, args=(server.serve(sockets=[sock]),),
                              name="preferences-page", daemon=True)
    thread.start()
    try:
        while not server.started:
            if not thread.is_alive():
                raise RuntimeError("the preferences page's server stopped while starting")
            thread.join(timeout=0.02)
        yield served_url(sock)
    finally:
        server.should_exit = True
        thread.join(timeout=10)
