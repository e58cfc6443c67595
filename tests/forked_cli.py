"""``rollout`` in a process of its own per command, forked from a warm one.

Some tests need each command in a process of its own: a least-privilege run signs each
with its user's key and nothing else, a crash test kills the command mid-way, a race
runs several at once. A new interpreter importing the toolkit costs a second of CPU or
more, most of a short command's. So one warm process per test process imports the
toolkit (and parses the AWS service models) and does nothing else: no session, no
client, no command, no thread. For each command it forks a child, which takes the
command's environment, working folder and arguments before anything reads them, runs
the command's entry point and ends as a finished interpreter does (its threads joined,
its ``atexit`` handlers run, its output flushed). Nothing of one command is in another's
process. :func:`launch` gives a :class:`ForkedProcess` (what ``subprocess.Popen`` gives,
as far as the tests use it); :func:`run_forked` what ``subprocess.run`` gives.

Protocol: pickled :class:`Command` objects on the warm process's stdin; on its stdout, a
pickled ``(number, pid)`` when a command's process has started and
``(number, exit code, timed out)`` when it has ended (the code as
:func:`os.waitstatus_to_exitcode` gives it). A command's output goes to files.
"""

from __future__ import annotations

import atexit
import gc
import importlib
import os
import pickle
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, NoReturn

ROOT = Path(__file__).resolve().parents[1]
ROLLOUT = "rollout.cli:main"
"""The entry point of the ``rollout`` command (``python -m rollout.cli``)."""
WARMED = ("rollout.cli", "rollout.rollouts.executor", "rollout.rollouts.assembly",
          "rollout.rollouts.fleet_status", "rollout.configcopy.copier", "rollout.report.html",
          "rollout.stepfunctions.launch", "rollout.local.record", "tests.faults.crashing_cli",
          "tests.faults.crashes", "tests.faults.injector", "tests.faults.lock_audit")
"""Modules most commands import: loaded once, in the warm process."""
WARMED_SERVICES = ("dynamodb", "elbv2", "ssm", "s3", "sts", "cloudwatch", "kms", "sns",
                   "iam", "resourcegroupstaggingapi", "stepfunctions", "secretsmanager",
                   "lambda", "ecs")


@dataclass(frozen=True)
class Command:
    """One command: its number, entry point, arguments, environment, folder, output files
    and how long it may take (None: as long as it likes)."""

    number: int
    entry: str
    argv: list[str]
    env: dict[str, str]
    cwd: str
    stdout: str
    stderr: str
    timeout: float | None


# --- the warm process: runs as ``python -c``, never inside pytest -----------------------

def _warm_up() -> None:
    """Import what commands use and parse the service models, in a session thrown away,
    then keep all that out of the collector's walks (in the children too).

    The models go into the data loader :func:`rollout.aws_clients.new_session` shares:
    parsed JSON, no credentials.
    """
    for module in WARMED:
        importlib.import_module(module)
    from rollout.aws_clients import new_session

    session = new_session(region_name="us-east-1", aws_access_key_id="warm",
                          aws_secret_access_key="warm")
    for service in WARMED_SERVICES:
        session.client(service, endpoint_url="http://127.0.0.1:9")
    del session
    gc.collect()
    gc.freeze()


def _exit_code(exit: SystemExit) -> int:
    """The status an interpreter exits with for ``exit`` (a message is printed, then 1)."""
    if exit.code is None or isinstance(exit.code, int):
        return exit.code or 0
    print(exit.code, file=sys.stderr)
    return 1


def _become(command: Command, protocol: list[int]) -> NoReturn:
    """In the forked child: be the command's process, run it, and end as an interpreter
    ends (its threads joined, its ``atexit`` handlers run, its output flushed), without
    tearing down every object it inherited, which would cost more than the command."""
    for fd in protocol:
        os.close(fd)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    for target, path in ((1, command.stdout), (2, command.stderr)):
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        os.dup2(fd, target)
        os.close(fd)
    os.chdir(command.cwd)
    os.environ.clear()
    os.environ.update(command.env)
    module, function = command.entry.split(":")
    sys.argv = [module, *command.argv]
    code = 0
    try:
        getattr(importlib.import_module(module), function)()
    except SystemExit as exit:
        code = _exit_code(exit)
    except BaseException:
        sys.excepthook(*sys.exc_info())
        code = 1
    for thread in threading.enumerate():
        if thread is not threading.current_thread() and not thread.daemon:
            thread.join()
    atexit._run_exitfuncs()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


@dataclass
class _Running:
    number: int
    pid: int
    deadline: float | None
    timed_out: bool = False


def serve() -> None:
    """Start each command as it comes, report each as it ends, until stdin closes."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C stops the caller, which stops us
    requests, replies = os.dup(0), os.dup(1)
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.dup2(2, 1)
    _warm_up()
    incoming = os.fdopen(requests, "rb", buffering=0)  # no read-ahead: select sees it all
    outgoing = os.fdopen(replies, "wb")
    running: dict[int, _Running] = {}  # by pidfd
    listening = True

    def reply(message: tuple[object, ...]) -> None:
        pickle.dump(message, outgoing)
        outgoing.flush()

    while listening or running:
        deadlines = [r.deadline for r in running.values() if r.deadline and not r.timed_out]
        wait = max(0.0, min(deadlines) - time.monotonic()) if deadlines else None
        watched = [*([requests] if listening else []), *running]
        for fd in select.select(watched, [], [], wait)[0]:
            if fd != requests:
                ended = running.pop(fd)
                os.close(fd)
                _, status = os.waitpid(ended.pid, 0)
                reply((ended.number, os.waitstatus_to_exitcode(status), ended.timed_out))
                continue
            try:
                command: Command = pickle.load(incoming)
            except EOFError:
                listening = False
                continue
            sys.stdout.flush()
            sys.stderr.flush()
            pid = os.fork()
            if pid == 0:
                _become(command, [requests, replies, *running])
            deadline = None if command.timeout is None else time.monotonic() + command.timeout
            running[os.pidfd_open(pid)] = _Running(command.number, pid, deadline)
            reply((command.number, pid))
        for child in running.values():
            if child.deadline and not child.timed_out and time.monotonic() >= child.deadline:
                child.timed_out = True
                os.kill(child.pid, signal.SIGKILL)


# --- the caller's side ------------------------------------------------------------------

@dataclass
class ForkedProcess:
    """A command's process forked off the warm one: what the tests use of ``Popen``."""

    args: list[str]
    stdout_path: Path
    stderr_path: Path
    pid: int = 0
    returncode: int | None = None
    timed_out: bool = False
    started: threading.Event = field(default_factory=threading.Event)
    ended: threading.Event = field(default_factory=threading.Event)

    def poll(self) -> int | None:
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        if not self.ended.wait(timeout):
            raise subprocess.TimeoutExpired(self.args, timeout or 0)
        assert self.returncode is not None
        return self.returncode

    def communicate(self, timeout: float | None = None) -> tuple[str, str]:
        """Its output once it has ended (text; empty when it printed nothing)."""
        self.wait(timeout)
        out, err = (path.read_text() if path.exists() else ""
                    for path in (self.stdout_path, self.stderr_path))
        return out, err

    def send_signal(self, signum: int) -> None:
        if self.returncode is None:
            os.kill(self.pid, signum)

    def kill(self) -> None:
        self.send_signal(signal.SIGKILL)


@dataclass
class WarmProcess:
    """The warm process of this test process, started on first use, stopped at exit."""

    process: subprocess.Popen[bytes] | None = None
    outputs: Path | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)
    running: dict[int, ForkedProcess] = field(default_factory=dict)
    numbered: int = 0

    def _started(self) -> subprocess.Popen[bytes]:
        if self.process is None or self.process.poll() is not None:
            env = dict(os.environ)
            env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
            self.process = subprocess.Popen(
                [sys.executable, "-c", "from tests.forked_cli import serve; serve()"],
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env, cwd=ROOT)
            self.outputs = Path(tempfile.mkdtemp(prefix="forked-cli-"))
            threading.Thread(target=self._hear, args=(self.process,), daemon=True,
                             name="forked-cli").start()
        return self.process

    def _hear(self, process: subprocess.Popen[bytes]) -> None:
        """Note each start and end the warm process reports, until it stops."""
        replies: IO[bytes] | None = process.stdout
        assert replies is not None
        while True:
            try:
                message: tuple[int, ...] = pickle.load(replies)
            except EOFError:
                break
            with self.lock:
                forked = self.running[message[0]]
                if len(message) == 2:
                    forked.pid = message[1]
                    forked.started.set()
                    continue
                del self.running[message[0]]
            forked.returncode, forked.timed_out = message[1], bool(message[2])
            forked.ended.set()
        with self.lock:
            orphans, self.running = list(self.running.values()), {}
        for forked in orphans:  # the warm process died: so did its children, as far as we know
            forked.returncode = -signal.SIGKILL
            forked.started.set()
            forked.ended.set()

    def launch(self, entry: str, argv: list[str], env: dict[str, str], cwd: Path,
               timeout: float | None) -> ForkedProcess:
        with self.lock:
            process = self._started()
            assert self.outputs is not None and process.stdin is not None
            self.numbered += 1
            number = self.numbered
            forked = ForkedProcess(list(argv), self.outputs / f"{number}.out",
                                   self.outputs / f"{number}.err")
            self.running[number] = forked
            pickle.dump(Command(number, entry, list(argv), dict(env), str(cwd),
                                str(forked.stdout_path), str(forked.stderr_path), timeout),
                        process.stdin)
            process.stdin.flush()
        forked.started.wait()
        return forked

    def stop(self) -> None:
        """Kill what still runs (a test that failed may have left one), then the warm process."""
        with self.lock:
            left = list(self.running.values())
        for forked in left:
            forked.kill()
        if self.process is not None:
            self.process.communicate()  # closes its stdin: it returns once its children end
            self.process = None
        if self.outputs is not None:
            shutil.rmtree(self.outputs, ignore_errors=True)


_warm = WarmProcess()
atexit.register(_warm.stop)


def launch(argv: list[str], env: dict[str, str], *, entry: str = ROLLOUT,
           cwd: Path | None = None, timeout: float | None = None) -> ForkedProcess:
    """``subprocess.Popen([python, -m, rollout.cli, *argv], env=env, ...)`` with its output
    captured as text, from a process forked off the warm one; killed after ``timeout`` s."""
    return _warm.launch(entry, argv, env, cwd or Path.cwd(), timeout)


def run_forked(argv: list[str], env: dict[str, str], *, entry: str = ROLLOUT,
               cwd: Path | None = None, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """What ``subprocess.run([python, -m, rollout.cli, *argv], env=env, capture_output=True,
    text=True, timeout=timeout)`` gives, from a process forked off the warm one."""
    forked = launch(argv, env, entry=entry, cwd=cwd, timeout=timeout)
    stdout, stderr = forked.communicate()
    if forked.timed_out:
        raise subprocess.TimeoutExpired(argv, timeout, stdout, stderr)
    assert forked.returncode is not None
    return subprocess.CompletedProcess(argv, forked.returncode, stdout, stderr)
