"""The preferences page in production: a function behind its own public HTTPS URL.

The links in notices open it (``defaults.portal_url`` in ``tenants.yaml`` names the URL
this component outputs). The URL is public (``authorization_type`` NONE) because the
tenants who open it have no AWS identity: each request is authorised by the signed,
single-use token in its link, which the page checks (:mod:`rollout.choices.tokens`).

The function may do what the page does and nothing more: read and create the link key
(its one SSM parameter; the key is made by whichever of ``notify`` and the page needs
it first), read and write the ledger's notice partitions (links spent, choices made),
read the cohorts' rollout state (a choice after a cohort started is refused), and
write its own logs.
"""

from __future__ import annotations

import pulumi
import pulumi_aws as aws
from pydantic import BaseModel, ConfigDict

from rollout.components.service_role import service_role
from rollout.model.stack import PortalSettings, ZipArtefact
from rollout.vocabulary import resource_names
from rollout.vocabulary.ledger_keys import cohort_pk, notice_pk
from rollout.vocabulary.portal_function import (
    APP_ENV,
    HANDLER,
    LEDGER_TABLE_ENV,
    NOTES_DIR_ENV,
    NOTES_IN_ZIP,
    TENANTS_FILE_ENV,
    TENANTS_IN_ZIP,
)

RUNTIME = "python3.11"
PUBLIC = "NONE"
LEADING_KEYS = "dynamodb:LeadingKeys"


class PreferencesPortalConfig(BaseModel):
    """The app the page serves, where, how it runs and the zip it runs."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    app: str
    region: str
    settings: PortalSettings
    zip: ZipArtefact


def _statements(config: PreferencesPortalConfig, account_id: pulumi.Output[str],
                table_arn: pulumi.Output[str]) -> list[dict[str, object]]:
    function = resource_names.preferences_page(config.app)
    arn = pulumi.Output.concat
    group = arn("arn:aws:logs:", config.region, ":", account_id, ":log-group:/aws/lambda/",
                function)
    key = arn("arn:aws:ssm:", config.region, ":", account_id, ":parameter",
              resource_names.link_key_parameter(config.app))
    return [
        {"Sid": "OwnLogs", "Effect": "Allow",
         "Action": ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"],
         "Resource": [group, arn(group, ":*")]},
        {"Sid": "TheLinkKey", "Effect": "Allow",
         "Action": ["ssm:GetParameter", "ssm:PutParameter"], "Resource": [key]},
        {"Sid": "NoticesLinksAndChoices", "Effect": "Allow",
         "Action": ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:Query"],
         "Resource": [table_arn],
         "Condition": {"ForAllValues:StringLike": {LEADING_KEYS: [notice_pk("*")]}}},
        {"Sid": "ReadCohortStates", "Effect": "Allow",
         "Action": ["dynamodb:GetItem", "dynamodb:Query"], "Resource": [table_arn],
         "Condition": {"ForAllValues:StringLike": {LEADING_KEYS: [cohort_pk("*")]}}},
    ]


class PreferencesPortal(pulumi.ComponentResource):
    """The page's role, function (from its zip's exact object version), URL and grants."""

    url: pulumi.Output[str]
    function_name: pulumi.Output[str]

    def __init__(self, name: str, config: PreferencesPortalConfig, *,
                 artefact_bucket: pulumi.Input[str], ledger_table: pulumi.Input[str],
                 ledger_table_arn: pulumi.Output[str], tags: dict[str, str],
                 opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("tenant-rollout:index:PreferencesPortal", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        settings = config.settings
        account_id = aws.get_caller_identity_output(
            opts=pulumi.InvokeOutputOptions(parent=self)).account_id
        function_name = resource_names.preferences_page(config.app)
        role = service_role(name, function_name, "lambda.amazonaws.com",
                            _statements(config, account_id, ledger_table_arn), tags, child)
        function = aws.lambda_.Function(
            name,
            name=function_name,
            role=role.arn,
            handler=HANDLER,
            runtime=RUNTIME,
            memory_size=settings.memory,
            timeout=settings.timeout,
            architectures=[settings.architecture],
            s3_bucket=artefact_bucket,
            s3_key=config.zip.key,
            s3_object_version=config.zip.object_version,
            publish=True,
            environment={"variables": {
                APP_ENV: config.app, LEDGER_TABLE_ENV: ledger_table,
                TENANTS_FILE_ENV: TENANTS_IN_ZIP, NOTES_DIR_ENV: NOTES_IN_ZIP}},
            tags=tags,
            opts=child,
        )
        url = aws.lambda_.FunctionUrl(
            f"{name}-url", function_name=function.name, authorization_type=PUBLIC,
            opts=child)
        aws.lambda_.Permission(
            f"{name}-public-url", action="lambda:InvokeFunctionUrl", function=function.name,
            principal="*", function_url_auth_type=PUBLIC, opts=child)
        aws.lambda_.Permission(
            f"{name}-public-invoke", action="lambda:InvokeFunction", function=function.name,
            principal="*", invoked_via_function_url=True, opts=child)
        self.url = url.function_url
        self.function_name = function.name
        self.register_outputs({"url": self.url, "function": self.function_name})
