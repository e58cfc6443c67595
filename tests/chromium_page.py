"""Open a page in headless Chromium, watch it and act on it through the DevTools Protocol.

No Node, no Selenium: Chromium is started with ``--remote-debugging-port=0``,
the port it picked is read from ``DevToolsActivePort`` in its profile directory,
and the page target is driven over one websocket (``websocket-client``). While
the page loads, every request, console message, log entry and uncaught
exception is recorded, so a test can assert that a report is truly offline and
error-free, then look into its DOM and keep a screenshot. A test can also use a page
as a person does: click what is on screen (real mouse events at the element's place)
and fill in a field, then wait for the page the click led to.
"""

from __future__ import annotations

import base64
import itertools
import json
import os
import shutil
import subprocess
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.processes import stop

BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
INSTALL_HINT = "apt-get update && apt-get install -y chromium"
START_TIMEOUT = 30.0
LOAD_TIMEOUT = 30.0


def find_chromium() -> str | None:
    """``$CHROMIUM`` if set, else the first Chromium-like browser on PATH."""
    explicit = os.environ.get("CHROMIUM")
    if explicit:
        return shutil.which(explicit)
    return next((found for name in BROWSERS if (found := shutil.which(name))), None)


def require_chromium() -> str:
    """The browser binary; in CI a missing browser fails the test, locally it skips it."""
    browser = find_chromium()
    missing = None
    if browser is None:
        missing = f"headless Chromium is not installed (install it: {INSTALL_HINT})"
    else:
        try:
            import websocket  # noqa: F401
        except ImportError:
            missing = "the websocket-client package is not installed (pip install websocket-client)"
    if missing is not None:
        if os.environ.get("CI"):
            pytest.fail(missing, pytrace=False)
        pytest.skip(missing)
    assert browser is not None
    return browser


@dataclass
class PageRecord:
    """What happened while the page loaded."""

    requests: list[str] = field(default_factory=list)
    console_errors: list[str] = field(default_factory=list)


class ChromiumPage:
    """One page in a running headless Chromium, driven over the DevTools Protocol."""

    def __init__(self, socket: Any) -> None:
        self._socket = socket
        self._ids = itertools.count(1)
        self.record = PageRecord()
        self.loads = 0
        """How many pages have finished loading (``Page.loadEventFired``) so far."""

    def send(self, method: str, params: dict[str, Any] | None = None,
             timeout: float = LOAD_TIMEOUT) -> dict[str, Any]:
        """Call ``method`` and return its result, recording the events that arrive meanwhile."""
        call_id = next(self._ids)
        self._socket.send(json.dumps({"id": call_id, "method": method, "params": params or {}}))
        deadline = time.monotonic() + timeout
        while True:
            message = self._receive(deadline)
            if message is not None and message.get("id") == call_id:
                if "error" in message:
                    raise RuntimeError(f"{method} failed: {message['error']}")
                result: dict[str, Any] = message.get("result", {})
                return result

    def _receive(self, deadline: float) -> dict[str, Any] | None:
        left = deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError("Chromium did not answer in time")
        self._socket.settimeout(left)
        message: dict[str, Any] = json.loads(self._socket.recv())
        if "method" in message:
            self._observe(message["method"], message.get("params", {}))
        return message

    def wait_for(self, event: str, timeout: float = LOAD_TIMEOUT) -> None:
        deadline = time.monotonic() + timeout
        while True:
            message = self._receive(deadline)
            if message is not None and message.get("method") == event:
                return

    def _observe(self, method: str, params: dict[str, Any]) -> None:
        if method == "Page.loadEventFired":
            self.loads += 1
        elif method == "Network.requestWillBeSent":
            self.record.requests.append(str(params["request"]["url"]))
        elif method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert"):
            text = " ".join(str(arg.get("value", arg.get("description", "")))
                            for arg in params.get("args", []))
            self.record.console_errors.append(f"console.{params['type']}: {text}")
        elif method == "Runtime.exceptionThrown":
            details = params.get("exceptionDetails", {})
            self.record.console_errors.append(f"uncaught: {details.get('text', details)}")
        elif method == "Log.entryAdded" and params.get("entry", {}).get("level") == "error":
            entry = params["entry"]
            self.record.console_errors.append(f"{entry.get('source')}: {entry.get('text')} "
                                              f"({entry.get('url', '')})")

    def open(self, path: Path) -> str:
        """Load ``path`` and wait for its load event; returns the URL it was loaded from."""
        url = path.resolve().as_uri()
        self.visit(url)
        return url

    def visit(self, url: str) -> None:
        """Load ``url`` (any scheme) and wait for its load event."""
        for domain in ("Page", "Runtime", "Log", "Network"):
            self.send(f"{domain}.enable")
        loaded = self.loads
        self.send("Page.navigate", {"url": url})
        self.wait_for_load(loaded)

    def wait_for_load(self, loaded: int, timeout: float = LOAD_TIMEOUT) -> None:
        """Wait until a page loads after the ``loaded`` loads already counted, then a frame."""
        deadline = time.monotonic() + timeout
        while self.loads <= loaded:
            self._receive(deadline)
        self.evaluate("new Promise(r => requestAnimationFrame(() => setTimeout(r, 100)))")

    def click(self, selector: str) -> None:
        """Press and release the left mouse button over the element ``selector`` finds."""
        box = self.evaluate(
            f"(() => {{ const e = document.querySelector({json.dumps(selector)}); "
            "if (!e) return null; e.scrollIntoView({block: 'center'}); "
            "const r = e.getBoundingClientRect(); "
            "return [r.left + r.width / 2, r.top + r.height / 2]; })()")
        if box is None:
            raise LookupError(f"nothing on the page matches {selector!r}")
        for kind in ("mousePressed", "mouseReleased"):
            self.send("Input.dispatchMouseEvent", {
                "type": kind, "x": box[0], "y": box[1], "button": "left", "clickCount": 1})

    def click_and_wait(self, selector: str) -> None:
        """:meth:`click`, then wait for the page the click loads (a link, a form's answer)."""
        loaded = self.loads
        self.click(selector)
        self.wait_for_load(loaded)

    def fill(self, selector: str, value: str) -> None:
        """Set the field ``selector`` finds to ``value``, as typing would (input and change
        events fire); for fields whose typing is locale-bound, such as dates."""
        found = self.evaluate(
            f"(() => {{ const e = document.querySelector({json.dumps(selector)}); "
            "if (!e) return false; e.focus(); "
            f"e.value = {json.dumps(value)}; "
            "e.dispatchEvent(new Event('input', {bubbles: true})); "
            "e.dispatchEvent(new Event('change', {bubbles: true})); return true; })()")
        if not found:
            raise LookupError(f"nothing on the page matches {selector!r}")

    def evaluate(self, expression: str) -> Any:
        """The JSON value of ``expression`` in the page (promises are awaited)."""
        result = self.send("Runtime.evaluate", {
            "expression": expression, "returnByValue": True, "awaitPromise": True})
        if "exceptionDetails" in result:
            raise RuntimeError(f"{expression!r} threw: {result['exceptionDetails']}")
        return result["result"].get("value")

    def screenshot(self, target: Path, width: int = 1280) -> Path:
        """A full-page PNG of the page at ``width`` CSS pixels."""
        height = int(self.evaluate("Math.ceil(document.documentElement.scrollHeight)"))
        self.send("Emulation.setDeviceMetricsOverride", {
            "width": width, "height": height, "deviceScaleFactor": 1, "mobile": False})
        height = int(self.evaluate("Math.ceil(document.documentElement.scrollHeight)"))
        shot = self.send("Page.captureScreenshot", {
            "format": "png", "captureBeyondViewport": True,
            "clip": {"x": 0, "y": 0, "width": width, "height": height, "scale": 1}})
        target.write_bytes(base64.b64decode(shot["data"]))
        return target


def _devtools_port(profile: Path, process: subprocess.Popen[bytes], log: Path) -> int:
    marker = profile / "DevToolsActivePort"
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if marker.exists():
            lines = marker.read_text().split()
            if lines:
                return int(lines[0])
        if process.poll() is not None:
            raise RuntimeError(f"Chromium exited with {process.returncode}: "
                               f"{log.read_text(errors='replace')[-2000:]}")
        time.sleep(0.05)
    raise TimeoutError(f"Chromium did not open its DevTools port within {START_TIMEOUT:.0f} s")


def _page_socket_url(port: int) -> str:
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with opener.open(f"http://127.0.0.1:{port}/json/list", timeout=10) as answer:
        targets = json.load(answer)
    return next(str(t["webSocketDebuggerUrl"]) for t in targets if t.get("type") == "page")


@contextmanager
def chromium_page(browser: str) -> Iterator[ChromiumPage]:
    """A fresh headless Chromium (own profile, no background traffic) with one blank page."""
    import websocket

    scratch = Path(tempfile.mkdtemp(prefix="chromium-"))
    try:
        with _browser(browser, scratch) as port:
            socket = websocket.create_connection(
                _page_socket_url(port), timeout=LOAD_TIMEOUT, suppress_origin=True,
                http_no_proxy=["127.0.0.1"])
            try:
                yield ChromiumPage(socket)
            finally:
                socket.close()
    finally:
        _remove(scratch)


@contextmanager
def _browser(browser: str, scratch: Path) -> Iterator[int]:
    """Chromium running on a profile in ``scratch``, while the block runs: its DevTools port."""
    profile = scratch / "profile"
    log = scratch / "chromium.log"
    with log.open("wb") as log_file:
        process = subprocess.Popen(
            [browser, "--headless", "--no-sandbox", "--disable-gpu",
             "--disable-dev-shm-usage", "--disable-quic", "--no-first-run",
             "--no-default-browser-check", "--disable-background-networking",
             "--disable-component-update", "--disable-sync", "--disable-extensions",
             "--disable-default-apps", "--mute-audio", "--hide-scrollbars",
             "--remote-debugging-port=0", "--remote-debugging-address=127.0.0.1",
             f"--user-data-dir={profile}", "--window-size=1280,900", "about:blank"],
            stdout=log_file, stderr=log_file, stdin=subprocess.DEVNULL)
    try:
        yield _devtools_port(profile, process, log)
    finally:
        stop(process)


def _remove(folder: Path, timeout: float = 5.0) -> None:
    """Remove ``folder``, retrying while Chromium's helper processes, which outlive the
    browser by a moment, still write to its profile."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            shutil.rmtree(folder)
            return
        except FileNotFoundError:
            return
        except OSError:
            if time.monotonic() > deadline:
                shutil.rmtree(folder, ignore_errors=True)
                return
            time.sleep(0.1)
