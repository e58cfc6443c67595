"""Each colour's compute as a real local process of its artefact, standing in for its targets.

A rehearsal sends real requests to the real code of each version. For every colour whose
stack outputs name a function (the ``lambda`` kind), the zip is fetched from the artefact
store at the exact object version the stack recorded and checked against the recorded
sha256 and Lambda's own ``CodeSha256`` before anything starts: a colour never runs bytes
other than its release's. Each zip is unpacked into ``<work_dir>/<colour>-<version>`` and
served by :mod:`rollout.local.data_plane.lambda_host` on a free loopback port, with the
function's own handler, timeout, memory and environment variables as Lambda reports them.

The app's boto3 must reach moto and nothing else: a child gets the clients' (loopback)
endpoint, its function's region and moto's fake credentials, and of this process's
environment only an allow-list of basics (:data:`BASIC_VARIABLES`), so a real credential
of the parent never reaches the app.

Colours that run nothing of ours get no process, and :meth:`ColourProcesses.address`
gives None for their targets (unreachable: the listener answers 502): an ``external``
colour's targets are the user's own servers, and an ``ecs`` colour's are containers,
which need a container runtime these stand-ins do not have.
"""

from __future__ import annotations

import base64
import hashlib
import os
import shutil
import socket
import subprocess
import sys
import time
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from io import BytesIO
from pathlib import Path
from types import TracebackType
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from rollout.aws_clients import AwsClients
from rollout.discovery import CohortResources, RunningCompute, region_of_arn
from rollout.errors import BadInput, RolloutFailed
from rollout.local.endpoint import why_not_local
from rollout.local.server import FAKE_CREDENTIALS, LOOPBACK, free_port
from rollout.vocabulary.colours import COLOURS, Colour

HOST_MODULE = "rollout.local.data_plane.lambda_host"
BASIC_VARIABLES = ("PATH", "HOME", "LANG", "LANGUAGE", "LC_ALL", "LC_CTYPE", "TZ", "TMPDIR",
                   "TEMP", "TMP", "SYSTEMROOT")
"""What a child takes from this process's environment: nothing that can hold a secret."""
READY_WITHIN = 15.0
STOP_WITHIN = 5.0
TAIL_CHARS = 2000


@dataclass(frozen=True)
class FunctionLaunch:
    """What a function runs and how, as Lambda reports it; its code checked already.

    ``target_id`` is its qualified ARN (``...:function:NAME:VERSION``)."""

    target_id: str
    handler: str
    variables: dict[str, str]
    region: str
    memory: int
    timeout: float
    code: bytes = field(repr=False)

    @property
    def function_name(self) -> str:
        return self.target_id.split(":")[6]

    @property
    def function_version(self) -> str:
        return self.target_id.split(":")[7]


@dataclass(frozen=True)
class ColourLaunch(FunctionLaunch):
    """What one colour runs, read from moto and checked before anything starts."""

    colour: Colour
    version: str


@dataclass
class _Running:
    """A colour's process (None once stopped) and where it serves."""

    launch: ColourLaunch
    port: int
    code_dir: Path
    log: Path
    process: subprocess.Popen[bytes] | None = None


def check_code(code: bytes, recorded: str, lambda_sha256: str | None, label: str) -> None:
    """:class:`RolloutFailed` unless ``code`` is the recorded sha256 (hex) and, when Lambda
    reports one, its ``CodeSha256`` (base64 of the digest)."""
    digest = hashlib.sha256(code)
    if digest.hexdigest() != recorded.lower():
        raise RolloutFailed(f"{label}: the artefact's bytes have sha256 {digest.hexdigest()}, "
                            f"not the {recorded} its stack recorded; nothing was started")
    if lambda_sha256 and base64.b64encode(digest.digest()).decode() != lambda_sha256:
        raise RolloutFailed(f"{label}: Lambda runs other code (CodeSha256 {lambda_sha256}) "
                            "than the artefact the stack recorded; nothing was started")


def child_environment(function_variables: Mapping[str, str], parent: Mapping[str, str],
                      launch: FunctionLaunch, endpoint: str) -> dict[str, str]:
    """A child's whole environment: basics of ``parent``, the function's own variables,
    the ones Lambda itself defines, and the endpoint, region and fake credentials (last,
    as Lambda reserves them: a function's variables cannot redirect its AWS calls)."""
    basics = {name: parent[name] for name in BASIC_VARIABLES if name in parent}
    lambda_defined = {"AWS_LAMBDA_FUNCTION_NAME": launch.function_name,
                      "AWS_LAMBDA_FUNCTION_VERSION": launch.function_version,
                      "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(launch.memory),
                      "_HANDLER": launch.handler}
    return {**basics, **function_variables, **lambda_defined, "AWS_ENDPOINT_URL": endpoint,
            "AWS_REGION": launch.region, "AWS_DEFAULT_REGION": launch.region,
            **FAKE_CREDENTIALS}


def local_endpoint(clients: AwsClients, region: str) -> str:
    """The clients' endpoint; :class:`BadInput` unless it is on the loopback interface."""
    endpoint = str(clients.for_region(region).client("lambda").meta.endpoint_url)
    problem = why_not_local(endpoint, frozenset())
    if problem is not None:
        raise BadInput(f"local colour processes run against a local endpoint only, and the "
                       f"clients talk to {endpoint}: {problem}")
    return endpoint


def _needed(running: RunningCompute, label: str) -> tuple[str, str, str, str]:
    version, key = running.function_version, running.code_key
    object_version, sha256 = running.code_object_version, running.sha256
    if not (version and key and object_version and sha256):
        raise RolloutFailed(f"{label}: its stack outputs do not say exactly which code it runs "
                            "(functionVersion, codeKey, codeObjectVersion, sha256); redeploy "
                            "the stack")
    return version, key, object_version, sha256


@dataclass(frozen=True)
class StoredCode:
    """Where a function's zip is in the artefact store, and the sha256 it must have."""

    bucket: str
    key: str
    object_version: str
    sha256: str


def read_function(lambda_client: Any, s3_client: Any, function_name: str, qualifier: str,
                  stored: StoredCode, label: str) -> FunctionLaunch:
    """``function_name`` at ``qualifier`` as Lambda reports it, and its code from the store,
    checked against ``stored.sha256`` and Lambda's ``CodeSha256``."""
    try:
        function = lambda_client.get_function(
            FunctionName=function_name, Qualifier=qualifier)["Configuration"]
        code: bytes = s3_client.get_object(Bucket=stored.bucket, Key=stored.key,
                                           VersionId=stored.object_version)["Body"].read()
    except (BotoCoreError, ClientError) as exc:
        raise RolloutFailed(f"{label}: cannot read its function or its code: {exc}") from exc
    check_code(code, stored.sha256, function.get("CodeSha256"), label)
    arn = str(function["FunctionArn"])
    return FunctionLaunch(
        target_id=arn if arn.endswith(f":{qualifier}") else f"{arn}:{qualifier}",
        handler=function["Handler"],
        variables=dict(function.get("Environment", {}).get("Variables", {})),
        region=region_of_arn(arn) or "", memory=int(function.get("MemorySize", 128)),
        timeout=float(function.get("Timeout", 3)), code=code)


def read_launch(clients: AwsClients, cohort: CohortResources, colour: Colour
                ) -> ColourLaunch | None:
    """What ``colour`` runs (None: nothing of ours), its code checked."""
    running = cohort.compute.get(colour)
    if running is None or not running.function:
        return None
    label = f"colour {colour} of cohort {cohort.cohort} (function {running.function})"
    version, key, object_version, sha256 = _needed(running, label)
    found = read_function(
        clients.for_region(cohort.region).client("lambda"),
        clients.for_region(cohort.shared_region).client("s3"), running.function, version,
        StoredCode(cohort.artefact_bucket, key, object_version, sha256), label)
    facts = {item.name: getattr(found, item.name) for item in fields(found)}
    facts["region"] = found.region or cohort.region or clients.region
    return ColourLaunch(**facts, colour=colour, version=cohort.versions.get(colour) or version)


def unpack(code: bytes, into: Path) -> None:
    """The zip's files under ``into``, replacing whatever was there."""
    if into.exists():
        shutil.rmtree(into)
    into.mkdir(parents=True)
    with zipfile.ZipFile(BytesIO(code)) as archive:
        archive.extractall(into)


def host_command(launch: FunctionLaunch, code_dir: Path, port: int,
                 target_group_arn: str | None = None) -> list[str]:
    """``python -P -m lambda_host ...``: ``-P`` keeps the working directory off the path."""
    return [sys.executable, "-P", "-m", HOST_MODULE, "--code", str(code_dir),
            "--handler", launch.handler, "--port", str(port),
            *(["--target-group-arn", target_group_arn] if target_group_arn else []),
            "--function-arn", launch.target_id,
            "--memory", str(launch.memory), "--timeout", str(launch.timeout)]


def tail(log: Path) -> str:
    text = log.read_text(errors="replace") if log.exists() else ""
    return text[-TAIL_CHARS:].strip() or "(nothing on stderr)"


def accepts(port: int) -> bool:
    try:
        with socket.create_connection((LOOPBACK, port), timeout=0.2):
            return True
    except OSError:
        return False


class ColourProcesses:
    """The local processes standing in for each colour's targets, as a context manager.

    On enter every colour's code is read and checked first (one bad artefact starts
    nothing), then each colour with a function is started and awaited, at most
    ``ready_within`` seconds; a process that exits early is :class:`RolloutFailed` with
    the end of its stderr, and the others are stopped. On exit all are terminated.
    """

    def __init__(self, clients: AwsClients, cohort: CohortResources, work_dir: Path, *,
                 ready_within: float = READY_WITHIN) -> None:
        self._clients = clients
        self._cohort = cohort
        self._work_dir = work_dir
        self._ready_within = ready_within
        self._running: dict[Colour, _Running] = {}
        self._endpoint = ""

    def __enter__(self) -> ColourProcesses:
        launches = [launch for colour in COLOURS
                    if (launch := read_launch(self._clients, self._cohort, colour))]
        if not launches:
            return self
        self._endpoint = local_endpoint(self._clients, launches[0].region)
        self._work_dir.mkdir(parents=True, exist_ok=True)
        try:
            for launch in launches:
                code_dir = self._work_dir / f"{launch.colour}-{launch.version}"
                unpack(launch.code, code_dir)
                running = _Running(launch, free_port(), code_dir,
                                   self._work_dir / f"{launch.colour}-{launch.version}.log")
                self._running[launch.colour] = running
                self._spawn(running)
            self._await_ready(list(self._running.values()))
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        self.close()

    def address(self, target_group_arn: str, target_id: str) -> str | None:
        """``127.0.0.1:PORT`` of the process standing in for ``target_id`` registered in
        ``target_group_arn``; None when nothing local stands in for it. A stopped colour
        keeps its address: connecting to it is refused, as to a dead target."""
        colour = next((colour for colour, arn in self._cohort.target_group_arns.items()
                       if arn == target_group_arn), None)
        running = self._running.get(colour) if colour else None
        if running is None or running.launch.target_id != target_id:
            return None
        return f"{LOOPBACK}:{running.port}"

    def stop(self, colour: Colour) -> None:
        """Kill ``colour``'s process (a colour dying under traffic); nothing if it has none."""
        running = self._running.get(colour)
        if running is not None and running.process is not None:
            running.process.kill()
            running.process.wait(timeout=STOP_WITHIN)
            running.process = None

    def restart(self, colour: Colour) -> None:
        """Start ``colour``'s process again on the same port, and wait until it serves."""
        running = self._running.get(colour)
        if running is None:
            raise BadInput(f"colour {colour} runs nothing locally, so it cannot be restarted")
        self.stop(colour)
        self._spawn(running)
        self._await_ready([running])

    def close(self) -> None:
        """Terminate every process, then kill what has not exited within ``STOP_WITHIN``."""
        alive = [r.process for r in self._running.values() if r.process is not None]
        for process in alive:
            process.terminate()
        deadline = time.monotonic() + STOP_WITHIN
        for process in alive:
            try:
                process.wait(timeout=max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=STOP_WITHIN)
        for running in self._running.values():
            running.process = None

    def _spawn(self, running: _Running) -> None:
        colour = running.launch.colour
        env = child_environment(running.launch.variables, os.environ,
                                running.launch, self._endpoint)
        command = host_command(running.launch, running.code_dir, running.port,
                               self._cohort.target_group_arns[colour])
        with running.log.open("wb") as log:
            running.process = subprocess.Popen(
                command, cwd=running.code_dir, env=env, stdin=subprocess.DEVNULL,
                stdout=log, stderr=subprocess.STDOUT, close_fds=True)

    def _await_ready(self, waiting: list[_Running]) -> None:
        deadline = time.monotonic() + self._ready_within
        while waiting:
            for running in list(waiting):
                _raise_if_exited(running)
                if accepts(running.port):
                    waiting.remove(running)
            if waiting and time.monotonic() > deadline:
                names = ", ".join(r.launch.colour for r in waiting)
                raise RolloutFailed(f"colour {names} did not serve on the loopback within "
                                    f"{self._ready_within:.0f}s: {tail(waiting[0].log)}")
            if waiting:
                time.sleep(0.05)


def _raise_if_exited(running: _Running) -> None:
    process = running.process
    code = None if process is None else process.poll()
    if process is None or code is not None:
        launch = running.launch
        raise RolloutFailed(f"colour {launch.colour}'s function ({launch.target_id}, version "
                            f"{launch.version}) exited with {code} before it served: "
                            f"{tail(running.log)}")
