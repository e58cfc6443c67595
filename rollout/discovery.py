"""Find a cohort's resources from stack outputs, or from tags where no Pulumi state is at hand.

Everything else in ``rollout`` works on a :class:`CohortResources`, so it does not
care whether the stack was deployed by ``pulumi up`` or by the local engine.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from infra.config import COLOURS, Colour, TenantRef
from infra.tags import SHARED, TAG_APP, TAG_COHORT, TAG_COLOUR, TAG_VERSION
from rollout.aws_clients import AwsClients
from rollout.errors import BadInput
from rollout.local.state import LocalStateStore


class SharedResources(BaseModel):
    """What all cohorts share."""

    model_config = ConfigDict(frozen=True)

    app: str
    artefact_bucket: str
    ledger_table: str
    notices_topic_arn: str


class CohortResources(SharedResources):
    """One cohort's resources, as the rollout module needs them."""

    cohort: str
    listener_arn: str
    load_balancer_arn: str
    target_group_arns: dict[Colour, str]
    versions: dict[Colour, str]
    param_prefix: str
    kms_key_arn: str | None = None
    tenants: list[TenantRef] = Field(default_factory=list)

    def colour_of(self, target_group_arn: str) -> Colour:
        """The colour whose target group is ``target_group_arn``."""
        for colour, arn in self.target_group_arns.items():
            if arn == target_group_arn:
                return colour
        raise BadInput(f"target group {target_group_arn} is not a colour of cohort {self.cohort}")

    def colour_prefix(self, colour: str) -> str:
        """Parameter path prefix of one colour: ``/<app>/<cohort>/<colour>``."""
        return f"{self.param_prefix}/{colour}"


def shared_from_outputs(outputs: dict[str, Any]) -> SharedResources:
    return SharedResources(
        app=outputs["app"], artefact_bucket=outputs["artefactBucket"],
        ledger_table=outputs["ledgerTable"], notices_topic_arn=outputs["noticesTopicArn"])


def cohort_from_outputs(outputs: dict[str, Any]) -> CohortResources:
    """Read a cohort stack's outputs (``pulumi stack output --json`` or the local engine)."""
    return CohortResources(
        app=outputs["app"], cohort=outputs["cohort"],
        artefact_bucket=outputs["artefactBucket"], ledger_table=outputs["ledgerTable"],
        notices_topic_arn=outputs["noticesTopicArn"], listener_arn=outputs["listenerArn"],
        load_balancer_arn=outputs["loadBalancerArn"],
        target_group_arns=outputs["targetGroupArns"], versions=outputs["versions"],
        param_prefix=outputs["paramPrefix"], kms_key_arn=outputs.get("kmsKeyArn"),
        tenants=[TenantRef.model_validate(t) for t in outputs.get("tenants", [])],
    )


class Discovery:
    """Finds shared and cohort resources: local engine outputs first, then tags."""

    def __init__(self, clients: AwsClients, app: str) -> None:
        self._clients = clients
        self._app = app
        self._store = LocalStateStore(clients, app)

    def cohorts(self) -> list[str]:
        """Cohorts with a deployed stack, from local state or from target group tags."""
        local = [s for s in self._store.stacks() if s != SHARED]
        if local:
            return local
        return sorted({tags[TAG_COHORT] for _, tags in self._tagged_target_groups()})

    def cohort(self, cohort: str) -> CohortResources:
        state = self._store.load(cohort)
        if state is not None and state.outputs:
            return cohort_from_outputs(state.outputs)
        return self._cohort_from_tags(cohort)

    def shared(self) -> SharedResources:
        state = self._store.load(SHARED)
        if state is not None and state.outputs:
            return shared_from_outputs(state.outputs)
        return self._shared_from_tags()

    def _tagged_target_groups(self) -> list[tuple[str, dict[str, str]]]:
        elbv2 = self._clients.client("elbv2")
        arns = [tg["TargetGroupArn"] for page in elbv2.get_paginator(
            "describe_target_groups").paginate() for tg in page["TargetGroups"]]
        found: list[tuple[str, dict[str, str]]] = []
        for start in range(0, len(arns), 20):
            described = elbv2.describe_tags(ResourceArns=arns[start:start + 20])
            for item in described["TagDescriptions"]:
                tags = {t["Key"]: t["Value"] for t in item.get("Tags", [])}
                if tags.get(TAG_APP) == self._app:
                    found.append((item["ResourceArn"], tags))
        return found

    def _cohort_from_tags(self, cohort: str) -> CohortResources:
        elbv2 = self._clients.client("elbv2")
        groups = {tags[TAG_COLOUR]: (arn, tags[TAG_VERSION])
                  for arn, tags in self._tagged_target_groups()
                  if tags.get(TAG_COHORT) == cohort and tags.get(TAG_COLOUR) in COLOURS}
        if set(groups) != set(COLOURS):
            known = ", ".join(self.cohorts()) or "none"
            raise BadInput(f"unknown cohort {cohort!r} for app {self._app!r} "
                           f"(deployed cohorts: {known})")
        described = elbv2.describe_target_groups(TargetGroupArns=[groups["blue"][0]])
        balancer_arn = described["TargetGroups"][0]["LoadBalancerArns"][0]
        listener_arn = next(
            listener["ListenerArn"]
            for listener in elbv2.describe_listeners(LoadBalancerArn=balancer_arn)["Listeners"]
            if any(a["Type"] == "forward" for a in listener["DefaultActions"]))
        shared = self._shared_from_tags()
        alias = f"alias/{self._app}-{cohort}-config"
        try:
            key_arn = self._clients.client("kms").describe_key(KeyId=alias)["KeyMetadata"]["Arn"]
        except self._clients.client("kms").exceptions.NotFoundException:
            key_arn = None
        return CohortResources(
            **shared.model_dump(), cohort=cohort, listener_arn=listener_arn,
            load_balancer_arn=balancer_arn,
            target_group_arns={c: groups[c][0] for c in COLOURS},
            versions={c: groups[c][1] for c in COLOURS},
            param_prefix=f"/{self._app}/{cohort}", kms_key_arn=key_arn,
        )

    def _shared_from_tags(self) -> SharedResources:
        wanted = {TAG_APP: self._app, TAG_COHORT: SHARED}
        s3 = self._clients.client("s3")
        bucket = None
        for candidate in s3.list_buckets().get("Buckets", []):
            try:
                tag_set = s3.get_bucket_tagging(Bucket=candidate["Name"])["TagSet"]
            except s3.exceptions.ClientError:
                continue
            if wanted.items() <= {t["Key"]: t["Value"] for t in tag_set}.items():
                bucket = candidate["Name"]
                break
        dynamodb = self._clients.client("dynamodb")
        table = f"{self._app}-rollout-ledger"
        topics = self._clients.client("sns").list_topics().get("Topics", [])
        topic = next((t["TopicArn"] for t in topics
                      if t["TopicArn"].endswith(f":{self._app}-rollout-notices")), None)
        if bucket is None or topic is None or table not in dynamodb.list_tables()["TableNames"]:
            raise BadInput(f"the shared stack of app {self._app!r} is not deployed "
                           "(run `pulumi up` on the shared stack, or `rollout local up --cohort "
                           "shared` against moto)")
        return SharedResources(app=self._app, artefact_bucket=bucket, ledger_table=table,
                               notices_topic_arn=topic)
