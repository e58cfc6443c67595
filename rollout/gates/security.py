"""The security gate: the policy pack's rules, checked against the cohort's live AWS resources.

``pulumi preview --policy-pack infra/policy`` checks what a stack *plans*; this
gate checks what AWS *has*, right before the first traffic step, because a
resource can drift after deployment (someone opens the bucket, a policy gets a
new version). Both use the same pure rules from :mod:`rollout.vocabulary.security_rules`.
An optional user command (a scanner, say) runs too; a non-zero exit blocks. It
runs as every user command does (:mod:`rollout.user_command`): it inherits only
:data:`ENV_ALLOW_LIST` (plus the cohort's facts and names opted in with
``security.env``), its full output goes to a private log file, and results keep
only the exit code, that file's path and a short redacted tail.

Every rule gives one :class:`GateResult` whose ``metric`` is the rule id. A rule
whose facts cannot be read (access denied, resource gone) is *inconclusive*,
never a pass. Parameter values are never read: only their metadata.
"""

from __future__ import annotations

import urllib.parse
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from rollout.aws_clients import AwsClients
from rollout.discovery import CohortResources
from rollout.errors import BadInput
from rollout.gates.base import GATES, GateContext, GateResult, Verdict
from rollout.user_command import ENV_ALLOW_LIST as ENV_ALLOW_LIST
from rollout.user_command import REDACTED as REDACTED
from rollout.user_command import UserCommand, command_environment, run_user_command
from rollout.user_command import redact as redact
from rollout.vocabulary import resource_names
from rollout.vocabulary import security_rules as rules
from rollout.vocabulary.colours import Colour
from rollout.vocabulary.counts import and_more
from rollout.vocabulary.env_names import EnvName

GATE = "security"
COMMAND = "security-command"
DEFAULT_COMMAND_TIMEOUT = 600.0
LOG_PURPOSE = "security"
"""The command's logs go to ``$XDG_STATE_HOME/tenant-rollout/security``."""


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

def run_security_command(command: str, env: dict[str, str], cohort: CohortResources,
                         timeout: float = DEFAULT_COMMAND_TIMEOUT) -> GateResult:
    """Run the user's command (see :mod:`rollout.user_command`); exit 0 passes.

    Its full output goes to ``$XDG_STATE_HOME/tenant-rollout/security``; the result
    keeps the exit code (as ``observed`` when it is not 0), the log's path and a
    short redacted tail.
    """
    ended = run_user_command(UserCommand(
        command=command, env=env, timeout=timeout, setting="security.command",
        log_purpose=LOG_PURPOSE, log_stem=f"{cohort.app}-{cohort.cohort}"))
    code = ended.exit_code
    return GateResult(gate=GATE, verdict=Verdict.PASS if ended.passed else Verdict.FAIL,
                      metric=COMMAND, observed=None if code in (None, 0) else float(code),
                      reason=f"{COMMAND}: {ended.detail}")


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

