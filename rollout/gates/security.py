"""The security gate: the policy pack's rules, checked against the cohort's live AWS resources.

``pulumi preview --policy-pack infra/policy`` checks what a stack *plans*; this
gate checks what AWS *has*, right before the first traffic step, because a
resource can drift after deployment (someone opens the bucket, a policy gets a
new version). Both use the same pure rules from :mod:`rollout.security_rules`.
An optional user command (a scanner, say) runs too; a non-zero exit blocks.

Every rule gives one :class:`GateResult` whose ``metric`` is the rule id. A rule
whose facts cannot be read (access denied, resource gone) is *inconclusive*,
never a pass. Parameter values are never read: only their metadata.
"""

from __future__ import annotations

import os
import shlex
import subprocess
import urllib.parse
from collections.abc import Callable
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from infra.config import Colour
from rollout import security_rules as rules
from rollout.aws_clients import AwsClients
from rollout.discovery import CohortResources
from rollout.errors import BadInput
from rollout.gates.base import GATES, GateContext, GateResult, Verdict

GATE = "security"
COMMAND = "security-command"
OUTPUT_LIMIT = 4000
DEFAULT_COMMAND_TIMEOUT = 600.0


def config_policy_name(app: str, cohort: str) -> str:
    """The name the infra program gives the cohort's tenant-config IAM policy."""
    return f"{app}-{cohort}-tenant-config"


def config_key_alias(app: str, cohort: str) -> str:
    """The alias the infra program gives the cohort's tenant-config KMS key."""
    return f"alias/{app}-{cohort}-config"


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
    alias = config_key_alias(cohort.app, cohort.cohort)
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
    name = config_policy_name(cohort.app, cohort.cohort)

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
            name = config_policy_name(cohort.app, cohort.cohort)
            return GateResult(gate=GATE, verdict=Verdict.INCONCLUSIVE, metric=rule,
                              reason=f"{rule}: IAM policy {name} not found; deploy the "
                                     f"cohort stack with `rollout stacks up`")
        name, document = found
        return _result(rule, rules.policy_wildcard_findings(name, document),
                       f"policy {name} allows named actions only")

    return _check(rule, evaluate)


# --- the user command ------------------------------------------------------------------------

def truncate_output(text: str, limit: int = OUTPUT_LIMIT) -> str:
    """Keep the start and, mostly, the end of ``text`` (where scanners print their verdict)."""
    if len(text) <= limit:
        return text
    head = limit // 4
    tail = limit - head
    cut = len(text) - head - tail
    return f"{text[:head]}\n... ({cut} characters cut) ...\n{text[-tail:]}"


def command_environment(cohort: CohortResources, new_colour: Colour | None) -> dict[str, str]:
    """What a scanner may want to know about the cohort (names and ARNs, never values)."""
    extra = {
        "ROLLOUT_APP": cohort.app,
        "ROLLOUT_COHORT": cohort.cohort,
        "ROLLOUT_LISTENER_ARN": cohort.listener_arn,
        "ROLLOUT_LOAD_BALANCER_ARN": cohort.load_balancer_arn,
        "ROLLOUT_PARAM_PREFIX": cohort.param_prefix,
        "ROLLOUT_ARTEFACT_BUCKET": cohort.artefact_bucket,
    }
    if new_colour is not None:
        extra["ROLLOUT_NEW_COLOUR"] = new_colour
        extra["ROLLOUT_NEW_VERSION"] = cohort.versions[new_colour]
        extra["ROLLOUT_NEW_TARGET_GROUP_ARN"] = cohort.target_group_arns[new_colour]
    return {**os.environ, **extra}


def run_security_command(command: str, env: dict[str, str],
                         timeout: float = DEFAULT_COMMAND_TIMEOUT) -> GateResult:
    """Run the user's command (split like a shell would, but without a shell); exit 0 passes.

    The output, cut to a sane size, goes into the result so the ledger records
    why the rollout was blocked.
    """
    try:
        argv = shlex.split(command)
    except ValueError as exc:
        return GateResult(gate=GATE, verdict=Verdict.FAIL, metric=COMMAND,
                          reason=f"{COMMAND}: cannot parse `{command}`: {exc}")
    if not argv:
        return GateResult(gate=GATE, verdict=Verdict.FAIL, metric=COMMAND,
                          reason=f"{COMMAND}: the command is empty")
    try:
        done = subprocess.run(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              stdin=subprocess.DEVNULL, text=True, errors="replace",
                              timeout=timeout, check=False)
    except FileNotFoundError:
        return GateResult(gate=GATE, verdict=Verdict.FAIL, metric=COMMAND,
                          reason=f"{COMMAND}: `{argv[0]}` not found; install it or fix "
                                 "security.command in the cohort config")
    except subprocess.TimeoutExpired as exc:
        output = exc.output if isinstance(exc.output, str) else ""
        return GateResult(gate=GATE, verdict=Verdict.FAIL, metric=COMMAND,
                          reason=f"{COMMAND}: `{command}` did not finish within {timeout:g} s; "
                                 f"its output:\n{truncate_output(output)}")
    output = truncate_output(done.stdout.strip())
    if done.returncode == 0:
        return GateResult(gate=GATE, verdict=Verdict.PASS, metric=COMMAND,
                          reason=f"{COMMAND}: `{command}` exited 0")
    return GateResult(gate=GATE, verdict=Verdict.FAIL, metric=COMMAND,
                      observed=float(done.returncode),
                      reason=f"{COMMAND}: `{command}` exited {done.returncode}; "
                             f"its output:\n{output}")


# --- entry points ------------------------------------------------------------------------------

def run_security_checks(clients: AwsClients, cohort: CohortResources, command: str | None, *,
                        new_colour: Colour | None = None,
                        timeout: float = DEFAULT_COMMAND_TIMEOUT) -> list[GateResult]:
    """Every rule against the cohort's live resources, then the user command if there is one.

    The engine calls this before the first traffic step and blocks unless every
    result passes.
    """
    results = [
        *check_bucket(clients, cohort),
        check_config_key(clients, cohort),
        check_listeners(clients, cohort),
        check_config_policy(clients, cohort),
    ]
    if command:
        results.append(run_security_command(command, command_environment(cohort, new_colour),
                                            timeout))
    return results


def summarise(results: list[GateResult]) -> GateResult:
    """One result for the gate: the first failure, else the first inconclusive, else a pass."""
    for verdict in (Verdict.FAIL, Verdict.INCONCLUSIVE):
        bad = [r for r in results if r.verdict == verdict]
        if bad:
            more = f" (and {len(bad) - 1} more)" if len(bad) > 1 else ""
            return bad[0].model_copy(update={"reason": bad[0].reason + more})
    checked = ", ".join(r.metric or r.gate for r in results)
    return GateResult(gate=GATE, verdict=Verdict.PASS, reason=f"security checks passed: {checked}")


class SecuritySettings(BaseModel):
    """``security:`` in a cohort's config: an optional command and how long it may run."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    command: str | None = Field(default=None, min_length=1)
    timeout_seconds: float = Field(default=DEFAULT_COMMAND_TIMEOUT, gt=0, alias="timeout")


class SecurityGate:
    """The security checks as a :class:`~rollout.gates.base.Gate`."""

    name = GATE

    def __init__(self, settings: SecuritySettings) -> None:
        self.settings = settings

    def check(self, context: GateContext) -> GateResult:
        return summarise(run_security_checks(
            context.clients, context.cohort, self.settings.command,
            new_colour=context.new_colour, timeout=self.settings.timeout_seconds))


@GATES.register(GATE)
def security_gate(settings: dict[str, Any]) -> SecurityGate:
    """Build the gate from its settings; :class:`BadInput` names a bad field."""
    try:
        return SecurityGate(SecuritySettings.model_validate(settings))
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(part) for part in first["loc"]) or "settings"
        raise BadInput(f"gate {GATE}: {field}: {first['msg']}") from None

