"""Structured stack configuration, validated before any resource is declared.

Each ``Pulumi.<stack>.yaml`` carries one object under ``tenant-rollout:stack``.
A ``role: shared`` stack holds what all cohorts share; a ``role: cohort`` stack
holds one cohort's load balancer and its two colour slots.

:func:`parse_stack` is the one way in: ``pulumi up`` (through
``rollout.components.program.read_config``) and the local engine both use it, so a bad file
fails the same way in both, naming the field below ``tenant-rollout:stack``.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_core import InitErrorDetails, PydanticCustomError

from rollout.vocabulary import resource_names
from rollout.vocabulary.colours import COLOURS, Colour
from rollout.vocabulary.hosts import Host, shared_host
from rollout.vocabulary.names import NAME_PATTERN, SHARED_COHORT
from rollout.vocabulary.versions import Version


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

    @field_validator("availability_zones")
    @classmethod
    def _two_zones_or_default(cls, value: list[str]) -> list[str]:
        if len(value) == 1:
            raise ValueError("a load balancer needs at least two availability zones "
                             "(or leave availabilityZones out for <region>a and <region>b)")
        return value


class ExistingNetwork(_Strict):
    """An existing VPC and at least two subnets in different availability zones."""

    vpc_id: str = Field(alias="vpcId", pattern=r"^vpc-[0-9a-f]+$")
    subnet_ids: list[Annotated[str, Field(pattern=r"^subnet-[0-9a-f]+$")]] = Field(
        alias="subnetIds", min_length=2
    )


NEW_NETWORK, EXISTING_NETWORK = "new-network", "existing-network"


def _network_kind(value: Any) -> str:
    """An existing network is one that names its VPC or subnets; anything else is new."""
    if isinstance(value, dict):
        existing = {"vpcId", "subnetIds", "vpc_id", "subnet_ids"} & value.keys()
        return EXISTING_NETWORK if existing else NEW_NETWORK
    return EXISTING_NETWORK if isinstance(value, ExistingNetwork) else NEW_NETWORK


Network = Annotated[
    Annotated[NewNetwork, Tag(NEW_NETWORK)] | Annotated[ExistingNetwork, Tag(EXISTING_NETWORK)],
    Discriminator(_network_kind),
]
"""Either network shape, picked by its keys, so errors speak of one shape only."""


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
    host: Host | None = None


class StackRole(BaseModel):
    """Only the ``role`` of a stack config: it decides which model checks the rest."""

    model_config = ConfigDict(extra="ignore")

    role: Literal["shared", "cohort"]


IMAGE_DIGEST_PATTERN = r"^[a-z0-9][a-z0-9._/-]*(?::[0-9]+)?(?:/[a-z0-9._-]+)*@sha256:[0-9a-f]{64}$"
"""An image pinned by digest (``repo@sha256:<64 hex>``): a tag could move under a colour."""


class ZipArtefact(_Strict):
    """A release's zip as a colour deploys it: the exact S3 object version, and its sha256."""

    key: str = Field(min_length=1)
    object_version: str = Field(alias="objectVersion", min_length=1)
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")


class ColourArtefact(_Strict):
    """What one colour runs, resolved from the release manifest by ``rollout stacks up``.

    Written into the stack's config by the deployer, never by hand: the program deploys
    exactly this object version or image digest, so no later upload changes a colour.
    """

    version: Version
    zip: ZipArtefact | None = None
    image: str | None = Field(default=None, pattern=IMAGE_DIGEST_PATTERN)


class PortalSettings(_Strict):
    """The preferences page's function: the zip ``rollout stacks portal`` built and stored,
    and how it runs.

    ``zip`` is written into the stack's config by that command, never by hand, like a
    colour's artefact: the function runs exactly that object version. Without it there
    is no function yet (nothing was published).
    """

    zip: ZipArtefact | None = None
    memory: int = Field(default=512, ge=128, le=10240)
    timeout: int = Field(default=15, ge=1, le=900)
    architecture: Literal["x86_64", "arm64"] = "x86_64"


class SharedStackConfig(_Strict):
    """The stack every cohort references: artefact store, ledger table, notices topic,
    and once published, the preferences page (``portal``)."""

    role: Literal["shared"]
    app: str = Field(pattern=NAME_PATTERN)
    noncurrent_version_days: int = Field(default=365, alias="noncurrentVersionDays", ge=1)
    portal: PortalSettings | None = None


class ExternalCompute(_Strict):
    """Your own compute registers targets in each colour's target group (port 8080, /health)."""

    kind: Literal["external"] = "external"


class LambdaCompute(_Strict):
    """One function per colour from the release zip, behind a target group of type lambda."""

    kind: Literal["lambda"]
    handler: str = "app.handler"
    runtime: str = "python3.11"
    memory: int = Field(default=256, ge=128, le=10240)
    timeout: int = Field(default=10, ge=1, le=900)
    architecture: Literal["x86_64", "arm64"] = "arm64"
    environment: dict[str, str] = Field(default_factory=dict)
    provisioned_concurrency: int = Field(default=0, alias="provisionedConcurrency", ge=0)


class EcsCompute(_Strict):
    """One Fargate service per colour from the release image, in the colour's IP target group."""

    kind: Literal["ecs"]
    cpu: int = Field(default=256, ge=256)
    memory: int = Field(default=512, ge=512)
    desired_count: int = Field(default=2, alias="desiredCount", ge=0)
    container_port: int = Field(default=8080, alias="containerPort", ge=1, le=65535)
    environment: dict[str, str] = Field(default_factory=dict)


Compute = Annotated[ExternalCompute | LambdaCompute | EcsCompute, Field(discriminator="kind")]


class CohortStackConfig(_Strict):
    """One cohort: a load balancer splitting traffic between its blue and green slots."""

    role: Literal["cohort"]
    app: str = Field(pattern=NAME_PATTERN)
    cohort: str = Field(pattern=NAME_PATTERN)
    shared_stack: str = Field(alias="sharedStack", min_length=1)
    live_colour: Colour = Field(default="blue", alias="liveColour")
    versions: dict[Colour, Version]
    tenants: list[TenantRef] = Field(default_factory=list)
    network: Network = Field(default_factory=NewNetwork)
    listener: Listener = Field(default_factory=Listener)
    compute: Compute = Field(default_factory=ExternalCompute)
    artefacts: dict[Colour, ColourArtefact] = Field(default_factory=dict)

    @field_validator("cohort")
    @classmethod
    def _not_shared(cls, value: str) -> str:
        if value == SHARED_COHORT:
            raise ValueError(f"{SHARED_COHORT!r} names the shared stack; pick another cohort name")
        return value

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

    @model_validator(mode="after")
    def _artefacts_match_versions(self) -> CohortStackConfig:
        for colour, artefact in self.artefacts.items():
            if artefact.version != self.versions[colour]:
                raise ValueError(f"artefacts.{colour} is of {artefact.version}, but "
                                 f"versions.{colour} is {self.versions[colour]}")
        return self

    @model_validator(mode="after")
    def _names_fit_aws(self) -> CohortStackConfig:
        problem = resource_names.too_long_for_aws(self.app, self.cohort)
        if problem is not None:
            raise ValueError(problem)
        return self

    @property
    def param_prefix(self) -> str:
        """Where tenant configuration lives: ``/<app>/<cohort>``; colours and tenants below."""
        return resource_names.parameter_namespace(self.app, self.cohort)

    @property
    def load_balancer_name(self) -> str:
        return resource_names.load_balancer(self.app, self.cohort)

    def target_group_name(self, colour: Colour) -> str:
        return resource_names.target_group(self.app, self.cohort, colour)


StackConfig = Annotated[SharedStackConfig | CohortStackConfig, Field(discriminator="role")]

ROLE_MODELS: dict[str, type[SharedStackConfig] | type[CohortStackConfig]] = {
    "shared": SharedStackConfig,
    "cohort": CohortStackConfig,
}


class StackConfigFile(_Strict):
    """A validated stack config, as the program and the local engine pass it around."""

    stack: StackConfig


def parse_stack(raw: object) -> StackConfigFile:
    """Validate the object under ``tenant-rollout:stack``.

    The role is checked first and the rest against that role's model, so the
    locations in a :class:`ValidationError` are plain paths below
    ``tenant-rollout:stack`` (``versions.green``), never a union branch.
    """
    try:
        role = StackRole.model_validate(raw).role
        stack = ROLE_MODELS[role].model_validate(raw)
    except ValidationError as exc:
        raise _without_union_tags(exc) from None
    if isinstance(stack, CohortStackConfig):
        _refuse_shared_hosts(stack)
    return StackConfigFile(stack=stack)


def _refuse_shared_hosts(stack: CohortStackConfig) -> None:
    """A host two tenants share, as a validation error at the second one's ``host``.

    A field validator could only point at ``tenants`` as a whole; the error is
    built here so the message names the line of the tenant that repeats the host.
    """
    shared = shared_host([tenant.host for tenant in stack.tenants])
    if shared is None:
        return
    first, second = (stack.tenants[index] for index in shared)
    error = PydanticCustomError(
        "shared_host", "host {host} is already the host of tenant {owner}; each tenant needs "
        "a host of its own", {"host": second.host, "owner": first.id})
    details: list[InitErrorDetails] = [
        {"type": error, "loc": ("tenants", shared[1], "host"), "input": second.host}]
    raise ValidationError.from_exception_data(CohortStackConfig.__name__, details)


def _without_union_tags(exc: ValidationError) -> ValidationError:
    """The same errors, minus the network-shape tags pydantic puts in their locations."""
    tags = {NEW_NETWORK, EXISTING_NETWORK}
    errors = exc.errors()
    for error in errors:
        error["loc"] = tuple(part for part in error["loc"] if part not in tags)
    return ValidationError.from_exception_data(exc.title, errors)  # type: ignore[arg-type]


