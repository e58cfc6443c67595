"""Blue/green by DNS: two weighted record sets of one name, one per colour.

For services not behind the cohort's ALB (another region, another load
balancer, a CDN). Each colour's record carries the colour as its set identifier;
:meth:`Route53Router.set_weights` upserts both in one change batch, so the shift
(and a rollback) is one write that Route 53 applies atomically. DNS caching means
clients follow within the record's TTL, not instantly. DNS cannot tell tenants
apart, so this router cannot pin.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from rollout.aws_clients import AwsClients
from rollout.aws_errors import AwsErrors
from rollout.discovery import CohortResources
from rollout.errors import BadInput
from rollout.routers.base import (
    ROUTERS,
    CannotPin,
    IamStatement,
    ServiceRouter,
    Weights,
    checked_settings,
    partition_and_region,
    validate_weights,
)
from rollout.vocabulary.colours import COLOURS, Colour

MAX_ROUTE53_WEIGHT = 255


class Route53Settings(BaseModel):
    """Which record to weight, and what each colour's record points at."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    hosted_zone_id: str = Field(min_length=1)
    record_name: str = Field(min_length=1, max_length=255)
    record_type: Literal["CNAME", "A", "AAAA"] = "CNAME"
    targets: dict[Colour, list[str]]
    ttl: int = Field(default=60, ge=0, le=172_800)

    @field_validator("hosted_zone_id")
    @classmethod
    def _bare_zone_id(cls, value: str) -> str:
        return value.removeprefix("/hostedzone/")

    @field_validator("record_name")
    @classmethod
    def _fully_qualified(cls, value: str) -> str:
        return value.lower().rstrip(".") + "."

    @field_validator("targets", mode="before")
    @classmethod
    def _single_value_as_list(cls, value: Any) -> Any:
        if isinstance(value, dict):
            return {k: [v] if isinstance(v, str) else v for k, v in value.items()}
        return value

    @model_validator(mode="after")
    def _every_colour_has_targets(self) -> Route53Settings:
        for colour in COLOURS:
            values = self.targets.get(colour)
            if not values:
                raise ValueError(f"targets needs at least one value for {colour}")
            if self.record_type == "CNAME" and len(values) != 1:
                raise ValueError(f"a CNAME record has exactly one value; {colour} has "
                                 f"{len(values)}")
        return self


class Route53Router(CannotPin, ServiceRouter[Route53Settings]):
    """Weights of one name's two weighted record sets."""

    kind = "route53"
    service = "route53"

    def _refusals(self) -> AwsErrors:
        return AwsErrors.with_codes(
            "Route 53", f"the weighted records of cohort {self._cohort.cohort}",
            ("NoSuchHostedZone", "InvalidInput", "InvalidChangeBatch"),
            "check the route53 router's settings in tenants.yaml")

    def read_weights(self) -> Weights:
        found: dict[str, int] = {}
        with self._errors.mapped("reading the weighted records"):
            pages = self._client.get_paginator("list_resource_record_sets").paginate(
                HostedZoneId=self._settings.hosted_zone_id,
                StartRecordName=self._settings.record_name,
                StartRecordType=self._settings.record_type)
            for record in (r for page in pages for r in page["ResourceRecordSets"]):
                if (record["Name"].lower() != self._settings.record_name
                        or record["Type"] != self._settings.record_type):
                    break
                if record.get("SetIdentifier") in COLOURS and "Weight" in record:
                    found[record["SetIdentifier"]] = int(record["Weight"])
        if not found:
            raise BadInput(
                f"hosted zone {self._settings.hosted_zone_id} has no weighted "
                f"{self._settings.record_type} record {self._settings.record_name} with set "
                "identifier blue or green (set weights once to create them)")
        return {colour: found.get(colour, 0) for colour in COLOURS}

    def set_weights(self, weights: Weights) -> None:
        checked = validate_weights(weights)
        for colour, weight in checked.items():
            if weight > MAX_ROUTE53_WEIGHT:
                raise BadInput(f"weight of {colour} must be between 0 and {MAX_ROUTE53_WEIGHT} "
                               f"for Route 53, got {weight}")
        changes = [{"Action": "UPSERT", "ResourceRecordSet": {
            "Name": self._settings.record_name, "Type": self._settings.record_type,
            "SetIdentifier": colour, "Weight": checked[colour], "TTL": self._settings.ttl,
            "ResourceRecords": [{"Value": v} for v in self._settings.targets[colour]],
        }} for colour in COLOURS]
        with self._errors.mapped("setting weights"):
            self._client.change_resource_record_sets(
                HostedZoneId=self._settings.hosted_zone_id,
                ChangeBatch={"Comment": f"rollout: cohort {self._cohort.cohort} weights",
                             "Changes": changes})

    def iam_statements(self, account: str) -> list[IamStatement]:
        """The zone's records: read them all (listing has no finer grain), upsert only
        this name's weighted records of this type."""
        partition, _ = partition_and_region(self._cohort)
        zone = f"arn:{partition}:route53:::hostedzone/{self._settings.hosted_zone_id}"
        return [
            IamStatement(sid="ReadTheWeightedRecords", resources=[zone],
                         actions=["route53:ListResourceRecordSets"]),
            IamStatement(sid="ShiftTrafficOnTheWeightedRecords", resources=[zone],
                         actions=["route53:ChangeResourceRecordSets"], condition={
                             "ForAllValues:StringEquals": {
                                 "route53:ChangeResourceRecordSetsNormalizedRecordNames": [
                                     self._settings.record_name.rstrip(".")],
                                 "route53:ChangeResourceRecordSetsRecordTypes": [
                                     self._settings.record_type],
                                 "route53:ChangeResourceRecordSetsActions": ["UPSERT"]}}),
        ]


@ROUTERS.register("route53")
def route53_router(clients: AwsClients, cohort: CohortResources,
                   settings: Mapping[str, Any]) -> Route53Router:
    """The ``route53`` router; ``settings`` are checked against :class:`Route53Settings`."""
    return Route53Router(clients, cohort, checked_settings(Route53Settings, "route53", settings))
