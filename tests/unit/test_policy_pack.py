"""The CrossGuard policy pack, run on crafted resources the way the Pulumi engine hands them over.

Props go through pulumi_policy's own unknown-checking proxy, as in a real
analysis, so values that are unknown during a preview behave as they would
under ``pulumi preview --policy-pack infra/policy``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from pulumi_policy import Policy, PolicyResource
from pulumi_policy.proxy import UNKNOWN_STRING_VALUE, unknown_checking_proxy

from rollout.components.policies import PACK_NAME, POLICIES
from rollout.vocabulary import security_rules as rules
from tests import policy_pack_run

PACK_DIR = Path(__file__).resolve().parents[2] / "infra" / "policy"
KEY_ARN = "arn:aws:kms:eu-west-1:123456789012:key/k-1"
LB_ARN = "arn:aws:elasticloadbalancing:eu-west-1:123456789012:loadbalancer/app/acme-canary/1"
COHORT_TAGS = {"rollout:app": "acme", "rollout:cohort": "canary", "rollout:colour": "shared",
               "rollout:version": "none"}
SAFE_POLICY = json.dumps({"Version": "2012-10-17", "Statement": [
    {"Sid": "TenantParameters", "Effect": "Allow",
     "Action": ["ssm:GetParameter", "ssm:PutParameter"], "Resource": "arn:aws:ssm:::p/*"}]})


def policy(name: str) -> Policy:
    return next(p for p in POLICIES if p.name == name)


def resource(typ: str, name: str, props: dict[str, Any],
             depends: dict[str, list[PolicyResource]] | None = None) -> PolicyResource:
    return policy_pack_run.policy_resource(typ, name, unknown_checking_proxy(props),
                                           stack="canary", project="tenant-rollout",
                                           depends=depends)


def violations(rule: str, resources: list[PolicyResource]) -> list[str]:
    """What the pack's policy for ``rule`` reports, as the engine would collect it."""
    return policy_pack_run.violations([policy(rule)], resources, skip_unknown=True)


def shared_stack(*, versioning: str | None = "Enabled", block: bool | None = True,
                 bucket_policy: str | None = None) -> list[PolicyResource]:
    """The shared stack as the program declares it, each knob a way to get it wrong."""
    bucket = resource("aws:s3/bucket:Bucket", "shared-artefacts",
                      {"bucket": "acme-artefacts-1", "tags": {"rollout:cohort": "shared"}})
    found = [bucket]
    link = {"bucket": [bucket]}
    if versioning is not None:
        found.append(resource("aws:s3/bucketVersioning:BucketVersioning", "versioning",
                              {"bucket": UNKNOWN_STRING_VALUE,
                               "versioningConfiguration": {"status": versioning}}, link))
    if block is not None:
        found.append(resource(
            "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock", "public-access",
            {"bucket": UNKNOWN_STRING_VALUE, "blockPublicAcls": True, "ignorePublicAcls": True,
             "blockPublicPolicy": block, "restrictPublicBuckets": True}, link))
    if bucket_policy is not None:
        found.append(resource("aws:s3/bucketPolicy:BucketPolicy", "policy",
                              {"bucket": "acme-artefacts-1", "policy": bucket_policy}))
    return found


def cohort_stack(*, key_enabled: bool = True, with_key: bool = True, public: bool = False,
                 redirect: bool = False, config_policy: Any = SAFE_POLICY,
                 parameter_key: str | None = "cohort") -> list[PolicyResource]:
    balancer = resource("aws:lb/loadBalancer:LoadBalancer", "canary-alb",
                        {"internal": not public, "arn": LB_ARN, "tags": COHORT_TAGS})
    listener = resource("aws:lb/listener:Listener", "canary-listener",
                        {"loadBalancerArn": UNKNOWN_STRING_VALUE, "protocol": "HTTP", "port": 80,
                         "defaultActions": [{"type": "forward"}]},
                        {"loadBalancerArn": [balancer]})
    found = [balancer, listener]
    if redirect:
        found.append(resource("aws:lb/listener:Listener", "canary-http-redirect", {
            "loadBalancerArn": LB_ARN, "protocol": "HTTP", "port": 80,
            "defaultActions": [{"type": "redirect", "redirect": {"protocol": "HTTPS"}}]}))
    if with_key:
        key = resource("aws:kms/key:Key", "canary-config-key",
                       {"arn": KEY_ARN, "keyId": "k-1", "isEnabled": key_enabled,
                        "tags": COHORT_TAGS})
        found += [key, resource("aws:kms/alias:Alias", "canary-config-key-alias",
                                {"name": "alias/acme-canary-config", "targetKeyId": "k-1"})]
    if parameter_key is not None:
        key_id = KEY_ARN if parameter_key == "cohort" else parameter_key
        found.append(resource("aws:ssm/parameter:Parameter", "feature-flag", {
            "name": "/acme/canary/blue/aurora/flag", "type": "SecureString", "keyId": key_id}))
    found.append(resource("aws:iam/policy:Policy", "acme-canary-tenant-config",
                          {"name": "acme-canary-tenant-config", "policy": config_policy}))
    return found


def test_the_pack_has_one_mandatory_policy_per_shared_rule() -> None:
    assert sorted(p.name for p in POLICIES) == sorted(rules.RULES)
    assert {p.enforcement_level.value for p in POLICIES if p.enforcement_level} == {"mandatory"}
    assert all(p.description == rules.RULES[p.name] for p in POLICIES)


def test_the_pack_project_file_names_the_pack_and_runs_in_the_project_venv() -> None:
    project = yaml.safe_load((PACK_DIR / "PulumiPolicy.yaml").read_text())
    assert project["name"] == PACK_NAME
    assert project["runtime"]["name"] == "python"
    venv = PACK_DIR / project["runtime"]["options"]["virtualenv"]
    assert venv.resolve() == (PACK_DIR.parents[1] / ".venv").resolve()
    assert "PolicyPack(" in (PACK_DIR / "__main__.py").read_text()


def test_a_stack_built_like_the_program_passes_every_policy() -> None:
    stack = shared_stack() + cohort_stack()
    assert {rule: violations(rule, stack) for rule in rules.RULES} == {
        rule: [] for rule in rules.RULES}


class TestArtefactBucket:
    def test_a_bucket_without_versioning_is_refused(self) -> None:
        assert violations(rules.BUCKET_VERSIONED, shared_stack(versioning=None)) == [
            "artefact-bucket-versioned: bucket acme-artefacts-1: versioning is never enabled; "
            "old releases could not be restored"]

    def test_suspended_versioning_is_refused(self) -> None:
        [message] = violations(rules.BUCKET_VERSIONED, shared_stack(versioning="Suspended"))
        assert "versioning is suspended" in message

    def test_a_missing_or_partial_public_access_block_is_refused(self) -> None:
        assert violations(rules.BUCKET_NOT_PUBLIC, shared_stack(block=None)) == [
            "artefact-bucket-not-public: bucket acme-artefacts-1: has no public access block"]
        [partial] = violations(rules.BUCKET_NOT_PUBLIC, shared_stack(block=False))
        assert partial.endswith("public access block leaves BlockPublicPolicy off")

    def test_a_public_bucket_policy_linked_by_name_is_refused(self) -> None:
        public = json.dumps({"Statement": [{"Sid": "Open", "Effect": "Allow", "Principal": "*",
                                            "Action": "s3:GetObject"}]})
        [message] = violations(rules.BUCKET_NOT_PUBLIC, shared_stack(bucket_policy=public))
        assert "statement Open allows s3:GetObject to everyone" in message

    def test_a_public_canned_acl_on_the_bucket_is_refused(self) -> None:
        bucket = resource("aws:s3/bucket:Bucket", "b", {"bucket": "b", "acl": "public-read"})
        assert any("ACL public-read" in v for v in violations(rules.BUCKET_NOT_PUBLIC, [bucket]))


class TestCustomerManagedKey:
    def test_a_cohort_stack_without_a_key_is_refused(self) -> None:
        assert violations(rules.CUSTOMER_MANAGED_KEY,
                          cohort_stack(with_key=False, parameter_key=None)) == [
            "ssm-customer-managed-key: namespace /acme/canary: has no customer-managed KMS key"]

    def test_the_shared_stack_needs_no_key(self) -> None:
        assert violations(rules.CUSTOMER_MANAGED_KEY, shared_stack()) == []

    def test_a_disabled_key_is_refused(self) -> None:
        [message] = violations(rules.CUSTOMER_MANAGED_KEY, cohort_stack(key_enabled=False))
        assert message == f"ssm-customer-managed-key: key {KEY_ARN}: is Disabled, not Enabled"

    def test_secure_strings_must_use_the_stack_key_not_aws_s_own(self) -> None:
        by_alias = cohort_stack(parameter_key="alias/acme-canary-config")
        assert violations(rules.CUSTOMER_MANAGED_KEY, by_alias) == []
        [message] = violations(rules.CUSTOMER_MANAGED_KEY,
                               cohort_stack(parameter_key="alias/aws/ssm"))
        assert message == ("ssm-customer-managed-key: parameter /acme/canary/blue/aurora/flag: "
                           "is encrypted with the AWS-managed key alias/aws/ssm")

    def test_a_key_id_unknown_during_preview_is_not_judged(self) -> None:
        assert violations(rules.CUSTOMER_MANAGED_KEY,
                          cohort_stack(parameter_key=UNKNOWN_STRING_VALUE)) == []


class TestListeners:
    def test_plain_http_on_an_internal_balancer_is_allowed(self) -> None:
        assert violations(rules.NO_PLAIN_HTTP_ON_PUBLIC_ALB, cohort_stack()) == []

    def test_plain_http_forwarding_on_a_public_balancer_is_refused(self) -> None:
        assert violations(rules.NO_PLAIN_HTTP_ON_PUBLIC_ALB, cohort_stack(public=True)) == [
            "no-plain-http-on-public-alb: listener canary-listener: serves plain HTTP on port 80 "
            "on an internet-facing load balancer without redirecting to HTTPS"]

    def test_a_redirect_listener_linked_by_arn_is_allowed(self) -> None:
        found = violations(rules.NO_PLAIN_HTTP_ON_PUBLIC_ALB,
                           cohort_stack(public=True, redirect=True))
        assert len(found) == 1 and "canary-listener" in found[0]


class TestIamWildcards:
    @pytest.mark.parametrize("document", [
        {"Statement": [{"Effect": "Allow", "Action": "ssm:*", "Resource": "*"}]},
        json.dumps({"Statement": [{"Effect": "Allow", "Action": ["kms:Decrypt", "kms:*"],
                                   "Resource": "*"}]}),
    ])
    def test_a_wildcard_action_is_refused_whether_json_text_or_object(self, document: Any,
                                                                       ) -> None:
        [message] = violations(rules.NO_IAM_WILDCARD_ACTIONS, cohort_stack(config_policy=document))
        assert message.startswith("no-iam-wildcard-actions: policy acme-canary-tenant-config: "
                                  "statement #1 allows wildcard action")

    def test_a_policy_unknown_during_preview_is_skipped_not_failed(self) -> None:
        stack = cohort_stack(config_policy=UNKNOWN_STRING_VALUE)
        assert violations(rules.NO_IAM_WILDCARD_ACTIONS, stack) == []
