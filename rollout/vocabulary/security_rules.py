"""The security rules a cohort's stack must satisfy before any traffic moves to a new colour.

Pure and boto3-free, so the same rule decides in two places: the Pulumi CrossGuard
policy pack (``infra/policy``) maps planned resources to the facts below, and the
security gate (:mod:`rollout.gates.security`) maps the live AWS resources to them.
One definition means a rule can never pass at deploy time and fail at rollout
time (or the reverse) because two copies drifted apart.
"""

from __future__ import annotations

import json
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

BUCKET_NOT_PUBLIC = "artefact-bucket-not-public"
BUCKET_VERSIONED = "artefact-bucket-versioned"
CUSTOMER_MANAGED_KEY = "ssm-customer-managed-key"
NO_PLAIN_HTTP_ON_PUBLIC_ALB = "no-plain-http-on-public-alb"
NO_IAM_WILDCARD_ACTIONS = "no-iam-wildcard-actions"

RULES: dict[str, str] = {
    BUCKET_NOT_PUBLIC: "The artefact bucket blocks all public access: a full public access "
                       "block, no bucket policy or ACL open to everyone.",
    BUCKET_VERSIONED: "The artefact bucket keeps every version, so any release can be "
                      "restored for a rollback.",
    CUSTOMER_MANAGED_KEY: "Tenant configuration (SSM SecureStrings) is encrypted with the "
                          "cohort's own enabled, customer-managed KMS key.",
    NO_PLAIN_HTTP_ON_PUBLIC_ALB: "An internet-facing load balancer serves no plain HTTP "
                                 "listener unless it only redirects to HTTPS.",
    NO_IAM_WILDCARD_ACTIONS: "IAM policies allow named actions only: no '*' or '?' in an "
                             "allowed action and no Allow with NotAction.",
}

PUBLIC_GRANTEES = (
    "http://acs.amazonaws.com/groups/global/AllUsers",
    "http://acs.amazonaws.com/groups/global/AuthenticatedUsers",
)
PUBLIC_CANNED_ACLS = ("public-read", "public-read-write", "authenticated-read")
AWS_MANAGED_SSM_KEY = "alias/aws/ssm"


class Finding(BaseModel):
    """One violation: which rule, which resource, what is wrong."""

    model_config = ConfigDict(frozen=True)

    rule: str
    resource: str
    problem: str

    def line(self) -> str:
        return f"{self.rule}: {self.resource}: {self.problem}"


class _Facts(BaseModel):
    model_config = ConfigDict(frozen=True)


class PublicAccessBlock(_Facts):
    """S3's four public access block switches; every one must be on."""

    block_public_acls: bool = False
    ignore_public_acls: bool = False
    block_public_policy: bool = False
    restrict_public_buckets: bool = False

    def switched_off(self) -> list[str]:
        names = {"block_public_acls": "BlockPublicAcls", "ignore_public_acls": "IgnorePublicAcls",
                 "block_public_policy": "BlockPublicPolicy",
                 "restrict_public_buckets": "RestrictPublicBuckets"}
        return [aws_name for field, aws_name in names.items() if not getattr(self, field)]


class BucketFacts(_Facts):
    """What the bucket rules need to know about one bucket."""

    name: str
    versioning: str | None = None
    public_access_block: PublicAccessBlock | None = None
    policy: dict[str, Any] | str | None = None
    canned_acl: str | None = None
    acl_grantees: list[str] = Field(default_factory=list)


class KeyFacts(_Facts):
    """A KMS key: who manages it, its state, and every name it can be referred to by."""

    arn: str
    key_id: str | None = None
    manager: Literal["CUSTOMER", "AWS"] = "CUSTOMER"
    state: str = "Enabled"
    aliases: list[str] = Field(default_factory=list)

    def known_as(self, reference: str) -> bool:
        """Whether ``reference`` (an ARN, key id, alias or alias ARN) names this key."""
        names = {self.arn, *self.aliases}
        if self.key_id:
            names.add(self.key_id)
        region_prefix = self.arn.split(":key/")[0]
        names.update(f"{region_prefix}:{alias}" for alias in self.aliases)
        return reference in names


class ParameterFacts(_Facts):
    """An SSM parameter's metadata (never its value)."""

    name: str
    type: str
    key_id: str | None = None


class ListenerFacts(_Facts):
    """A load balancer listener and whether the load balancer faces the internet."""

    name: str
    protocol: str
    port: int | None = None
    internet_facing: bool
    redirects_to_https: bool


# --- the artefact bucket -------------------------------------------------------------------

def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def _parse_document(document: dict[str, Any] | str) -> dict[str, Any] | None:
    if isinstance(document, dict):
        return document
    try:
        parsed = json.loads(document)
    except (TypeError, ValueError):
        return None
    return parsed if isinstance(parsed, dict) else None


def statement_is_public(statement: dict[str, Any]) -> bool:
    """An Allow for every principal with no Condition to narrow it down.

    A condition (source VPC endpoint, organisation id, ...) is taken as narrowing:
    judging each condition key is the job of IAM Access Analyzer, not of this gate.
    """
    if statement.get("Effect") != "Allow" or statement.get("Condition"):
        return False
    principal = statement.get("Principal")
    if principal == "*":
        return True
    if isinstance(principal, dict):
        return "*" in _as_list(principal.get("AWS"))
    return False


def bucket_public_findings(bucket: BucketFacts) -> list[Finding]:
    """``artefact-bucket-not-public``: full public access block, nothing open to everyone."""
    findings: list[Finding] = []

    def found(problem: str) -> None:
        findings.append(Finding(rule=BUCKET_NOT_PUBLIC, resource=f"bucket {bucket.name}",
                                problem=problem))

    if bucket.public_access_block is None:
        found("has no public access block")
    else:
        off = bucket.public_access_block.switched_off()
        if off:
            found(f"public access block leaves {', '.join(off)} off")
    if bucket.policy is not None:
        document = _parse_document(bucket.policy)
        if document is None:
            found("bucket policy is not valid JSON")
        else:
            for index, statement in enumerate(_as_list(document.get("Statement"))):
                if isinstance(statement, dict) and statement_is_public(statement):
                    sid = statement.get("Sid") or f"#{index + 1}"
                    actions = ", ".join(str(a) for a in _as_list(statement.get("Action")))
                    found(f"bucket policy statement {sid} allows {actions or 'actions'} "
                          "to everyone (Principal *)")
    if bucket.canned_acl in PUBLIC_CANNED_ACLS:
        found(f"ACL {bucket.canned_acl} opens the bucket to everyone")
    for grantee in bucket.acl_grantees:
        if grantee in PUBLIC_GRANTEES:
            found(f"ACL grants access to {grantee.rsplit('/', 1)[-1]}")
    return findings


def bucket_versioning_findings(bucket: BucketFacts) -> list[Finding]:
    """``artefact-bucket-versioned``: versioning must be Enabled (Suspended keeps no history)."""
    if bucket.versioning == "Enabled":
        return []
    state = "suspended" if bucket.versioning == "Suspended" else "never enabled"
    return [Finding(rule=BUCKET_VERSIONED, resource=f"bucket {bucket.name}",
                    problem=f"versioning is {state}; old releases could not be restored")]


# --- the tenant configuration namespace ----------------------------------------------------

def key_findings(namespace: str, key: KeyFacts | None) -> list[Finding]:
    """``ssm-customer-managed-key``: the namespace has its own enabled customer-managed key."""
    if key is None:
        return [Finding(rule=CUSTOMER_MANAGED_KEY, resource=f"namespace {namespace}",
                        problem="has no customer-managed KMS key")]
    findings: list[Finding] = []
    if key.manager != "CUSTOMER":
        findings.append(Finding(rule=CUSTOMER_MANAGED_KEY, resource=f"key {key.arn}",
                                problem="is managed by AWS, not by the customer"))
    if key.state != "Enabled":
        findings.append(Finding(rule=CUSTOMER_MANAGED_KEY, resource=f"key {key.arn}",
                                problem=f"is {key.state}, not Enabled"))
    return findings


def parameter_key_findings(parameter: ParameterFacts, key: KeyFacts | None) -> list[Finding]:
    """``ssm-customer-managed-key`` for one parameter.

    With the namespace's key known, a SecureString must use exactly that key;
    otherwise it must at least not use AWS's own ``alias/aws/ssm`` key.
    """
    if parameter.type != "SecureString":
        return []
    used = parameter.key_id
    if key is not None:
        if used is not None and key.known_as(used):
            return []
        problem = f"is encrypted with {used or AWS_MANAGED_SSM_KEY}, not the cohort key {key.arn}"
    elif used is None or used == AWS_MANAGED_SSM_KEY or used.endswith(f":{AWS_MANAGED_SSM_KEY}"):
        problem = f"is encrypted with the AWS-managed key {AWS_MANAGED_SSM_KEY}"
    else:
        return []
    return [Finding(rule=CUSTOMER_MANAGED_KEY, resource=f"parameter {parameter.name}",
                    problem=problem)]


# --- listeners ------------------------------------------------------------------------------

def listener_findings(listener: ListenerFacts) -> list[Finding]:
    """``no-plain-http-on-public-alb``: plain HTTP to the internet only as a redirect to HTTPS."""
    if (listener.protocol.upper() != "HTTP" or not listener.internet_facing
            or listener.redirects_to_https):
        return []
    port = f" on port {listener.port}" if listener.port is not None else ""
    return [Finding(rule=NO_PLAIN_HTTP_ON_PUBLIC_ALB, resource=f"listener {listener.name}",
                    problem=f"serves plain HTTP{port} on an internet-facing load balancer "
                            "without redirecting to HTTPS")]


# --- IAM ------------------------------------------------------------------------------------

def policy_wildcard_findings(policy_name: str, document: dict[str, Any] | str) -> list[Finding]:
    """``no-iam-wildcard-actions``: every allowed action is named in full.

    Deny statements may use wildcards: they only take permissions away.
    """
    resource = f"policy {policy_name}"
    parsed = _parse_document(document)
    if parsed is None:
        return [Finding(rule=NO_IAM_WILDCARD_ACTIONS, resource=resource,
                        problem="policy document is not valid JSON")]
    findings: list[Finding] = []
    for index, statement in enumerate(_as_list(parsed.get("Statement"))):
        if not isinstance(statement, dict) or statement.get("Effect") != "Allow":
            continue
        sid = statement.get("Sid") or f"#{index + 1}"
        if "NotAction" in statement:
            findings.append(Finding(rule=NO_IAM_WILDCARD_ACTIONS, resource=resource,
                                    problem=f"statement {sid} allows everything except "
                                            "its NotAction list"))
        wild = [str(a) for a in _as_list(statement.get("Action"))
                if "*" in str(a) or "?" in str(a)]
        if wild:
            findings.append(Finding(rule=NO_IAM_WILDCARD_ACTIONS, resource=resource,
                                    problem=f"statement {sid} allows wildcard action "
                                            f"{', '.join(wild)}"))
    return findings
