"""A command an operator names in the cohort config, run without a shell and without secrets.

The security gate's scanner and the lifecycle hooks' commands are the operator's own
programs, but they run as children of a tool that holds credentials, and what they
print ends up in the ledger, on terminals and in a report that gets mailed around. So
both run here, the same way: split like a shell would, but without one; with only
:data:`ENV_ALLOW_LIST` of the parent's environment (plus facts and the names a cohort
opts in to); their full output in a private log file; and results that keep only the
exit code, that file's path and a short redacted tail. A command that overruns its
timeout is killed with everything it started.
"""

from __future__ import annotations

import os
import re
import shlex
import signal
import subprocess
from collections.abc import Collection, Mapping, Sequence
from contextlib import suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from rollout.discovery import CohortResources
from rollout.vocabulary.clock import utc_now
from rollout.vocabulary.colours import Colour

ENV_ALLOW_LIST: tuple[str, ...] = (
    "PATH", "HOME", "USER", "LOGNAME", "LANG", "LC_ALL", "LC_CTYPE", "TZ", "TMPDIR",
    "AWS_REGION", "AWS_DEFAULT_REGION", "AWS_ENDPOINT_URL",
    "AWS_CA_BUNDLE", "SSL_CERT_FILE", "SSL_CERT_DIR",
)
"""The only variables a user command inherits, besides the ``ROLLOUT_*`` facts and the
names a cohort opts in to (``security.env``, a hook's ``env``). No credential is on it: a
scanner that needs AWS access must be given, say, ``AWS_PROFILE`` explicitly."""

PLAIN_VALUE_NAMES: frozenset[str] = frozenset({
    *ENV_ALLOW_LIST, "PWD", "OLDPWD", "SHELL", "TERM", "HOSTNAME", "VIRTUAL_ENV",
    "XDG_STATE_HOME", "ROLLOUT_APP", "ROLLOUT_PROJECT_DIR", "ROLLOUT_TENANTS"})
"""Parent variables whose values are not secrets; every other value is redacted from the tail."""

SECRET_VALUE_MIN = 8
"""Shorter parent values are not redacted: ``1`` or ``true`` would blank half the tail."""

COMMAND_CHARS = 120
TAIL_LINES = 5
TAIL_CHARS = 300
TAIL_WINDOW = 16384
"""Bytes read from the end of the log to find the tail; redacted before it is cut down."""

REDACTED = "[redacted]"

_SECRET_SHAPES = (
    re.compile(r"\b(?:AKIA|ASIA)[A-Z0-9]{16}\b"),
    re.compile(r"\bpul-[0-9a-f]{40}\b"),
    re.compile(r"\bgh[pousr]_[A-Za-z0-9]{36,}\b"),
    re.compile(r"(?i)(?P<keep>\b(?:bearer|basic)\s+)[A-Za-z0-9._~+/=-]{8,}"),
    re.compile(r"(?i)(?P<keep>(?<![A-Za-z0-9_.-])[A-Za-z0-9_.-]*(?:secret|password|passwd"
               r"|token|api[_-]?key"
               r"|credential)[A-Za-z0-9_.-]*[\"']?\s*[:=]\s*[\"']?)[^\s\"',;]+"),
)
"""What looks like a credential whatever its source: AWS key ids, Pulumi and GitHub tokens,
HTTP bearer and basic credentials, the value of any ``...secret...=`` or ``token:`` pair.
A pair's name starts where a word starts: matched anywhere inside a long word, the search
would retry every start in it, and one long line (a hash, base64) would stall the gate."""


def _keep_name(found: re.Match[str]) -> str:
    return (found.groupdict().get("keep") or "") + REDACTED


def redact(text: str, environ: Mapping[str, str] | None = None,
           secrets: Collection[str] = ()) -> str:
    """``text`` with secret-looking parts, and every one of ``secrets``, as ``[redacted]``.

    The child never gets the parent's credentials, but it can read them elsewhere
    (a credentials file, the parent's ``/proc/PID/environ``); so every parent value
    not known to be plain is redacted, and then whatever has a credential's shape.
    ``secrets`` are values the child was handed on purpose (a test route's token),
    redacted whatever their length.
    """
    source = os.environ if environ is None else environ
    plain = {value for name, value in source.items() if name in PLAIN_VALUE_NAMES}
    values = {value for name, value in source.items()
              if name not in PLAIN_VALUE_NAMES and len(value) >= SECRET_VALUE_MIN
              and value not in plain} | {secret for secret in secrets if secret}
    if values:
        ordered = sorted(values, key=len, reverse=True)
        text = re.sub("|".join(re.escape(v) for v in ordered), REDACTED, text)
    for shape in _SECRET_SHAPES:
        text = shape.sub(_keep_name, text)
    return text


def command_environment(cohort: CohortResources, new_colour: Colour | None,
                        extra: Sequence[str] = ()) -> dict[str, str]:
    """The allow-listed variables, the names opted in with ``extra``, and the cohort's facts.

    The facts are names and ARNs, never values; nothing else of the parent's
    environment (CI tokens, AWS keys) reaches the command.
    """
    facts = {
        "ROLLOUT_APP": cohort.app,
        "ROLLOUT_COHORT": cohort.cohort,
        "ROLLOUT_LISTENER_ARN": cohort.listener_arn,
        "ROLLOUT_LOAD_BALANCER_ARN": cohort.load_balancer_arn,
        "ROLLOUT_PARAM_PREFIX": cohort.param_prefix,
        "ROLLOUT_ARTEFACT_BUCKET": cohort.artefact_bucket,
    }
    if new_colour is not None:
        facts["ROLLOUT_NEW_COLOUR"] = new_colour
        for name, known in (("ROLLOUT_NEW_VERSION", cohort.versions),
                            ("ROLLOUT_NEW_TARGET_GROUP_ARN", cohort.target_group_arns)):
            if new_colour in known:
                facts[name] = known[new_colour]
    inherited = {name: os.environ[name] for name in (*ENV_ALLOW_LIST, *extra)
                 if name in os.environ}
    if not any(name.startswith("AWS_") and name not in ENV_ALLOW_LIST for name in extra):
        # HOME is inherited: without this an AWS SDK in the command would find the
        # user's ~/.aws files, or the instance's metadata credentials.
        inherited |= {"AWS_SHARED_CREDENTIALS_FILE": os.devnull,
                      "AWS_CONFIG_FILE": os.devnull, "AWS_EC2_METADATA_DISABLED": "true"}
    return {**inherited, **facts}


def log_directory(purpose: str) -> Path:
    """``$XDG_STATE_HOME/tenant-rollout/<purpose>`` (default ``~/.local/state/...``), mode 0700."""
    state = os.environ.get("XDG_STATE_HOME", "")
    base = Path(state) if os.path.isabs(state) else Path.home() / ".local" / "state"
    folder = base / "tenant-rollout" / purpose
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    folder.chmod(0o700)
    return folder


def _open_log(purpose: str, stem: str) -> tuple[Path, BinaryIO]:
    """A new log file only the user can read, named after ``stem`` and the moment."""
    moment = utc_now().strftime("%Y%m%dT%H%M%S%fZ")
    path = log_directory(purpose) / f"{stem}-{moment}.log"
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    return path, os.fdopen(descriptor, "wb")


def output_tail(path: Path, secrets: Collection[str] = ()) -> str:
    """The last few lines of the log on one line, redacted, at most :data:`TAIL_CHARS` long.

    Control characters (a scanner's colours, say) become spaces: the tail is
    printed on terminals and stored in the ledger.
    """
    with path.open("rb") as handle:
        handle.seek(max(0, path.stat().st_size - TAIL_WINDOW))
        window = redact(handle.read().decode("utf-8", "replace"), secrets=secrets)
    printable = ("".join(c if c.isprintable() else " " for c in line).strip()
                 for line in window.splitlines())
    lines = [line for line in printable if line][-TAIL_LINES:]
    tail = " | ".join(lines)
    return tail if len(tail) <= TAIL_CHARS else "..." + tail[-(TAIL_CHARS - 3):]


def shown_command(command: str, secrets: Collection[str] = ()) -> str:
    """The command as results name it: redacted, on one line, cut to :data:`COMMAND_CHARS`."""
    text = " ".join(redact(command, secrets=secrets).split())
    return text if len(text) <= COMMAND_CHARS else text[:COMMAND_CHARS - 3] + "..."


@dataclass(frozen=True)
class UserCommand:
    """One command to run: what, with which environment, for how long, logged where.

    ``setting`` is where the user wrote it (``security.command``), named when the
    program is not found; the log goes to ``<log_purpose>/<log_stem>-<moment>.log``.
    """

    command: str
    env: Mapping[str, str] = field(repr=False)
    timeout: float
    setting: str
    log_purpose: str
    log_stem: str
    secrets: tuple[str, ...] = field(default=(), repr=False)
    """Values handed to the command on purpose; redacted from everything shown."""


@dataclass(frozen=True)
class CommandRun:
    """How a command ended: its exit code (None if it never exited by itself), in words."""

    exit_code: int | None
    detail: str
    """One printable line: the exit, the log's path and the redacted tail, or what went wrong."""

    @property
    def passed(self) -> bool:
        return self.exit_code == 0


def _stop(process: subprocess.Popen[bytes]) -> None:
    """Kill the command and whatever it started (its own session), then reap it."""
    with suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait()


def _exit_code(argv: list[str], env: Mapping[str, str], log: BinaryIO,
               timeout: float) -> int | None:
    """Run ``argv`` to its end; None when it overran ``timeout`` and was killed."""
    process = subprocess.Popen(argv, env=dict(env), stdout=log, stderr=subprocess.STDOUT,
                               stdin=subprocess.DEVNULL, start_new_session=True)
    try:
        return process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        _stop(process)
        return None
    except BaseException:
        _stop(process)
        raise


def run_user_command(spec: UserCommand) -> CommandRun:
    """Run the command (split like a shell would, but without a shell); exit 0 passes.

    Its output streams into a private log file (see :func:`log_directory`); the
    result keeps the exit code, the log's path and a short redacted tail, since
    it goes to the ledger, the terminal and a report that gets mailed around.
    A command that prints nothing leaves no file.
    """
    shown = shown_command(spec.command, spec.secrets)
    try:
        argv = shlex.split(spec.command)
    except ValueError as exc:
        return CommandRun(None, f"cannot parse `{shown}`: {exc}")
    if not argv:
        return CommandRun(None, "the command is empty")
    try:
        path, log = _open_log(spec.log_purpose, spec.log_stem)
    except (OSError, RuntimeError) as exc:
        return CommandRun(None, f"cannot create the log for `{shown}` ({exc}); "
                                "set XDG_STATE_HOME to a writable directory")
    with log:
        try:
            code = _exit_code(argv, spec.env, log, spec.timeout)
        except FileNotFoundError:
            path.unlink()
            program = redact(argv[0], secrets=spec.secrets)
            return CommandRun(None, f"`{program}` not found; install it or fix "
                                    f"{spec.setting} in the cohort config")
        except OSError as exc:
            path.unlink()
            return CommandRun(None, f"cannot run `{shown}`: {exc.strerror}")
    if path.stat().st_size == 0:
        path.unlink()
        where = "it printed nothing"
    else:
        where = f"full output in {path}; last lines: {output_tail(path, spec.secrets)}"
    if code is None:
        return CommandRun(None, f"`{shown}` did not finish within {spec.timeout:g} s; {where}")
    return CommandRun(code, f"`{shown}` exited {code}; {where}")
