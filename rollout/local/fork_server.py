"""A warm process that forks one fresh child per stack deploy (``python -m`` this module).

``set_mocks`` is process-global, so every stack needs a process of its own, and a
new interpreter importing pulumi and pulumi_aws costs about 1.5 s. This server
pays that once: it imports :mod:`rollout.local.warm_imports`, then for each
request forks a child that runs :func:`rollout.local.program_run.deploy`.
What was imported is frozen out of the garbage collector's reach (:func:`gc.freeze`):
otherwise every full collection in a child walks those 300,000 objects again,
writing to (and so copying) each of their pages, which took most of a deploy's time. The
server never runs a program and starts no thread or event loop, so each child
starts as clean as a new interpreter. Forking here, rather than through
``multiprocessing``, also spares the caller's ``__main__`` from being re-imported.

Protocol: pickled :class:`StackRequest` objects on stdin, one pickled
:class:`StackSummary` or :class:`ChildFailure` on stdout per request. With
``--once`` the server runs a single request itself, without forking: the
fresh-interpreter mode, for platforms without ``fork`` and as a baseline.
"""

from __future__ import annotations

import gc
import os
import pickle
import signal
import sys
from collections.abc import Callable
from functools import partial
from typing import BinaryIO, TypeVar

from rollout.local.messages import ChildFailure, Outcome, StackRequest
from rollout.local.program_run import deploy

T = TypeVar("T")


def outcome_of(request: StackRequest) -> Outcome:
    """Deploy and report, turning any error into its first line."""
    try:
        return deploy(request)
    except Exception as exc:
        lines = str(exc).strip().splitlines()
        return ChildFailure(lines[0] if lines else type(exc).__name__)


def run_forked(work: Callable[[], T]) -> T | ChildFailure:
    """``work()`` run in a forked child of this (single-threaded) process; its pickled result.

    Whatever ``work`` does to process-global state, like ``set_mocks``, dies
    with the child.
    """
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(read_end)
        signal.signal(signal.SIGINT, signal.default_int_handler)
        code = 0
        try:
            payload = pickle.dumps(work())
            with os.fdopen(write_end, "wb") as results:
                results.write(payload)
        except BaseException:
            code = 1
        finally:
            os._exit(code)
    os.close(write_end)
    with os.fdopen(read_end, "rb") as results:
        data = results.read()
    _, status = os.waitpid(pid, 0)
    try:
        result: T = pickle.loads(data)
    except Exception:
        return ChildFailure(f"the deployer process died ({_describe(status)})")
    return result


def _describe(status: int) -> str:
    if os.WIFSIGNALED(status):
        return f"killed by signal {os.WTERMSIG(status)}"
    return f"exit code {os.waitstatus_to_exitcode(status)}"


def serve(requests: BinaryIO, replies: BinaryIO, *, once: bool) -> None:
    """Answer requests until the caller closes ``requests`` (or after one, with ``once``)."""
    while True:
        try:
            request: StackRequest = pickle.load(requests)
        except EOFError:
            return
        outcome = outcome_of(request) if once else run_forked(partial(outcome_of, request))
        pickle.dump(outcome, replies)
        replies.flush()
        if once:
            return


def main() -> None:
    once = "--once" in sys.argv[1:]
    # Ctrl-C reaches the whole process group: the deploying child stops (its
    # resources are already in the state), the caller stops, and the caller
    # stopping is what stops this server, without a traceback of its own.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    requests = os.fdopen(os.dup(0), "rb")
    replies = os.fdopen(os.dup(1), "wb")
    # Only the protocol uses the original stdin and stdout; anything the program
    # or Pulumi prints goes to stderr.
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.dup2(2, 1)
    if not once:
        import rollout.local.warm_imports  # noqa: F401

        gc.collect()
        gc.freeze()
    serve(requests, replies, once=once)


if __name__ == "__main__":
    main()
