"""Run a stack deploy in a process of its own, started from a warm fork server.

One fork server per host process (see :mod:`rollout.local.fork_server`),
started on first use and stopped at exit. ``fresh-interpreter`` starts a new
Python for each stack instead: slower, but what platforms without ``fork`` get.
"""

from __future__ import annotations

import atexit
import os
import pickle
import subprocess
import sys
import threading
from typing import IO, Literal

from rollout.local.messages import (
    ChildFailure,
    LocalDeployError,
    Outcome,
    StackRequest,
    StackSummary,
)

StartMethod = Literal["fork-server", "fresh-interpreter"]
SERVER = [sys.executable, "-m", "rollout.local.fork_server"]


def default_start_method() -> StartMethod:
    return "fork-server" if hasattr(os, "fork") else "fresh-interpreter"


class _ServerProcess:
    """A fork server child of this process, and the pipes to talk to it."""

    def __init__(self, once: bool) -> None:
        self.process = subprocess.Popen(
            [*SERVER, "--once"] if once else SERVER,
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, close_fds=True)

    def ask(self, request: StackRequest) -> Outcome | None:
        """Send ``request``; the outcome, or None when the server died."""
        requests: IO[bytes] | None = self.process.stdin
        replies: IO[bytes] | None = self.process.stdout
        assert requests is not None and replies is not None
        try:
            pickle.dump(request, requests)
            requests.flush()
            outcome: Outcome = pickle.load(replies)
        except (BrokenPipeError, EOFError):
            return None
        return outcome

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait()
        for pipe in (self.process.stdin, self.process.stdout):
            if pipe is not None:
                pipe.close()


_lock = threading.Lock()
_warm: _ServerProcess | None = None


def _stop_warm_server() -> None:
    global _warm
    with _lock:
        if _warm is not None:
            _warm.stop()
            _warm = None


atexit.register(_stop_warm_server)


def run_stack(request: StackRequest, start_method: StartMethod | None = None) -> StackSummary:
    """Deploy ``request.stack`` in a process of its own and return what it did.

    Raises :class:`LocalDeployError` with the child's one-line reason, or with
    how it died when it gave none.
    """
    global _warm
    failure = f"local up of stack {request.stack!r} failed"
    if (start_method or default_start_method()) == "fresh-interpreter":
        server = _ServerProcess(once=True)
        try:
            outcome = server.ask(request)
        finally:
            server.stop()
    else:
        with _lock:
            if _warm is None or _warm.process.poll() is not None:
                _warm = _ServerProcess(once=False)
            try:
                outcome = _warm.ask(request)
            except BaseException:
                # Interrupted mid-request: its reply must never answer the next one.
                _warm.stop()
                _warm = None
                raise
            if outcome is None:
                _warm.stop()
                _warm = None
    if outcome is None:
        raise LocalDeployError(f"{failure}: the local deployer's process died")
    if isinstance(outcome, ChildFailure):
        raise LocalDeployError(f"{failure}: {outcome.message}")
    return outcome
