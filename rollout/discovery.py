"""Find a cohort's resources from its stack's outputs, wherever those are kept.

Everything else in ``rollout`` works on a :class:`CohortResources`, so it does not
care whether the stack was deployed by ``pulumi up`` or by the local deployer.
Discovery asks the :class:`OutputsSource` objects it was given, in order, for a
stack's outputs: the command line chooses them (see :mod:`rollout.cli.context`):
Pulumi stack outputs (:mod:`rollout.stacks.pulumi_outputs`), or the local
deployer's record when the clients talk to a local endpoint (registered by the
local stand-ins). Whenever none of them has a stack, :class:`TaggedOutputs` finds
everything with one paginated Resource Groups Tagging API query by the
``rollout:*`` tags (it needs ``tag:GetResources``): that is always the last source.

Each stack lives in its own region, which need not be the environment's: a
cohort's region is the region of its listener's ARN, the shared stack's that of
its notices topic. The tagging API answers per region, so tags are looked up in
the region the stack config names (``aws:region`` of ``Pulumi.<stack>.yaml``,
passed in as ``stack_regions``), else in the clients' region.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from botocore.utils import ArnParser, InvalidArnException
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from rollout.aws_clients import AwsClients
from rollout.errors import BadInput
from rollout.model.stack import TenantRef
from rollout.vocabulary import resource_names
from rollout.vocabulary.colours import COLOURS, Colour
from rollout.vocabulary.tags import (
    SHARED,
    TAG_APP,
    TAG_COHORT,
    TAG_COLOUR,
    TAG_PROVISIONED,
    TAG_VERSION,
)

RegionNotice = Callable[[str, str | None], None]
"""Told ``(subject, region)`` of every stack discovery finds, e.g. ``("cohort canary",
"eu-west-1")``: the CLI says so when the environment names another region."""


def region_of_arn(arn: object) -> str | None:
    """The region field of ``arn``; None for anything else, or a global resource's ARN."""
    if not isinstance(arn, str):
        return None
    try:
        found = ArnParser().parse_arn(arn)["region"]
    except InvalidArnException:
        return None
    return str(found) if found else None


class SharedResources(BaseModel):
    """What all cohorts share.

    ``shared_region`` is where the ledger table, the artefact bucket and the
    notices topic live (from the topic's ARN unless given); None when unknown,
    meaning the environment's region.
    """

    model_config = ConfigDict(frozen=True)

    app: str
    artefact_bucket: str
    ledger_table: str
    notices_topic_arn: str
    shared_region: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _regions_from_arns(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        data = dict(data)
        if data.get("shared_region") is None:
            data["shared_region"] = region_of_arn(data.get("notices_topic_arn"))
        if "region" in cls.model_fields and data.get("region") is None:
            data["region"] = (region_of_arn(data.get("listener_arn"))
                              or region_of_arn(data.get("load_balancer_arn")))
        return data


class RunningCompute(BaseModel):
    """What a cohort's stack deployed into one colour (its ``compute`` output), by kind.

    Every field is optional: an ``external`` colour, or one with no version deployed
    yet, runs nothing of ours; a user's own compute may output other keys (ignored).
    """

    model_config = ConfigDict(populate_by_name=True, extra="ignore")

    function: str | None = None
    function_version: str | None = Field(default=None, alias="functionVersion")
    provisioned_concurrency: int = Field(default=0, alias="provisionedConcurrency")
    code_key: str | None = Field(default=None, alias="codeKey")
    code_object_version: str | None = Field(default=None, alias="codeObjectVersion")
    sha256: str | None = None
    cluster: str | None = None
    service: str | None = None
    image: str | None = None


class CohortResources(SharedResources):
    """One cohort's resources, as the rollout module needs them.

    ``region`` is where the cohort's own resources live: load balancer,
    listener, target groups, key and parameters (from the listener's ARN unless
    given). The shared ones it references live in ``shared_region``.
    """

    cohort: str
    listener_arn: str
    load_balancer_arn: str
    target_group_arns: dict[Colour, str]
    versions: dict[Colour, str]
    param_prefix: str
    kms_key_arn: str | None = None
    tenants: list[TenantRef] = Field(default_factory=list)
    region: str | None = None
    compute_kind: str = "external"
    compute: dict[Colour, RunningCompute] = Field(default_factory=dict)

    def colour_of(self, target_group_arn: str) -> Colour:
        """The colour whose target group is ``target_group_arn``."""
        for colour, arn in self.target_group_arns.items():
            if arn == target_group_arn:
                return colour
        raise BadInput(f"target group {target_group_arn} is not a colour of cohort {self.cohort}")

    def colour_prefix(self, colour: str) -> str:
        """Parameter path prefix of one colour: ``/<app>/<cohort>/<colour>``."""
        return resource_names.colour_parameters(self.param_prefix, colour)


def shared_from_outputs(outputs: dict[str, Any]) -> SharedResources:
    return SharedResources(
        app=outputs["app"], artefact_bucket=outputs["artefactBucket"],
        ledger_table=outputs["ledgerTable"], notices_topic_arn=outputs["noticesTopicArn"])


def shared_outputs(shared: SharedResources) -> dict[str, Any]:
    """The shared stack's outputs that ``shared`` was read from (the reverse of the above)."""
    return {"app": shared.app, "artefactBucket": shared.artefact_bucket,
            "ledgerTable": shared.ledger_table, "noticesTopicArn": shared.notices_topic_arn}


def cohort_from_outputs(outputs: dict[str, Any]) -> CohortResources:
    """Read a cohort stack's outputs (from any :class:`OutputsSource`).

    Outputs are checked as strictly as the stack config they came from (a stack
    deployed before a rule existed can carry what the config no longer accepts):
    :class:`BadInput` naming the stack and the field, since only a fixed config and
    a redeploy can mend them.
    """
    try:
        return CohortResources(
            app=outputs["app"], cohort=outputs["cohort"],
            artefact_bucket=outputs["artefactBucket"], ledger_table=outputs["ledgerTable"],
            notices_topic_arn=outputs["noticesTopicArn"], listener_arn=outputs["listenerArn"],
            load_balancer_arn=outputs["loadBalancerArn"],
            target_group_arns=outputs["targetGroupArns"], versions=outputs["versions"],
            param_prefix=outputs["paramPrefix"], kms_key_arn=outputs.get("kmsKeyArn"),
            tenants=outputs.get("tenants", []),
            compute_kind=outputs.get("computeKind", "external"),
            compute={colour: running for colour, running in (outputs.get("compute") or {}).items()
                     if running},
        )
    except ValidationError as exc:
        cohort = outputs.get("cohort", "?")
        first = exc.errors()[0]
        field = ".".join(str(part) for part in first["loc"]) or "(top level)"
        message = first["msg"].removeprefix("Value error, ")
        raise BadInput(f"stack {cohort}: its outputs do not hold a valid {field}: {message}; "
                       f"fix it in Pulumi.{cohort}.yaml and redeploy the stack "
                       f"(`rollout stacks up --cohort {cohort}`)") from None


@dataclass(frozen=True)
class TaggedResource:
    """One resource the tagging API returned: its ARN and its tags."""

    arn: str
    tags: dict[str, str]

    @property
    def kind(self) -> str:
        """``service:type`` from the ARN, e.g. ``elasticloadbalancing:targetgroup``."""
        parts = self.arn.split(":", 5)
        service, resource = parts[2], parts[5]
        if service in ("s3", "sns"):
            return f"{service}:{'bucket' if service == 's3' else 'topic'}"
        head = resource.split("/", 1)[0]
        return f"{service}:{head}"

    @property
    def name(self) -> str:
        """The last part of the ARN: bucket, table or topic name."""
        return self.arn.rsplit(":", 1)[-1].rsplit("/", 1)[-1]


def shared_from_tags(app: str, tagged: Iterable[TaggedResource]) -> SharedResources | None:
    """The shared stack's resources among ``tagged``, or None when any is missing."""
    found: dict[str, TaggedResource] = {}
    for resource in tagged:
        if resource.tags.get(TAG_COHORT) == SHARED:
            found.setdefault(resource.kind, resource)
    bucket, table, topic = (found.get(kind) for kind in
                            ("s3:bucket", "dynamodb:table", "sns:topic"))
    if bucket is None or table is None or topic is None:
        return None
    return SharedResources(app=app, artefact_bucket=bucket.name, ledger_table=table.name,
                           notices_topic_arn=topic.arn)


class OutputsSource(Protocol):
    """Where one app's stack outputs are kept (Pulumi state, tags, the local deployer's record)."""

    def stack_outputs(self, stack: str) -> dict[str, Any] | None:
        """``stack``'s outputs (the keys ``pulumi stack output --json`` prints), or None when
        this source knows nothing of the stack."""
        ...

    def cohorts(self) -> list[str]:
        """The cohort stacks this source knows are deployed."""
        ...


def shared_missing(app: str) -> BadInput:
    return BadInput(f"the shared stack of app {app!r} is not deployed (run `pulumi up` "
                    "on the shared stack, or `rollout local up --cohort shared` against moto)")


class TaggedOutputs:
    """Stack outputs rebuilt from the ``rollout:*`` tags of the app's resources.

    ``stack_regions`` maps stack names to the region their config names, where
    their tags are looked up. Tags carry no tenants: those live in the stack
    config and ``tenants.yaml``.
    """

    def __init__(self, clients: AwsClients, app: str,
                 stack_regions: Mapping[str, str] | None = None) -> None:
        self._clients = clients
        self._app = app
        self._stack_regions = dict(stack_regions or {})

    def stack_outputs(self, stack: str) -> dict[str, Any] | None:
        if stack == SHARED:
            shared = shared_from_tags(self._app, self._tagged(self._region_of(SHARED), SHARED))
            return None if shared is None else shared_outputs(shared)
        return self._cohort_outputs(stack)

    def cohorts(self) -> list[str]:
        """Cohorts tagged in the clients' region and in every region a stack config names."""
        regions = dict.fromkeys([self._clients.region, *self._stack_regions.values()])
        return sorted({r.tags[TAG_COHORT] for region in regions for r in self._tagged(region)
                       if r.kind == "elasticloadbalancing:targetgroup" and TAG_COHORT in r.tags})

    def _region_of(self, stack: str) -> str:
        return self._stack_regions.get(stack) or self._clients.region

    def _tagged(self, region: str, *cohorts: str) -> list[TaggedResource]:
        """This app's tagged resources in ``region`` (of ``cohorts`` only, when given)."""
        filters: list[dict[str, Any]] = [{"Key": TAG_APP, "Values": [self._app]}]
        if cohorts:
            filters.append({"Key": TAG_COHORT, "Values": list(cohorts)})
        tagging = self._clients.for_region(region).client("resourcegroupstaggingapi")
        pages = tagging.get_paginator("get_resources").paginate(TagFilters=filters)
        return [TaggedResource(item["ResourceARN"],
                               {tag["Key"]: tag["Value"] for tag in item.get("Tags", [])})
                for page in pages for item in page["ResourceTagMappingList"]]

    def _cohort_outputs(self, cohort: str) -> dict[str, Any] | None:
        region, shared_region = self._region_of(cohort), self._region_of(SHARED)
        if region == shared_region:
            tagged = self._tagged(region, cohort, SHARED)
        else:
            tagged = self._tagged(region, cohort) + self._tagged(shared_region, SHARED)
        mine = [r for r in tagged if r.tags.get(TAG_COHORT) == cohort]
        groups = {r.tags[TAG_COLOUR]: r for r in mine
                  if r.kind == "elasticloadbalancing:targetgroup"
                  and r.tags.get(TAG_COLOUR) in COLOURS}
        balancer = next((r.arn for r in mine if r.kind == "elasticloadbalancing:loadbalancer"),
                        None)
        if set(groups) != set(COLOURS) or balancer is None:
            return None
        shared = shared_from_tags(self._app, tagged)
        if shared is None:
            raise shared_missing(self._app)
        arns = {colour: groups[colour].arn for colour in COLOURS}
        return {**shared_outputs(shared), "cohort": cohort, **self._compute(region, mine, arns),
                "listenerArn": self._forwarding_listener(region, balancer, set(arns.values())),
                "loadBalancerArn": balancer, "targetGroupArns": arns,
                "versions": {colour: groups[colour].tags.get(TAG_VERSION, "")
                             for colour in COLOURS},
                "paramPrefix": resource_names.parameter_namespace(self._app, cohort),
                "kmsKeyArn": next((r.arn for r in mine if r.kind == "kms:key"), None)}

    def _compute(self, region: str, mine: list[TaggedResource],
                 groups: dict[Colour, str]) -> dict[str, Any]:
        """``computeKind`` and ``compute`` from the colours' tagged services or functions,
        so a cohort found by tags is sized like one found by its stack outputs."""
        by_colour = {colour: [r for r in mine if r.tags.get(TAG_COLOUR) == colour]
                     for colour in COLOURS}
        services = {colour: r.arn for colour, found in by_colour.items() for r in found
                    if r.kind == "ecs:service"}
        functions = {colour: r for colour, found in by_colour.items() for r in found
                     if r.arn.split(":")[2:3] == ["lambda"] and ":function:" in r.arn}
        if services:
            compute: dict[str, dict[str, Any]] = {}
            for colour, arn in services.items():
                prefix, _, path = arn.partition(":service/")
                cluster, _, service = path.rpartition("/")
                compute[colour] = {"cluster": f"{prefix}:cluster/{cluster}", "service": service}
            return {"computeKind": "ecs", "compute": compute}
        if not functions:
            return {}
        elbv2 = self._clients.for_region(region).client("elbv2")
        compute = {}
        for colour, function in functions.items():
            provisioned = int(function.tags.get(TAG_PROVISIONED, "0") or 0)
            entry: dict[str, Any] = {"function": function.name,
                                     "provisionedConcurrency": provisioned}
            if provisioned:
                registered = elbv2.describe_target_health(TargetGroupArn=groups[colour])
                qualified = [str(t["Target"]["Id"]) for t in
                             registered["TargetHealthDescriptions"]]
                entry["functionVersion"] = qualified[0].rsplit(":", 1)[-1] if qualified else None
            compute[colour] = entry
        return {"computeKind": "lambda", "compute": compute}

    def _forwarding_listener(self, region: str, balancer_arn: str, group_arns: set[str]) -> str:
        """The balancer's listener whose default action forwards to the cohort's colours."""
        elbv2 = self._clients.for_region(region_of_arn(balancer_arn) or region).client("elbv2")
        pages = elbv2.get_paginator("describe_listeners").paginate(LoadBalancerArn=balancer_arn)
        for page in pages:
            for listener in page["Listeners"]:
                for action in listener["DefaultActions"]:
                    targets = {group["TargetGroupArn"] for group in
                               action.get("ForwardConfig", {}).get("TargetGroups", [])}
                    targets.add(action.get("TargetGroupArn", ""))
                    if action["Type"] == "forward" and targets & group_arns:
                        return str(listener["ListenerArn"])
        raise BadInput(f"load balancer {balancer_arn} has no listener forwarding to the cohort's "
                       "target groups; redeploy the cohort's stack")


class Discovery:
    """Finds shared and cohort resources: from each of ``sources`` in turn, then from tags.

    ``stack_regions`` maps stack names to the region their config names, where
    their tags are looked up; ``on_region`` hears where each stack found lives.
    """

    def __init__(self, clients: AwsClients, app: str, *,
                 sources: Sequence[OutputsSource] = (),
                 stack_regions: Mapping[str, str] | None = None,
                 on_region: RegionNotice | None = None) -> None:
        self._app = app
        self._on_region = on_region
        self._sources: tuple[OutputsSource, ...] = (
            *sources, TaggedOutputs(clients, app, stack_regions))

    def cohorts(self) -> list[str]:
        """Cohorts with a deployed stack, from the first source that knows of any."""
        for source in self._sources:
            found = source.cohorts()
            if found:
                return found
        return []

    def cohort(self, cohort: str) -> CohortResources:
        outputs = self._outputs(cohort)
        if outputs is None:
            known = sorted({name for source in self._sources for name in source.cohorts()})
            raise BadInput(f"unknown cohort {cohort!r} for app {self._app!r} "
                           f"(deployed cohorts: {', '.join(known) or 'none'})")
        found = cohort_from_outputs(outputs)
        self._tell(f"cohort {cohort}", found.region)
        self._tell("the shared stack", found.shared_region)
        return found

    def shared(self) -> SharedResources:
        outputs = self._outputs(SHARED)
        if outputs is None:
            raise shared_missing(self._app)
        found = shared_from_outputs(outputs)
        self._tell("the shared stack", found.shared_region)
        return found

    def _outputs(self, stack: str) -> dict[str, Any] | None:
        for source in self._sources:
            outputs = source.stack_outputs(stack)
            if outputs:
                return outputs
        return None

    def _tell(self, subject: str, region: str | None) -> None:
        if self._on_region is not None:
            self._on_region(subject, region)
