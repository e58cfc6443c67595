"""``rollout portal``: loopback unless a host is allowed by name, bad input refused before AWS
or a port is touched, the one URL it serves printed, and no request line logged.

The command's backend is replaced by a stub here (the backend on the ledger is tested
in tests/integration/test_choices_portal.py): what is checked is the serving.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import uvicorn

from rollout.choices.portal_api import ChoiceForm, ChoiceOutcome, ChoicePage, TokenRefused
from rollout.cli import portal_cmds, run
from rollout.portal import serving
from tests.cli_runner import rollout_output

ROOT = Path(__file__).resolve().parents[2]
TENANTS = ROOT / "examples" / "tenants.yaml"
NOTES = ROOT / "examples" / "release.yaml"
TOKEN = "eyJ0ZW5hbnQiOiJiaXJjaCJ9.c2VjcmV0LXNpZ25hdHVyZQ"


class RefusingBackend:
    """Refuses every link, so each request is a real one through the page."""

    def open(self, token: str) -> ChoicePage:
        raise TokenRefused("this link is not valid: open the link from your latest notice")

    def choose(self, token: str, form: ChoiceForm) -> ChoiceOutcome:
        raise TokenRefused("this link is not valid: open the link from your latest notice")


@pytest.mark.parametrize("host", ["0.0.0.0", "192.0.2.10", "prefs.acme.example", "::"])
def test_a_host_off_loopback_is_refused_unless_allowed_by_name(host: str) -> None:
    finished = rollout_output("portal", "--tenants", str(TENANTS), "--notes", str(NOTES),
                              "--host", host)
    assert finished.code == 2
    said = " ".join(finished.stderr.split())
    assert f"--host {host}: the page carries tenants' links over plain http" in said
    assert f"--allow-host {host}" in said


def test_an_allowed_host_goes_on_to_the_next_check(tmp_path: Path) -> None:
    missing = tmp_path / "tenants.yaml"
    finished = rollout_output("portal", "--tenants", str(missing), "--notes", str(NOTES),
                              "--host", "192.0.2.10", "--allow-host", "192.0.2.10")
    assert finished.code == 2
    assert str(missing) in finished.stderr.replace("\n", "")
    assert "--host" not in finished.stderr


def test_the_same_release_offered_twice_is_bad_input(tmp_path: Path) -> None:
    again = tmp_path / "again.yaml"
    again.write_text(NOTES.read_text())
    finished = rollout_output("portal", "--tenants", str(TENANTS), "--notes", str(NOTES),
                              "--notes", str(again))
    assert finished.code == 2
    assert "release 1.5.0 is offered already" in " ".join(finished.stderr.split())


def test_a_taken_port_is_one_line_of_bad_input() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        finished = rollout_output("portal", "--tenants", str(TENANTS), "--notes", str(NOTES),
                                  "--port", str(port))
    assert finished.code == 2
    assert f"cannot listen on 127.0.0.1 port {port}" in " ".join(finished.stderr.split())


def test_help_imports_neither_the_web_server_nor_the_aws_sdk() -> None:
    probe = ("import contextlib, io, json, sys\nfrom rollout.cli import run\n"
             "with contextlib.redirect_stdout(io.StringIO()) as out:\n"
             "    code = run(['portal', '--help'])\n"
             "print(json.dumps({'code': code, 'help': out.getvalue(), "
             "'modules': sorted(sys.modules)}))")
    done = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True,
                          text=True, check=True, timeout=60,
                          env={**os.environ, "COLUMNS": "200"})
    shown = json.loads(done.stdout.strip().splitlines()[-1])
    assert shown["code"] == 0 and "--allow-host" in shown["help"]
    heavy = ("starlette", "uvicorn", "mangum", "httpx", "boto3", "botocore")
    assert [m for m in shown["modules"] if m.split(".")[0] in heavy] == []


@pytest.fixture
def served(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
           caplog: pytest.LogCaptureFixture) -> Iterator[str]:
    """``rollout portal --port 0`` running in a thread: the URL it printed."""
    servers: list[uvicorn.Server] = []
    made = serving.portal_server

    def kept(app: Any) -> uvicorn.Server:
        servers.append(made(app))
        for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
            logging.getLogger(name).addHandler(caplog.handler)
        return servers[-1]

    monkeypatch.setattr(serving, "portal_server", kept)
    monkeypatch.setattr(portal_cmds, "portal_backend", lambda *_: RefusingBackend())
    caplog.set_level(logging.DEBUG)
    finished: list[int] = []
    thread = threading.Thread(target=lambda: finished.append(run(
        ["portal", "--tenants", str(TENANTS), "--notes", str(NOTES), "--port", "0"])))
    thread.start()
    deadline = time.monotonic() + 10
    while not (servers and servers[0].started):
        assert thread.is_alive(), f"rollout portal stopped: {capsys.readouterr()}"
        assert time.monotonic() < deadline, "rollout portal did not start"
        time.sleep(0.02)
    try:
        yield capsys.readouterr().out.strip()
    finally:
        servers[0].should_exit = True
        thread.join(timeout=10)
        assert finished == [0]
        for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
            logging.getLogger(name).removeHandler(caplog.handler)


def test_the_command_serves_on_loopback_prints_its_url_and_logs_no_request(
        served: str, caplog: pytest.LogCaptureFixture) -> None:
    url = served
    assert url.startswith("http://127.0.0.1:") and url.endswith("/choose")
    assert url.count("\n") == 0 and "?" not in url
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with opener.open(url.removesuffix("/choose") + "/healthz", timeout=5) as answer:
        assert answer.read() == b"ok"
    with pytest.raises(urllib.error.HTTPError) as refused:
        opener.open(f"{url}?t={TOKEN}", timeout=5)
    assert refused.value.code == 403
    assert "this link cannot be used" in refused.value.read().decode()
    assert "server" not in {name.lower() for name in refused.value.headers}
    for record in caplog.records:
        assert TOKEN not in record.getMessage() + str(record.args)
