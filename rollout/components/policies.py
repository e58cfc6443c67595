"""The policy pack's policies: planned resources mapped to facts, judged by the shared rules.

Each policy turns Pulumi resource properties (engine names, e.g. ``versioningConfiguration``)
into the facts of :mod:`rollout.vocabulary.security_rules` and reports that module's findings, so
the pack and the rollout's security gate cannot disagree on what a rule means.

Resources are linked (a versioning resource to its bucket, a listener to its load
balancer) through Pulumi's property dependencies, or by value once values are known.
A value Pulumi cannot know yet during a preview is treated as "cannot judge", never
as a violation.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from pulumi_policy import (
    EnforcementLevel,
    Policy,
    PolicyResource,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)
from pulumi_policy.proxy import UnknownValueError

from rollout.vocabulary import security_rules as rules
from rollout.vocabulary.tags import SHARED, TAG_APP, TAG_COHORT

PACK_NAME = "tenant-rollout-security"

BUCKET_TYPES = ("aws:s3/bucket:Bucket", "aws:s3/bucketV2:BucketV2")
VERSIONING_TYPES = ("aws:s3/bucketVersioning:BucketVersioning",
                    "aws:s3/bucketVersioningV2:BucketVersioningV2")
PUBLIC_ACCESS_BLOCK_TYPE = "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock"
BUCKET_POLICY_TYPE = "aws:s3/bucketPolicy:BucketPolicy"
BUCKET_ACL_TYPES = ("aws:s3/bucketAcl:BucketAcl", "aws:s3/bucketAclV2:BucketAclV2")
KEY_TYPE = "aws:kms/key:Key"
ALIAS_TYPE = "aws:kms/alias:Alias"
PARAMETER_TYPE = "aws:ssm/parameter:Parameter"
LISTENER_TYPES = ("aws:lb/listener:Listener", "aws:alb/listener:Listener")
LOAD_BALANCER_TYPES = ("aws:lb/loadBalancer:LoadBalancer", "aws:alb/loadBalancer:LoadBalancer")
IAM_POLICY_TYPES = ("aws:iam/policy:Policy", "aws:iam/rolePolicy:RolePolicy",
                    "aws:iam/userPolicy:UserPolicy", "aws:iam/groupPolicy:GroupPolicy")
COHORT_COMPONENT = "tenant-rollout:index:CohortStack"


class _Unknown:
    """Marks a value Pulumi does not know yet (preview)."""


UNKNOWN = _Unknown()


def plain(value: Any) -> Any:
    """A property value as plain dicts and lists; :data:`UNKNOWN` if any part is unknown."""
    try:
        return _plain(value)
    except UnknownValueError:
        return UNKNOWN


def _plain(value: Any) -> Any:
    if isinstance(value, str | bytes):
        return value
    if isinstance(value, Mapping):
        return {str(key): _plain(value[key]) for key in value}
    if isinstance(value, Sequence):
        return [_plain(value[index]) for index in range(len(value))]
    return value


def prop(props: Mapping[str, Any], key: str) -> Any:
    """One property, plain; None when absent or not known yet."""
    try:
        if key not in props:
            return None
        value = plain(props[key])
    except UnknownValueError:
        return None
    return None if value is UNKNOWN else value


def is_unknown(props: Mapping[str, Any], key: str) -> bool:
    """Whether ``key`` is set but Pulumi cannot know its value yet (preview)."""
    try:
        return key in props and plain(props[key]) is UNKNOWN
    except UnknownValueError:
        return True


def _identities(resource: PolicyResource) -> set[str]:
    names = (prop(resource.props, key) for key in ("id", "bucket", "arn", "keyId", "name"))
    return {name for name in names if isinstance(name, str)}


def refers_to(resource: PolicyResource, key: str, target: PolicyResource) -> bool:
    """Whether ``resource``'s property ``key`` points at ``target``."""
    if any(dep.urn == target.urn for dep in resource.property_dependencies.get(key, [])):
        return True
    value = prop(resource.props, key)
    return isinstance(value, str) and value in _identities(target)


def of_type(resources: Iterable[PolicyResource], types: Sequence[str]) -> list[PolicyResource]:
    return [r for r in resources if r.resource_type in types]


def _linked(resources: list[PolicyResource], types: Sequence[str], key: str,
            target: PolicyResource) -> list[PolicyResource]:
    return [r for r in of_type(resources, types) if refers_to(r, key, target)]


def _report(findings: list[rules.Finding], report: ReportViolation, urn: str | None) -> None:
    for finding in findings:
        report(finding.line(), urn)


# --- buckets ----------------------------------------------------------------------------------

def bucket_facts(bucket: PolicyResource, resources: list[PolicyResource]) -> rules.BucketFacts:
    """The bucket as the rules see it, from the bucket and the resources that configure it."""
    versioning: str | None = None
    inline = prop(bucket.props, "versioning")
    if isinstance(inline, dict) and inline.get("enabled"):
        versioning = "Enabled"
    for resource in _linked(resources, VERSIONING_TYPES, "bucket", bucket):
        status = (prop(resource.props, "versioningConfiguration") or {}).get("status")
        versioning = status if isinstance(status, str) else versioning
    block: rules.PublicAccessBlock | None = None
    for resource in _linked(resources, (PUBLIC_ACCESS_BLOCK_TYPE,), "bucket", bucket):
        block = rules.PublicAccessBlock(
            block_public_acls=prop(resource.props, "blockPublicAcls") is True,
            ignore_public_acls=prop(resource.props, "ignorePublicAcls") is True,
            block_public_policy=prop(resource.props, "blockPublicPolicy") is True,
            restrict_public_buckets=prop(resource.props, "restrictPublicBuckets") is True)
    policy = prop(bucket.props, "policy")
    for resource in _linked(resources, (BUCKET_POLICY_TYPE,), "bucket", bucket):
        policy = prop(resource.props, "policy") or policy
    acl = prop(bucket.props, "acl")
    grantees: list[str] = []
    for resource in _linked(resources, BUCKET_ACL_TYPES, "bucket", bucket):
        acl = prop(resource.props, "acl") or acl
        grants = (prop(resource.props, "accessControlPolicy") or {}).get("grants") or []
        grantees += [g.get("grantee", {}).get("uri") for g in grants
                     if isinstance(g, dict) and g.get("grantee", {}).get("uri")]
    name = prop(bucket.props, "bucket") or bucket.name
    return rules.BucketFacts(name=str(name), versioning=versioning, public_access_block=block,
                             policy=policy if isinstance(policy, dict | str) else None,
                             canned_acl=acl if isinstance(acl, str) else None,
                             acl_grantees=grantees)


def validate_buckets_not_public(args: StackValidationArgs, report: ReportViolation) -> None:
    for bucket in of_type(args.resources, BUCKET_TYPES):
        _report(rules.bucket_public_findings(bucket_facts(bucket, args.resources)), report,
                bucket.urn)


def validate_buckets_versioned(args: StackValidationArgs, report: ReportViolation) -> None:
    for bucket in of_type(args.resources, BUCKET_TYPES):
        _report(rules.bucket_versioning_findings(bucket_facts(bucket, args.resources)), report,
                bucket.urn)


# --- the tenant configuration key -----------------------------------------------------------

def key_facts(key: PolicyResource, resources: list[PolicyResource]) -> rules.KeyFacts:
    aliases = [str(prop(alias.props, "name")) for alias in
               _linked(resources, (ALIAS_TYPE,), "targetKeyId", key) if prop(alias.props, "name")]
    arn = prop(key.props, "arn")
    return rules.KeyFacts(
        arn=arn if isinstance(arn, str) else key.urn, key_id=prop(key.props, "keyId"),
        manager="CUSTOMER", state="Disabled" if prop(key.props, "isEnabled") is False
        else "Enabled", aliases=aliases)


def cohort_namespace(resources: list[PolicyResource]) -> str | None:
    """``/<app>/<cohort>`` when this is a cohort stack (not the shared one), else None."""
    for resource in resources:
        tags = prop(resource.props, "tags")
        if isinstance(tags, dict) and tags.get(TAG_COHORT) not in (None, SHARED):
            return f"/{tags.get(TAG_APP)}/{tags[TAG_COHORT]}"
    if of_type(resources, (COHORT_COMPONENT,)):
        return "the cohort's tenant configuration"
    return None


def _parameter_key(parameter: PolicyResource, keys: list[tuple[PolicyResource, rules.KeyFacts]],
                   ) -> rules.KeyFacts | None:
    used = prop(parameter.props, "keyId")
    for resource, facts in keys:
        if refers_to(parameter, "keyId", resource):
            return facts
        if isinstance(used, str) and facts.known_as(used):
            return facts
    return None


def validate_customer_managed_key(args: StackValidationArgs, report: ReportViolation) -> None:
    keys = [(key, key_facts(key, args.resources)) for key in of_type(args.resources, (KEY_TYPE,))]
    namespace = cohort_namespace(args.resources)
    if namespace is not None and not keys:
        _report(rules.key_findings(namespace, None), report, None)
    for resource, facts in keys:
        _report(rules.key_findings(namespace or "tenant configuration", facts), report,
                resource.urn)
    for parameter in of_type(args.resources, (PARAMETER_TYPE,)):
        if is_unknown(parameter.props, "keyId"):
            continue
        metadata = rules.ParameterFacts(
            name=str(prop(parameter.props, "name") or parameter.name),
            type=str(prop(parameter.props, "type") or "String"),
            key_id=prop(parameter.props, "keyId"))
        _report(rules.parameter_key_findings(metadata, _parameter_key(parameter, keys)), report,
                parameter.urn)


# --- listeners --------------------------------------------------------------------------------

def redirects_to_https(actions: Any) -> bool:
    if not isinstance(actions, list):
        return False
    return any(isinstance(action, dict) and action.get("type") == "redirect"
               and (action.get("redirect") or {}).get("protocol") == "HTTPS"
               for action in actions)


def listener_facts(listener: PolicyResource, resources: list[PolicyResource],
                   ) -> rules.ListenerFacts | None:
    """None when the load balancer is not in this stack or its scheme is not known yet."""
    balancers = [lb for lb in of_type(resources, LOAD_BALANCER_TYPES)
                 if refers_to(listener, "loadBalancerArn", lb)]
    if not balancers or is_unknown(balancers[0].props, "internal"):
        return None
    internal = prop(balancers[0].props, "internal")
    port = prop(listener.props, "port")
    return rules.ListenerFacts(
        name=listener.name, protocol=str(prop(listener.props, "protocol") or "HTTP"),
        port=int(port) if isinstance(port, int | float) else None,
        internet_facing=internal is not True,
        redirects_to_https=redirects_to_https(prop(listener.props, "defaultActions")))


def validate_listeners(args: StackValidationArgs, report: ReportViolation) -> None:
    for listener in of_type(args.resources, LISTENER_TYPES):
        facts = listener_facts(listener, args.resources)
        if facts is not None:
            _report(rules.listener_findings(facts), report, listener.urn)


# --- IAM --------------------------------------------------------------------------------------

def validate_iam_policy(args: ResourceValidationArgs, report: ReportViolation) -> None:
    if args.resource_type not in IAM_POLICY_TYPES:
        return
    document = plain(args.props["policy"]) if "policy" in args.props else None
    if isinstance(document, dict | str):
        _report(rules.policy_wildcard_findings(args.name, document), report, None)


STACK_CHECKS: dict[str, Callable[[StackValidationArgs, ReportViolation], None]] = {
    rules.BUCKET_NOT_PUBLIC: validate_buckets_not_public,
    rules.BUCKET_VERSIONED: validate_buckets_versioned,
    rules.CUSTOMER_MANAGED_KEY: validate_customer_managed_key,
    rules.NO_PLAIN_HTTP_ON_PUBLIC_ALB: validate_listeners,
}
"""Rules judged on the whole stack: they link resources to each other."""
RESOURCE_CHECKS: dict[str, Callable[[ResourceValidationArgs, ReportViolation], None]] = {
    rules.NO_IAM_WILDCARD_ACTIONS: validate_iam_policy,
}
"""Rules judged on one resource at a time."""

POLICIES: list[Policy] = [
    *(StackValidationPolicy(name=rule, description=rules.RULES[rule], validate=check,
                            enforcement_level=EnforcementLevel.MANDATORY)
      for rule, check in STACK_CHECKS.items()),
    *(ResourceValidationPolicy(name=rule, description=rules.RULES[rule], validate=check,
                               enforcement_level=EnforcementLevel.MANDATORY)
      for rule, check in RESOURCE_CHECKS.items()),
]
