"""What every cohort shares: the artefact store, the rollout ledger, the notices topic and,
once its zip is published, the preferences page tenants choose on."""

from __future__ import annotations

import pulumi
import pulumi_aws as aws

from rollout.components.preferences_portal import PreferencesPortal, PreferencesPortalConfig
from rollout.model.stack import SharedStackConfig
from rollout.vocabulary import resource_names
from rollout.vocabulary.tags import SHARED, rollout_tags


class SharedStack(pulumi.ComponentResource):
    """The ``shared`` stack's resources; cohort stacks read its outputs by StackReference.

    The ledger is what a rollback reads to know where traffic was, so it is guarded
    twice: DynamoDB's deletion protection refuses ``DeleteTable`` from anyone, and
    Pulumi's ``protect`` refuses a ``pulumi destroy`` or a replacing change. Removing
    it takes two deliberate steps (unprotect, then disable deletion protection).
    """

    artefact_bucket: pulumi.Output[str]
    ledger_table: pulumi.Output[str]
    notices_topic_arn: pulumi.Output[str]
    portal: PreferencesPortal | None

    def __init__(self, name: str, config: SharedStackConfig, region: str,
                 opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("tenant-rollout:index:SharedStack", name, None, opts)
        tags = rollout_tags(config.app, SHARED)
        child = pulumi.ResourceOptions(parent=self)

        bucket = self._artefact_bucket(name, config, tags, child)
        table = aws.dynamodb.Table(
            f"{name}-ledger",
            name=resource_names.ledger_table(config.app),
            billing_mode="PAY_PER_REQUEST",
            hash_key="pk",
            range_key="sk",
            attributes=[{"name": "pk", "type": "S"}, {"name": "sk", "type": "S"}],
            point_in_time_recovery={"enabled": True},
            server_side_encryption={"enabled": True},
            deletion_protection_enabled=True,
            tags=tags,
            opts=pulumi.ResourceOptions(parent=self, protect=True),
        )
        topic = aws.sns.Topic(
            f"{name}-notices",
            name=resource_names.notices_topic(config.app),
            kms_master_key_id="alias/aws/sns",
            tags=tags,
            opts=child,
        )
        self.artefact_bucket = bucket.bucket
        self.ledger_table = table.name
        self.notices_topic_arn = topic.arn
        self.portal = None
        if config.portal is not None and config.portal.zip is not None:
            self.portal = PreferencesPortal(
                f"{name}-preferences-page", PreferencesPortalConfig(
                    app=config.app, region=region, settings=config.portal,
                    zip=config.portal.zip),
                artefact_bucket=bucket.bucket, ledger_table=table.name,
                ledger_table_arn=table.arn, tags=tags, opts=child)
        self.register_outputs(self.outputs())

    def outputs(self) -> dict[str, pulumi.Output[str]]:
        """The stack's outputs (``portalUrl`` once the page is published)."""
        outputs = {"artefactBucket": self.artefact_bucket, "ledgerTable": self.ledger_table,
                   "noticesTopicArn": self.notices_topic_arn}
        if self.portal is not None:
            outputs |= {"portalUrl": self.portal.url,
                        "portalFunction": self.portal.function_name}
        return outputs

    @staticmethod
    def _artefact_bucket(name: str, config: SharedStackConfig, tags: dict[str, str],
                         opts: pulumi.ResourceOptions) -> aws.s3.Bucket:
        """The release store: versioned, private, encrypted, old versions kept a while."""
        bucket = aws.s3.Bucket(f"{name}-artefacts", tags=tags, opts=opts)
        aws.s3.BucketVersioning(
            f"{name}-artefacts-versioning",
            bucket=bucket.id,
            versioning_configuration={"status": "Enabled"},
            opts=opts,
        )
        aws.s3.BucketPublicAccessBlock(
            f"{name}-artefacts-public-access",
            bucket=bucket.id,
            block_public_acls=True,
            block_public_policy=True,
            ignore_public_acls=True,
            restrict_public_buckets=True,
            opts=opts,
        )
        aws.s3.BucketServerSideEncryptionConfiguration(
            f"{name}-artefacts-encryption",
            bucket=bucket.id,
            rules=[{"apply_server_side_encryption_by_default": {"sse_algorithm": "aws:kms"},
                    "bucket_key_enabled": True}],
            opts=opts,
        )
        aws.s3.BucketLifecycleConfiguration(
            f"{name}-artefacts-lifecycle",
            bucket=bucket.id,
            rules=[{
                "id": "keep-noncurrent-versions",
                "status": "Enabled",
                "filter": {"prefix": "releases/"},
                "noncurrent_version_expiration": {
                    "noncurrent_days": config.noncurrent_version_days,
                },
            }],
            opts=opts,
        )
        return bucket
