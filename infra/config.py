"""Structured stack configuration, validated before any resource is declared.

Each ``Pulumi.<stack>.yaml`` carries one object under ``tenant-rollout:stack``.
A ``role: shared`` stack holds what all cohorts share; a ``role: cohort`` stack
holds one cohort's load balancer and its two colour slots.
"""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

PROJECT = "tenant-rollout"
CONFIG_KEY = "stack"
Colour = Literal["blue", "green"]
COLOURS: tuple[Colour, Colour] = ("blue", "green")
NAME_PATTERN = r"^[a-z][a-z0-9-]{0,30}$"
VERSION_PATTERN = r"^\d+\.\d+\.\d+([-+][0-9A-Za-z.-]+)?$"


def other_colour(colour: str) -> Colour:
    """The colour that is not ``colour``."""
    return "green" if colour == "blue" else "blue"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True, frozen=True)


class NewNetwork(_Strict):
    """A VPC created by the stack, with one private subnet per availability zone."""

    cidr: str = "10.20.0.0/16"
    availability_zones: list[str] = Field(default_factory=list, alias="availabilityZones")

    @field_validator("cidr")
    @classmethod
    def _cidr_is_16(cls, value: str) -> str:
        if not re.fullmatch(r"\d{1,3}\.\d{1,3}\.0\.0/16", value):
            raise ValueError("must be a /16 like 10.20.0.0/16")
        return value


class ExistingNetwork(_Strict):
    """An existing VPC and at least two subnets in different availability zones."""

    vpc_id: str = Field(alias="vpcId", pattern=r"^vpc-[0-9a-f]+$")
    subnet_ids: list[Annotated[str, Field(pattern=r"^subnet-[0-9a-f]+$")]] = Field(
        alias="subnetIds", min_length=2
    )


class Listener(_Strict):
    """How the load balancer listens. A public load balancer must terminate TLS."""

    public: bool = False
    certificate_arn: str | None = Field(default=None, alias="certificateArn")

    @model_validator(mode="after")
    def _public_needs_tls(self) -> Listener:
        if self.public and not self.certificate_arn:
            raise ValueError("a public listener needs certificateArn (plain HTTP is not allowed)")
        return self


class TenantRef(_Strict):
    """A tenant served by the cohort, and the host name its requests carry."""

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9-]{0,62}$")
    host: str | None = None


class SharedStackConfig(_Strict):
    """The stack every cohort references: artefact store, ledger table, notices topic."""

    role: Literal["shared"]
    app: str = Field(pattern=NAME_PATTERN)
    noncurrent_version_days: int = Field(default=365, alias="noncurrentVersionDays", ge=1)


class CohortStackConfig(_Strict):
    """One cohort: a load balancer splitting traffic between its blue and green slots."""

    role: Literal["cohort"]
    app: str = Field(pattern=NAME_PATTERN)
    cohort: str = Field(pattern=NAME_PATTERN)
    shared_stack: str = Field(alias="sharedStack", min_length=1)
    live_colour: Colour = Field(default="blue", alias="liveColour")
    versions: dict[Colour, Annotated[str, Field(pattern=VERSION_PATTERN)]]
    tenants: list[TenantRef] = Field(default_factory=list)
    network: NewNetwork | ExistingNetwork = Field(default_factory=NewNetwork)
    listener: Listener = Field(default_factory=Listener)

    @field_validator("versions")
    @classmethod
    def _both_colours(cls, value: dict[str, str]) -> dict[str, str]:
        missing = [colour for colour in COLOURS if colour not in value]
        if missing:
            raise ValueError(f"needs a version for {' and '.join(missing)}")
        return value

    @field_validator("tenants")
    @classmethod
    def _unique_tenants(cls, value: list[TenantRef]) -> list[TenantRef]:
        seen: set[str] = set()
        for tenant in value:
            if tenant.id in seen:
                raise ValueError(f"tenant {tenant.id!r} is listed twice")
            seen.add(tenant.id)
        return value

    @property
    def param_prefix(self) -> str:
        """Where tenant configuration lives: ``/<app>/<cohort>``; colours and tenants below."""
        return f"/{self.app}/{self.cohort}"


StackConfig = Annotated[SharedStackConfig | CohortStackConfig, Field(discriminator="role")]


class StackConfigFile(_Strict):
    """The wrapper the validator sees, so errors name ``tenant-rollout:stack.<field>``."""

    stack: StackConfig
