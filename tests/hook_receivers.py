"""What the lifecycle-hook tests hand a hook and what stands in for its receiver.

A cohort and the facts of one rollout (with a test route whose token the tests look
for everywhere it must not be), and a real HTTP server on 127.0.0.1 in a thread that
records every request and answers as told: at once, with a chosen status, or never
(until the test ends), so a timeout is a real one.
"""

from __future__ import annotations

import contextlib
import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from rollout.discovery import CohortResources
from rollout.hooks.base import HookFacts, HookStage
from rollout.vocabulary.test_route import TestRoute as Route

TOKEN = "tok3n-FAKE-never-shown-0123456789"
"""The test route's token: given to hooks, never in what they show."""
HEADER = "X-Rollout-Test"
STARTED = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)

COHORT = CohortResources(
    app="shop", artefact_bucket="shop-artefacts", ledger_table="shop-ledger",
    notices_topic_arn="arn:aws:sns:eu-west-1:123456789012:shop-notices", cohort="canary",
    listener_arn="arn:aws:elasticloadbalancing:eu-west-1:123456789012:listener/app/lb/1/2",
    load_balancer_arn="arn:aws:elasticloadbalancing:eu-west-1:123456789012:loadbalancer/app/lb/1",
    target_group_arns={
        "blue": "arn:aws:elasticloadbalancing:eu-west-1:123456789012:targetgroup/b/1",
        "green": "arn:aws:elasticloadbalancing:eu-west-1:123456789012:targetgroup/g/2"},
    versions={"blue": "1.4.2", "green": "1.5.0"}, param_prefix="/shop/canary")


def facts(stage: HookStage = "after_test_traffic", *, route: bool = True) -> HookFacts:
    """Rollout 1.5.0 of canary, blue to green; with a test route unless ``route`` is False."""
    return HookFacts(app="shop", cohort="canary", release="1.5.0", old_version="1.4.2",
                     old_colour="blue", new_colour="green", stage=stage, started_at=STARTED,
                     test_route=Route(header=HEADER, token=TOKEN, colour="green")
                     if route else None)


@dataclass
class Received:
    """One request the receiver got."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Receiver:
    """A loopback HTTP server: answers ``status`` (``stall`` holds every answer back until
    the test ends) and keeps what it received."""

    status: int = 204
    headers: dict[str, str] = field(default_factory=dict)
    stall: bool = False
    received: list[Received] = field(default_factory=list)
    url: str = ""
    released: threading.Event = field(default_factory=threading.Event)


@contextlib.contextmanager
def serve(receiver: Receiver) -> Iterator[Receiver]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            receiver.received.append(Received(self.command, self.path, dict(self.headers),
                                              self.rfile.read(length)))
            if receiver.stall:
                receiver.released.wait(30)
            self.send_response(receiver.status)
            for name, value in receiver.headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            """Quiet."""

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                              daemon=True)
    thread.start()
    receiver.url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        yield receiver
    finally:
        receiver.released.set()
        server.shutdown()
        server.server_close()
