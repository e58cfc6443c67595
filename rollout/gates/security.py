"""The security gate: the policy pack's rules, checked against the cohort's live AWS resources.

``pulumi preview --policy-pack infra/policy`` checks what a stack *plans*; this
gate checks what AWS *has*, right before the first traffic step, because a
resource can drift after deployment (someone opens the bucket, a policy gets a
new version). Both use the same pure rules from :mod:`rollout.vocabulary.security_rules`.
An optional user command (a scanner, say) runs too; a non-zero exit blocks. It
inherits only :data:`ENV_ALLOW_LIST` (plus the cohort's facts and names opted in
with ``security.env``), its full output goes to a private log file, and results
keep only the exit code, that file's path and a short redacted tail.

Every rule gives one :class:`GateResult` whose ``metric`` is the rule id. A rule
whose facts cannot be read (access denied, resource gone) is *inconclusive*,
never a pass. Parameter values are never read: only their metadata.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import urllib.parse
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, BinaryIO

from botocore.exceptions import BotoCoreError, ClientError
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from rollout.aws_clients import AwsClients
from rollout.discovery import CohortResources
from rollout.errors import BadInput
from rollout.gates.base import GATES, GateContext, GateResult, Verdict
from rollout.model.tenants import EnvName
from rollout.vocabulary import resource_names
from rollout.vocabulary import security_rules as rules
from rollout.vocabulary.clock import utc_now
from rollout.vocabulary.colours import Colour
from rollout.vocabulary.counts import and_more

GATE = "security"
COMMAND = "security-command"
DEFAULT_COMMAND_TIMEOUT = 600.0


class _Unreadable(Exception):
    """A fact the rule needs could not be read; the rule is inconclusive."""


def _error_code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def _read(what: str, call: Callable[[], Any], *, missing: tuple[str, ...] = ()) -> Any:
    """Run one read; ``None`` when AWS says the thing is absent, :class:`_Unreadable` on errors."""
    try:
        return call()
    except ClientError as exc:
        code = _error_code(exc)
        if code in missing:
            return None
        message = exc.response.get("Error", {}).get("Message", "")
        raise _Unreadable(f"cannot read {what}: {code} {message}".strip()) from None
    except BotoCoreError as exc:
        raise _Unreadable(f"cannot read {what}: {exc}") from None


# --- live facts ------------------------------------------------------------------------------

def bucket_facts(clients: AwsClients, bucket: str) -> rules.BucketFacts:
    s3 = clients.client("s3")
    versioning = _read(f"versioning of bucket {bucket}",
                       lambda: s3.get_bucket_versioning(Bucket=bucket))
    block = _read(f"public access block of bucket {bucket}",
                  lambda: s3.get_public_access_block(Bucket=bucket),
                  missing=("NoSuchPublicAccessBlockConfiguration",))
    policy = _read(f"policy of bucket {bucket}", lambda: s3.get_bucket_policy(Bucket=bucket),
                   missing=("NoSuchBucketPolicy",))
    acl = _read(f"ACL of bucket {bucket}", lambda: s3.get_bucket_acl(Bucket=bucket))
    config = (block or {}).get("PublicAccessBlockConfiguration")
    return rules.BucketFacts(
        name=bucket,
        versioning=versioning.get("Status"),
        public_access_block=None if config is None else rules.PublicAccessBlock(
            block_public_acls=bool(config.get("BlockPublicAcls")),
            ignore_public_acls=bool(config.get("IgnorePublicAcls")),
            block_public_policy=bool(config.get("BlockPublicPolicy")),
            restrict_public_buckets=bool(config.get("RestrictPublicBuckets"))),
        policy=None if policy is None else policy.get("Policy"),
        acl_grantees=[grant["Grantee"]["URI"] for grant in acl.get("Grants", [])
                      if grant.get("Grantee", {}).get("URI")],
    )


def key_facts(clients: AwsClients, cohort: CohortResources) -> rules.KeyFacts | None:
    kms = clients.client("kms")
    if cohort.kms_key_arn is None:
        return None
    key_arn = cohort.kms_key_arn
    found = _read(f"KMS key {key_arn}", lambda: kms.describe_key(KeyId=key_arn),
                  missing=("NotFoundException",))
    if found is None:
        return None
    meta = found["KeyMetadata"]
    alias = resource_names.config_key_alias(cohort.app, cohort.cohort)
    by_alias = _read(f"KMS alias {alias}", lambda: kms.describe_key(KeyId=alias),
                     missing=("NotFoundException",))
    aliases = [alias] if by_alias and by_alias["KeyMetadata"]["Arn"] == meta["Arn"] else []
    return rules.KeyFacts(arn=meta["Arn"], key_id=meta["KeyId"], manager=meta["KeyManager"],
                          state=meta["KeyState"], aliases=aliases)


def parameter_facts(clients: AwsClients, prefix: str) -> list[rules.ParameterFacts]:
    """Metadata of every parameter under ``prefix``: ``DescribeParameters`` returns no values."""
    ssm = clients.client("ssm")

    def describe() -> list[rules.ParameterFacts]:
        pages = ssm.get_paginator("describe_parameters").paginate(ParameterFilters=[
            {"Key": "Path", "Option": "Recursive", "Values": [prefix]}])
        return [rules.ParameterFacts(name=p["Name"], type=p["Type"], key_id=p.get("KeyId"))
                for page in pages for p in page.get("Parameters", [])]

    found: list[rules.ParameterFacts] = _read(f"parameters under {prefix}", describe)
    return found


def listener_facts(clients: AwsClients, cohort: CohortResources) -> list[rules.ListenerFacts]:
    elbv2 = clients.client("elbv2")
    balancers = _read(f"load balancer {cohort.load_balancer_arn}",
                      lambda: elbv2.describe_load_balancers(
                          LoadBalancerArns=[cohort.load_balancer_arn]))
    scheme = balancers["LoadBalancers"][0].get("Scheme", "internet-facing")
    listeners = _read(f"listeners of {cohort.load_balancer_arn}",
                      lambda: elbv2.describe_listeners(LoadBalancerArn=cohort.load_balancer_arn))
    return [rules.ListenerFacts(
        name=listener["ListenerArn"], protocol=listener["Protocol"], port=listener.get("Port"),
        internet_facing=scheme == "internet-facing",
        redirects_to_https=any(
            action.get("Type") == "redirect"
            and action.get("RedirectConfig", {}).get("Protocol") == "HTTPS"
            for action in listener.get("DefaultActions", [])),
    ) for listener in listeners["Listeners"]]


def config_policy_document(clients: AwsClients, cohort: CohortResources,
                           ) -> tuple[str, dict[str, Any] | str] | None:
    """The cohort config policy's name and default version's document, or None if absent."""
    iam = clients.client("iam")
    name = resource_names.config_policy(cohort.app, cohort.cohort)

    def find() -> str | None:
        for page in iam.get_paginator("list_policies").paginate(Scope="Local"):
            for policy in page.get("Policies", []):
                if policy["PolicyName"] == name:
                    return str(policy["Arn"])
        return None

    arn = _read("IAM policies", find)
    if arn is None:
        return None
    version = _read(f"IAM policy {arn}", lambda: iam.get_policy(PolicyArn=arn))
    document = _read(f"IAM policy {arn}", lambda: iam.get_policy_version(
        PolicyArn=arn, VersionId=version["Policy"]["DefaultVersionId"]))
    body: dict[str, Any] | str = document["PolicyVersion"]["Document"]
    if isinstance(body, str):
        body = urllib.parse.unquote(body)
    return name, body


# --- rules against live facts ------------------------------------------------------------------

def _result(rule: str, findings: list[rules.Finding], passed: str) -> GateResult:
    if not findings:
        return GateResult(gate=GATE, verdict=Verdict.PASS, metric=rule,
                          reason=f"{rule}: {passed}")
    return GateResult(gate=GATE, verdict=Verdict.FAIL, metric=rule,
                      reason="; ".join(f.line() for f in findings))


def _inconclusive(rule: str, problem: _Unreadable) -> GateResult:
    return GateResult(gate=GATE, verdict=Verdict.INCONCLUSIVE, metric=rule,
                      reason=f"{rule}: {problem} (see `rollout iam-policy` for what the "
                             "rollout role needs)")


def _check(rule: str, evaluate: Callable[[], GateResult]) -> GateResult:
    try:
        return evaluate()
    except _Unreadable as exc:
        return _inconclusive(rule, exc)


def check_bucket(clients: AwsClients, cohort: CohortResources) -> list[GateResult]:
    bucket = cohort.artefact_bucket
    try:
        facts = bucket_facts(clients, bucket)
    except _Unreadable as exc:
        return [_inconclusive(rule, exc)
                for rule in (rules.BUCKET_NOT_PUBLIC, rules.BUCKET_VERSIONED)]
    return [
        _result(rules.BUCKET_NOT_PUBLIC, rules.bucket_public_findings(facts),
                f"bucket {bucket} blocks all public access"),
        _result(rules.BUCKET_VERSIONED, rules.bucket_versioning_findings(facts),
                f"bucket {bucket} keeps every version"),
    ]


def check_config_key(clients: AwsClients, cohort: CohortResources) -> GateResult:
    def evaluate() -> GateResult:
        key = key_facts(clients, cohort)
        findings = rules.key_findings(cohort.param_prefix, key)
        for parameter in parameter_facts(clients, cohort.param_prefix):
            findings += rules.parameter_key_findings(parameter, key)
        return _result(rules.CUSTOMER_MANAGED_KEY, findings,
                       f"{cohort.param_prefix} is encrypted with the enabled "
                       f"customer-managed key {cohort.kms_key_arn}")

    return _check(rules.CUSTOMER_MANAGED_KEY, evaluate)


def check_listeners(clients: AwsClients, cohort: CohortResources) -> GateResult:
    def evaluate() -> GateResult:
        findings = [f for listener in listener_facts(clients, cohort)
                    for f in rules.listener_findings(listener)]
        return _result(rules.NO_PLAIN_HTTP_ON_PUBLIC_ALB, findings,
                       "no plain HTTP is served to the internet")

    return _check(rules.NO_PLAIN_HTTP_ON_PUBLIC_ALB, evaluate)


def check_config_policy(clients: AwsClients, cohort: CohortResources) -> GateResult:
    rule = rules.NO_IAM_WILDCARD_ACTIONS

    def evaluate() -> GateResult:
        found = config_policy_document(clients, cohort)
        if found is None:
            name = resource_names.config_policy(cohort.app, cohort.cohort)
            return GateResult(gate=GATE, verdict=Verdict.INCONCLUSIVE, metric=rule,
                              reason=f"{rule}: IAM policy {name} not found; deploy the "
                                     f"cohort stack with `rollout stacks up`")
        name, document = found
        return _result(rule, rules.policy_wildcard_findings(name, document),
                       f"policy {name} allows named actions only")

    return _check(rule, evaluate)


# --- the user command ------------------------------------------------------------------------

ENV_ALLOW_LIST: tuple[str, ...] = (
    "PATH", "HOME", "USER", "LOGNAME", "LANG", "LC_ALL", "LC_CTYPE", "TZ", "TMPDIR",
    "AWS_REGION", "AWS_DEFAULT_REGION", "AWS_ENDPOINT_URL",
    "AWS_CA_BUNDLE", "SSL_CERT_FILE", "SSL_CERT_DIR",
)
"""The only variables the security command inherits, besides the ``ROLLOUT_*`` cohort facts
and the names a cohort opts in to with ``security.env``. No credential is on it: a scanner
that needs AWS access must be given, say, ``AWS_PROFILE`` explicitly."""

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


def redact(text: str, environ: Mapping[str, str] | None = None) -> str:
    """``text`` with secret-looking parts replaced by ``[redacted]``.

    The child never gets the parent's credentials, but it can read them elsewhere
    (a credentials file, the parent's ``/proc/PID/environ``); so every parent value
    not known to be plain is redacted, and then whatever has a credential's shape.
    """
    source = os.environ if environ is None else environ
    plain = {value for name, value in source.items() if name in PLAIN_VALUE_NAMES}
    values = sorted({value for name, value in source.items()
                     if name not in PLAIN_VALUE_NAMES and len(value) >= SECRET_VALUE_MIN
                     and value not in plain}, key=len, reverse=True)
    if values:
        text = re.sub("|".join(re.escape(v) for v in values), REDACTED, text)
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
        facts["ROLLOUT_NEW_VERSION"] = cohort.versions[new_colour]
        facts["ROLLOUT_NEW_TARGET_GROUP_ARN"] = cohort.target_group_arns[new_colour]
    inherited = {name: os.environ[name] for name in (*ENV_ALLOW_LIST, *extra)
                 if name in os.environ}
    if not any(name.startswith("AWS_") and name not in ENV_ALLOW_LIST for name in extra):
        # HOME is inherited: without this an AWS SDK in the command would find the
        # user's ~/.aws files, or the instance's metadata credentials.
        inherited |= {"AWS_SHARED_CREDENTIALS_FILE": os.devnull,
                      "AWS_CONFIG_FILE": os.devnull, "AWS_EC2_METADATA_DISABLED": "true"}
    return {**inherited, **facts}


def log_directory() -> Path:
    """``$XDG_STATE_HOME/tenant-rollout/security`` (default ``~/.local/state/...``), mode 0700."""
    state = os.environ.get("XDG_STATE_HOME", "")
    base = Path(state) if os.path.isabs(state) else Path.home() / ".local" / "state"
    folder = base / "tenant-rollout" / "security"
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    folder.chmod(0o700)
    return folder


def _open_log(cohort: CohortResources) -> tuple[Path, BinaryIO]:
    """A new log file only the user can read, named after the cohort and the moment."""
    moment = utc_now().strftime("%Y%m%dT%H%M%S%fZ")
    path = log_directory() / f"{cohort.app}-{cohort.cohort}-{moment}.log"
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    return path, os.fdopen(descriptor, "wb")


def output_tail(path: Path) -> str:
    """The last few lines of the log on one line, redacted, at most :data:`TAIL_CHARS` long.

    Control characters (a scanner's colours, say) become spaces: the tail is
    printed on terminals and stored in the ledger.
    """
    with path.open("rb") as handle:
        handle.seek(max(0, path.stat().st_size - TAIL_WINDOW))
        window = redact(handle.read().decode("utf-8", "replace"))
    printable = ("".join(c if c.isprintable() else " " for c in line).strip()
                 for line in window.splitlines())
    lines = [line for line in printable if line][-TAIL_LINES:]
    tail = " | ".join(lines)
    return tail if len(tail) <= TAIL_CHARS else "..." + tail[-(TAIL_CHARS - 3):]


def _shown(command: str) -> str:
    """The command as results name it: redacted, and cut to :data:`COMMAND_CHARS`."""
    text = redact(command)
    return text if len(text) <= COMMAND_CHARS else text[:COMMAND_CHARS - 3] + "..."


def _command_result(verdict: Verdict, reason: str, observed: float | None = None) -> GateResult:
    return GateResult(gate=GATE, verdict=verdict, metric=COMMAND, observed=observed,
                      reason=f"{COMMAND}: {reason}")


def run_security_command(command: str, env: dict[str, str], cohort: CohortResources,
                         timeout: float = DEFAULT_COMMAND_TIMEOUT) -> GateResult:
    """Run the user's command (split like a shell would, but without a shell); exit 0 passes.

    Its output streams into a private log file (see :func:`log_directory`); the
    result keeps the exit code, the log's path and a short redacted tail, since
    it goes to the ledger, the terminal and a report that gets mailed around.
    A command that prints nothing leaves no file.
    """
    shown = _shown(command)
    try:
        argv = shlex.split(command)
    except ValueError as exc:
        return _command_result(Verdict.FAIL, f"cannot parse `{shown}`: {exc}")
    if not argv:
        return _command_result(Verdict.FAIL, "the command is empty")
    try:
        path, log = _open_log(cohort)
    except (OSError, RuntimeError) as exc:
        return _command_result(Verdict.FAIL, f"cannot create the log for `{shown}` ({exc}); "
                                             "set XDG_STATE_HOME to a writable directory")
    timed_out = False
    with log:
        try:
            code = subprocess.run(argv, env=env, stdout=log, stderr=subprocess.STDOUT,
                                  stdin=subprocess.DEVNULL, timeout=timeout,
                                  check=False).returncode
        except FileNotFoundError:
            path.unlink()
            return _command_result(Verdict.FAIL, f"`{redact(argv[0])}` not found; install it "
                                                 "or fix security.command in the cohort config")
        except OSError as exc:
            path.unlink()
            return _command_result(Verdict.FAIL, f"cannot run `{shown}`: {exc.strerror}")
        except subprocess.TimeoutExpired:
            timed_out, code = True, -1
    if path.stat().st_size == 0:
        path.unlink()
        where = "it printed nothing"
    else:
        where = f"full output in {path}; last lines: {output_tail(path)}"
    if timed_out:
        return _command_result(Verdict.FAIL,
                               f"`{shown}` did not finish within {timeout:g} s; {where}")
    if code == 0:
        return _command_result(Verdict.PASS, f"`{shown}` exited 0; {where}")
    return _command_result(Verdict.FAIL, f"`{shown}` exited {code}; {where}", float(code))


# --- entry points ------------------------------------------------------------------------------

def run_checks(clients: AwsClients, cohort: CohortResources, command: str | None, *,
               new_colour: Colour | None = None, timeout: float = DEFAULT_COMMAND_TIMEOUT,
               extra_env: Sequence[str] = ()) -> list[GateResult]:
    """Every rule against the cohort's live resources, then the user command if there is one.

    ``extra_env`` names parent variables the command may inherit beyond
    :data:`ENV_ALLOW_LIST` (``security.env``).
    """
    results = [
        *check_bucket(clients, cohort),
        check_config_key(clients, cohort),
        check_listeners(clients, cohort),
        check_config_policy(clients, cohort),
    ]
    if command:
        results.append(run_security_command(
            command, command_environment(cohort, new_colour, extra_env), cohort, timeout))
    return results


def summarise(results: list[GateResult]) -> GateResult:
    """One result for the gate: the first failure, else the first inconclusive, else a pass."""
    for verdict in (Verdict.FAIL, Verdict.INCONCLUSIVE):
        bad = [r for r in results if r.verdict == verdict]
        if bad:
            return bad[0].model_copy(update={"reason": bad[0].reason + and_more(len(bad) - 1)})
    checked = ", ".join(r.metric or r.gate for r in results)
    return GateResult(gate=GATE, verdict=Verdict.PASS, reason=f"security checks passed: {checked}")


class SecuritySettings(BaseModel):
    """``security:`` settings: an optional command, how long it may run, what it may inherit.

    ``env`` names parent variables the command gets on top of :data:`ENV_ALLOW_LIST`,
    e.g. ``[AWS_PROFILE]`` for a scanner with its own read-only profile: an explicit
    opt-in, because the default hands the command no credential at all.
    """

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    command: str | None = Field(default=None, min_length=1)
    timeout_seconds: float = Field(default=DEFAULT_COMMAND_TIMEOUT, gt=0, alias="timeout")
    env: tuple[EnvName, ...] = ()


class SecurityGate:
    """The security checks as a :class:`~rollout.gates.base.Gate`."""

    name = GATE
    waits_for_human = False

    def __init__(self, settings: SecuritySettings) -> None:
        self.settings = settings

    def check(self, context: GateContext) -> GateResult:
        return summarise(run_checks(
            context.clients, context.cohort, self.settings.command,
            new_colour=context.new_colour, timeout=self.settings.timeout_seconds,
            extra_env=self.settings.env))


@GATES.register(GATE)
def security_gate(settings: Mapping[str, Any]) -> SecurityGate:
    """Build the gate from its settings; :class:`BadInput` names a bad field."""
    try:
        return SecurityGate(SecuritySettings.model_validate(settings))
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(part) for part in first["loc"]) or "settings"
        raise BadInput(f"gate {GATE}: {field}: {first['msg']}") from None

