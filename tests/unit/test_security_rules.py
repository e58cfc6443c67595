"""The shared security rules, on facts shaped like what S3, KMS, SSM, ELB and IAM return."""

from __future__ import annotations

import json

import pytest

from rollout.vocabulary import security_rules as rules
from rollout.vocabulary.security_rules import (
    BucketFacts,
    KeyFacts,
    ListenerFacts,
    ParameterFacts,
    PublicAccessBlock,
)

FULL_BLOCK = PublicAccessBlock(block_public_acls=True, ignore_public_acls=True,
                               block_public_policy=True, restrict_public_buckets=True)
KEY_ARN = "arn:aws:kms:eu-west-1:123456789012:key/1111-2222"


def public_read_policy(condition: dict[str, object] | None = None) -> str:
    statement: dict[str, object] = {"Sid": "PublicRead", "Effect": "Allow", "Principal": "*",
                                    "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/*"}
    if condition:
        statement["Condition"] = condition
    return json.dumps({"Version": "2012-10-17", "Statement": [statement]})


def rules_of(findings: list[rules.Finding]) -> set[str]:
    return {f.rule for f in findings}


class TestBucketNotPublic:
    def test_a_fully_blocked_bucket_without_policy_passes(self) -> None:
        assert rules.bucket_public_findings(
            BucketFacts(name="art", public_access_block=FULL_BLOCK)) == []

    def test_a_missing_public_access_block_is_named(self) -> None:
        [finding] = rules.bucket_public_findings(BucketFacts(name="art"))
        assert finding.rule == rules.BUCKET_NOT_PUBLIC
        assert finding.line() == ("artefact-bucket-not-public: bucket art: "
                                  "has no public access block")

    def test_each_switch_left_off_is_listed(self) -> None:
        block = FULL_BLOCK.model_copy(update={"block_public_policy": False,
                                              "restrict_public_buckets": False})
        [finding] = rules.bucket_public_findings(BucketFacts(name="art",
                                                             public_access_block=block))
        assert "BlockPublicPolicy, RestrictPublicBuckets off" in finding.problem

    def test_a_policy_open_to_everyone_is_a_finding_even_with_a_block(self) -> None:
        findings = rules.bucket_public_findings(BucketFacts(
            name="art", public_access_block=FULL_BLOCK, policy=public_read_policy()))
        assert [f.problem for f in findings] == [
            "bucket policy statement PublicRead allows s3:GetObject to everyone (Principal *)"]

    @pytest.mark.parametrize("principal", ["*", {"AWS": "*"}, {"AWS": ["arn:x", "*"]}])
    def test_every_spelling_of_everyone_counts(self, principal: object) -> None:
        policy = {"Statement": [{"Effect": "Allow", "Principal": principal,
                                 "Action": ["s3:GetObject"]}]}
        assert rules.bucket_public_findings(BucketFacts(
            name="art", public_access_block=FULL_BLOCK, policy=policy))

    def test_a_conditioned_or_named_principal_statement_is_not_public(self) -> None:
        narrowed = public_read_policy({"StringEquals": {"aws:SourceVpce": "vpce-1"}})
        named = {"Statement": [{"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::1:root"},
                                "Action": "s3:GetObject"}]}
        for policy in (narrowed, named):
            assert rules.bucket_public_findings(BucketFacts(
                name="art", public_access_block=FULL_BLOCK, policy=policy)) == []

    def test_public_acls_are_findings(self) -> None:
        canned = rules.bucket_public_findings(BucketFacts(
            name="art", public_access_block=FULL_BLOCK, canned_acl="public-read"))
        granted = rules.bucket_public_findings(BucketFacts(
            name="art", public_access_block=FULL_BLOCK,
            acl_grantees=["http://acs.amazonaws.com/groups/global/AllUsers"]))
        assert [f.problem for f in canned] == ["ACL public-read opens the bucket to everyone"]
        assert [f.problem for f in granted] == ["ACL grants access to AllUsers"]

    def test_an_unparseable_policy_is_reported_not_ignored(self) -> None:
        [finding] = rules.bucket_public_findings(BucketFacts(
            name="art", public_access_block=FULL_BLOCK, policy="{not json"))
        assert finding.problem == "bucket policy is not valid JSON"


class TestBucketVersioned:
    @pytest.mark.parametrize(("status", "expected"), [
        ("Enabled", None), ("Suspended", "versioning is suspended"),
        (None, "versioning is never enabled")])
    def test_only_enabled_versioning_passes(self, status: str | None,
                                            expected: str | None) -> None:
        findings = rules.bucket_versioning_findings(BucketFacts(name="art", versioning=status))
        if expected is None:
            assert findings == []
        else:
            assert findings[0].rule == rules.BUCKET_VERSIONED
            assert findings[0].problem.startswith(expected)


class TestCustomerManagedKey:
    def test_an_enabled_customer_key_passes(self) -> None:
        assert rules.key_findings("/acme/canary", KeyFacts(arn=KEY_ARN)) == []

    def test_no_key_aws_managed_and_disabled_keys_fail(self) -> None:
        [missing] = rules.key_findings("/acme/canary", None)
        assert missing.line() == ("ssm-customer-managed-key: namespace /acme/canary: "
                                  "has no customer-managed KMS key")
        problems = {f.problem for f in rules.key_findings(
            "/acme/canary", KeyFacts(arn=KEY_ARN, manager="AWS", state="Disabled"))}
        assert problems == {"is managed by AWS, not by the customer", "is Disabled, not Enabled"}

    def test_secure_strings_must_use_the_cohort_key_by_any_of_its_names(self) -> None:
        key = KeyFacts(arn=KEY_ARN, key_id="1111-2222", aliases=["alias/acme-canary-config"])
        for reference in (KEY_ARN, "1111-2222", "alias/acme-canary-config",
                          "arn:aws:kms:eu-west-1:123456789012:alias/acme-canary-config"):
            parameter = ParameterFacts(name="/acme/canary/blue/t/k", type="SecureString",
                                       key_id=reference)
            assert rules.parameter_key_findings(parameter, key) == [], reference
        other = ParameterFacts(name="/acme/canary/blue/t/k", type="SecureString",
                               key_id="alias/aws/ssm")
        [finding] = rules.parameter_key_findings(other, key)
        assert finding.problem == f"is encrypted with alias/aws/ssm, not the cohort key {KEY_ARN}"

    def test_plain_strings_need_no_key(self) -> None:
        parameter = ParameterFacts(name="/acme/canary/blue/t/plan", type="String")
        assert rules.parameter_key_findings(parameter, KeyFacts(arn=KEY_ARN)) == []

    def test_without_a_known_key_only_the_aws_managed_key_is_refused(self) -> None:
        aws_default = ParameterFacts(name="/p", type="SecureString", key_id=None)
        external = ParameterFacts(name="/p", type="SecureString", key_id=KEY_ARN)
        assert rules_of(rules.parameter_key_findings(aws_default, None)) == {
            rules.CUSTOMER_MANAGED_KEY}
        assert rules.parameter_key_findings(external, None) == []


class TestListeners:
    def facts(self, **changes: object) -> ListenerFacts:
        base = {"name": "l", "protocol": "HTTP", "port": 80, "internet_facing": True,
                "redirects_to_https": False}
        return ListenerFacts.model_validate({**base, **changes})

    def test_plain_http_on_a_public_balancer_fails(self) -> None:
        [finding] = rules.listener_findings(self.facts())
        assert finding.rule == rules.NO_PLAIN_HTTP_ON_PUBLIC_ALB
        assert "plain HTTP on port 80" in finding.problem

    @pytest.mark.parametrize("change", [
        {"redirects_to_https": True}, {"internet_facing": False}, {"protocol": "HTTPS"}])
    def test_redirects_internal_balancers_and_tls_pass(self, change: dict[str, object]) -> None:
        assert rules.listener_findings(self.facts(**change)) == []


class TestIamWildcards:
    def test_named_actions_pass(self) -> None:
        document = {"Statement": [{"Effect": "Allow", "Action": ["ssm:GetParameter"],
                                   "Resource": "*"}]}
        assert rules.policy_wildcard_findings("p", document) == []

    @pytest.mark.parametrize("action", ["*", "s3:*", "ssm:Get*", "kms:?ncrypt"])
    def test_any_wildcard_in_an_allowed_action_fails(self, action: str) -> None:
        document = json.dumps({"Statement": [{"Sid": "Broad", "Effect": "Allow",
                                              "Action": ["ssm:GetParameter", action]}]})
        [finding] = rules.policy_wildcard_findings("acme-canary-tenant-config", document)
        assert finding.line() == ("no-iam-wildcard-actions: policy acme-canary-tenant-config: "
                                  f"statement Broad allows wildcard action {action}")

    def test_wildcards_in_deny_statements_are_fine_but_not_action_is_not(self) -> None:
        deny = {"Statement": {"Effect": "Deny", "Action": "*", "Resource": "*"}}
        not_action = {"Statement": [{"Effect": "Allow", "NotAction": "iam:*", "Resource": "*"}]}
        assert rules.policy_wildcard_findings("p", deny) == []
        [finding] = rules.policy_wildcard_findings("p", not_action)
        assert "NotAction" in finding.problem

