"""One function's deployed code as a local process on loopback: its function URL's stand-in.

The preferences page runs in production behind a Lambda function URL. Locally, the code
the shared stack deployed (read back from moto and the artefact store, checked against
the recorded sha256 and Lambda's ``CodeSha256``) runs under
:mod:`rollout.local.data_plane.lambda_host` with the function's own handler, variables,
memory and timeout, as a colour's code does behind the listener's stand-in
(:mod:`rollout.local.data_plane.colour_processes`, whose child environment it shares:
moto's endpoint and fake credentials, nothing of this process's secrets). Mangum reads
the load balancer's events as it reads a function URL's, so one host serves both.
"""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path

from rollout.aws_clients import AwsClients
from rollout.errors import RolloutFailed
from rollout.local.data_plane.colour_processes import (
    READY_WITHIN,
    STOP_WITHIN,
    FunctionLaunch,
    StoredCode,
    accepts,
    child_environment,
    host_command,
    local_endpoint,
    read_function,
    tail,
    unpack,
)
from rollout.local.server import LOOPBACK, free_port


def deployed_function(clients: AwsClients, function_name: str,
                      stored: StoredCode) -> FunctionLaunch:
    """``function_name``'s latest published version, its code checked against ``stored``."""
    lambda_client = clients.client("lambda")
    versions = [v["Version"] for v in lambda_client.list_versions_by_function(
        FunctionName=function_name)["Versions"] if v["Version"] != "$LATEST"]
    if not versions:
        raise RolloutFailed(f"function {function_name} has no published version")
    latest = max(versions, key=int)
    launch = read_function(lambda_client, clients.client("s3"), function_name, latest, stored,
                           f"function {function_name}")
    return launch if launch.region else replace(launch, region=clients.region)


@contextmanager
def serving_function(clients: AwsClients, launch: FunctionLaunch, work_dir: Path, *,
                     port: int | None = None,
                     ready_within: float = READY_WITHIN) -> Iterator[str]:
    """``launch`` served on ``127.0.0.1:port`` (a free one by default) until the block ends;
    yields its base URL. :class:`RolloutFailed` with the end of its stderr if it exits or
    does not serve within ``ready_within`` seconds."""
    endpoint = local_endpoint(clients, launch.region)
    code_dir = work_dir / launch.function_name
    unpack(launch.code, code_dir)
    port = port or free_port()
    log = work_dir / f"{launch.function_name}.log"
    env = child_environment(launch.variables, os.environ, launch, endpoint)
    with log.open("wb") as out:
        process = subprocess.Popen(host_command(launch, code_dir, port), cwd=code_dir, env=env,
                                   stdin=subprocess.DEVNULL, stdout=out,
                                   stderr=subprocess.STDOUT, close_fds=True)
    try:
        deadline = time.monotonic() + ready_within
        while not accepts(port):
            if process.poll() is not None or time.monotonic() > deadline:
                raise RolloutFailed(f"function {launch.function_name} did not serve on the "
                                    f"loopback (exit {process.poll()}): {tail(log)}")
            time.sleep(0.05)
        yield f"http://{LOOPBACK}:{port}"
    finally:
        process.terminate()
        try:
            process.wait(timeout=STOP_WITHIN)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=STOP_WITHIN)
