"""Waiting for something another thread, process or Step Functions execution does."""

from __future__ import annotations

import time
from collections.abc import Callable


def wait_for(what: Callable[[], bool], within: float = 20.0, every: float = 0.2) -> None:
    """Return once ``what()`` is true; fail the test when it is not within ``within`` s."""
    deadline = time.monotonic() + within
    while not what():
        assert time.monotonic() < deadline, "waited in vain"
        time.sleep(every)
