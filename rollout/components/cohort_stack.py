"""A cohort's versioned blue/green stack: one load balancer, two weighted colour slots."""

from __future__ import annotations

import json

import pulumi
import pulumi_aws as aws

from rollout.components.colour_slot import ColourSlot, ColourSlotConfig
from rollout.components.compute import CohortPlatform, ComputeFactory, compute_for
from rollout.model.stack import CohortStackConfig, ExistingNetwork, NewNetwork
from rollout.vocabulary import resource_names
from rollout.vocabulary.colours import COLOURS, Colour, other_colour
from rollout.vocabulary.tags import rollout_tags
from rollout.vocabulary.workflow_boundary import workflow_boundary_policy

HTTP_PORT = 80
HTTPS_PORT = 443
TLS_POLICY = "ELBSecurityPolicy-TLS13-1-2-2021-06"
MANAGED_POLICY_MAX_CHARS = 6144
"""IAM's limit on a managed policy document, whitespace not counted."""


class CohortStack(pulumi.ComponentResource):
    """The load balancer, its listener and the cohort's two colour slots.

    The listener starts with 100% on the live colour. After that the rollout
    module owns the weights: the listener ignores changes to ``defaultActions``,
    so a later ``pulumi up`` never snaps traffic back.

    Each colour runs what the cohort's ``compute`` kind declares for it (see
    :mod:`rollout.components.compute`); ``compute_factory`` replaces that kind with
    your own (a callable building your ECS service, say), for every colour.
    """

    outputs: dict[str, pulumi.Input[object]]

    def __init__(self, name: str, config: CohortStackConfig, region: str,
                 shared: pulumi.StackReference, opts: pulumi.ResourceOptions | None = None,
                 compute_factory: ComputeFactory | None = None) -> None:
        super().__init__("tenant-rollout:index:CohortStack", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        tags = rollout_tags(config.app, config.cohort)
        account_id = aws.get_caller_identity_output(
            opts=pulumi.InvokeOutputOptions(parent=self)).account_id

        vpc_id, subnet_ids = self._network(name, config, region, tags, child)
        balancer = self._load_balancer(name, config, vpc_id, subnet_ids, tags, child)
        key, config_policy = self._config_access(name, config, region, account_id, tags, child)
        platform = CohortPlatform(
            app=config.app, cohort=config.cohort, region=region, account_id=account_id,
            vpc_id=vpc_id, subnet_ids=subnet_ids,
            artefact_bucket=shared.get_output("artefactBucket"), key_arn=key.arn,
            tenant_hosts={t.host: t.id for t in config.tenants if t.host})
        compute = (compute_factory or compute_for)(config.compute, platform, name, child)
        slots = {
            colour: ColourSlot(
                f"{name}-{colour}",
                ColourSlotConfig(app=config.app, cohort=config.cohort, colour=colour,
                                 version=config.versions[colour],
                                 artefact=config.artefacts.get(colour),
                                 target_type=compute.target_type),
                vpc_id, opts=child)
            for colour in COLOURS
        }
        listener = self._listeners(name, config, balancer, slots, tags)
        self._workflow_boundary(name, config, listener, shared, account_id, tags, child)
        running = {colour: slot.run(compute, platform, serving=[listener])
                   for colour, slot in slots.items()}

        self.outputs = {
            "app": config.app,
            "cohort": config.cohort,
            "liveColour": config.live_colour,
            "loadBalancerArn": balancer.arn,
            "loadBalancerDns": balancer.dns_name,
            "listenerArn": listener.arn,
            "targetGroupArns": {c: slot.target_group_arn for c, slot in slots.items()},
            "versions": dict(config.versions),
            "paramPrefix": config.param_prefix,
            "kmsKeyArn": key.arn,
            "configPolicyArn": config_policy.arn,
            "tenants": [tenant.model_dump(exclude_none=True) for tenant in config.tenants],
            "artefactBucket": shared.get_output("artefactBucket"),
            "ledgerTable": shared.get_output("ledgerTable"),
            "noticesTopicArn": shared.get_output("noticesTopicArn"),
            "computeKind": config.compute.kind,
            "compute": running,
        }
        self.register_outputs(self.outputs)

    @staticmethod
    def _load_balancer(name: str, config: CohortStackConfig, vpc_id: pulumi.Input[str],
                       subnet_ids: list[pulumi.Input[str]], tags: dict[str, str],
                       opts: pulumi.ResourceOptions) -> aws.lb.LoadBalancer:
        """The balancer and its security group: HTTPS and the redirect when public."""
        public = config.listener.public
        security_group = aws.ec2.SecurityGroup(
            f"{name}-alb",
            description=f"{config.app} {config.cohort} load balancer",
            vpc_id=vpc_id,
            ingress=[{
                "protocol": "tcp",
                "from_port": port,
                "to_port": port,
                "cidr_blocks": ["0.0.0.0/0"] if public else ["10.0.0.0/8"],
            } for port in ([HTTPS_PORT, HTTP_PORT] if public else [HTTP_PORT])],
            egress=[{"protocol": "-1", "from_port": 0, "to_port": 0,
                     "cidr_blocks": ["10.0.0.0/8"]}],
            tags=tags,
            opts=opts,
        )
        return aws.lb.LoadBalancer(
            f"{name}-alb",
            name=config.load_balancer_name,
            internal=not public,
            load_balancer_type="application",
            security_groups=[security_group.id],
            subnets=subnet_ids,
            drop_invalid_header_fields=True,
            tags=tags,
            opts=opts,
        )

    def _listeners(self, name: str, config: CohortStackConfig, balancer: aws.lb.LoadBalancer,
                   slots: dict[Colour, ColourSlot], tags: dict[str, str]) -> aws.lb.Listener:
        """The forwarding listener (all on the live colour), plus the HTTP redirect if public."""
        public = config.listener.public
        idle = other_colour(config.live_colour)
        listener = aws.lb.Listener(
            f"{name}-listener",
            load_balancer_arn=balancer.arn,
            port=HTTPS_PORT if public else HTTP_PORT,
            protocol="HTTPS" if public else "HTTP",
            certificate_arn=config.listener.certificate_arn,
            ssl_policy=TLS_POLICY if public else None,
            default_actions=[{
                "type": "forward",
                "forward": {"target_groups": [
                    {"arn": slots[config.live_colour].target_group_arn, "weight": 100},
                    {"arn": slots[idle].target_group_arn, "weight": 0},
                ]},
            }],
            tags=tags,
            opts=pulumi.ResourceOptions(parent=self, ignore_changes=["defaultActions"]),
        )
        if public:
            aws.lb.Listener(
                f"{name}-http-redirect",
                load_balancer_arn=balancer.arn,
                port=HTTP_PORT,
                protocol="HTTP",
                default_actions=[{"type": "redirect", "redirect": {
                    "protocol": "HTTPS", "port": str(HTTPS_PORT), "status_code": "HTTP_301"}}],
                tags=tags,
                opts=pulumi.ResourceOptions(parent=self),
            )
        return listener

    @staticmethod
    def _config_access(name: str, config: CohortStackConfig, region: str,
                       account_id: pulumi.Output[str], tags: dict[str, str],
                       opts: pulumi.ResourceOptions) -> tuple[aws.kms.Key, aws.iam.Policy]:
        """The tenant configuration's key (and its alias) and the policy that may use it."""
        key = aws.kms.Key(
            f"{name}-config-key",
            description=f"Tenant configuration of {config.app}/{config.cohort}",
            enable_key_rotation=True,
            deletion_window_in_days=30,
            tags=tags,
            opts=opts,
        )
        aws.kms.Alias(
            f"{name}-config-key-alias",
            name=resource_names.config_key_alias(config.app, config.cohort),
            target_key_id=key.key_id,
            opts=opts,
        )
        namespace_arn = account_id.apply(
            lambda account: f"arn:aws:ssm:{region}:{account}:parameter{config.param_prefix}"
        )
        tenants = [tenant.id for tenant in config.tenants]
        policy = aws.iam.Policy(
            f"{name}-config-access",
            name=resource_names.config_policy(config.app, config.cohort),
            description="Read the cohort's tenant configuration; write only its tenants' own",
            policy=pulumi.Output.all(namespace_arn, key.arn).apply(
                lambda args: json.dumps(config_access_policy(args[0], tenants, args[1], region))
            ),
            tags=tags,
            opts=opts,
        )
        return key, policy

    @staticmethod
    def _workflow_boundary(name: str, config: CohortStackConfig, listener: aws.lb.Listener,
                           shared: pulumi.StackReference, account_id: pulumi.Output[str],
                           tags: dict[str, str], opts: pulumi.ResourceOptions) -> aws.iam.Policy:
        """The permissions boundary the cohort role must put on the workflow role it creates
        (``start --engine stepfunctions``): the compiler's vocabulary on this cohort's own
        resources, so that role can never be more (:mod:`rollout.vocabulary.workflow_boundary`)."""
        document = pulumi.Output.all(
            listener.arn, shared.get_output("ledgerTable"),
            shared.get_output("noticesTopicArn"), account_id,
        ).apply(lambda args: json.dumps(workflow_boundary_policy(
            config.cohort, str(args[0]), str(args[1]), str(args[2]), str(args[3]))))
        return aws.iam.Policy(
            f"{name}-workflow-boundary",
            name=resource_names.workflow_boundary(config.app, config.cohort),
            description="Permissions boundary of the cohort's rollout workflow role",
            policy=document,
            tags=tags,
            opts=opts,
        )

    @staticmethod
    def _network(name: str, config: CohortStackConfig, region: str, tags: dict[str, str],
                 opts: pulumi.ResourceOptions) -> tuple[pulumi.Input[str], list[pulumi.Input[str]]]:
        if isinstance(config.network, ExistingNetwork):
            return config.network.vpc_id, list(config.network.subnet_ids)
        network: NewNetwork = config.network
        zones = network.availability_zones or [f"{region}a", f"{region}b"]
        vpc = aws.ec2.Vpc(f"{name}-vpc", cidr_block=network.cidr, enable_dns_hostnames=True,
                          tags=tags, opts=opts)
        first_octets = network.cidr.split(".")[:2]
        subnets: list[pulumi.Input[str]] = [
            aws.ec2.Subnet(
                f"{name}-subnet-{index}",
                vpc_id=vpc.id,
                availability_zone=zone,
                cidr_block=".".join([*first_octets, str(index * 16), "0"]) + "/20",
                tags=tags,
                opts=opts,
            ).id
            for index, zone in enumerate(zones)
        ]
        return vpc.id, subnets


def config_access_policy(namespace_arn: str, tenants: list[str], key_arn: str,
                         region: str) -> dict[str, object]:
    """Least privilege on the cohort's parameter namespace and its key, no wildcard actions.

    ``namespace_arn`` is the ARN of ``/<app>/<cohort>``. Reads cover the whole
    namespace (both colours: each colour's service reads its own). Writes cover
    only ``<colour>/<tenant>/*`` of the cohort's own tenants: a tenant's setting
    is changed on whichever colour serves it (the old one while it is pinned, the
    new one after the shift, from where a rollback carries it back), so both
    colours, but never another tenant's path, a path outside the colours, or
    another cohort's. IAM caps a managed policy at 6,144 characters, some 30
    tenants' paths: a bigger cohort's writes are scoped to its two colours
    instead, which still excludes every other cohort. With no tenants there is
    nothing to write. The key may only be used through SSM, so the policy cannot
    decrypt anything else.
    """
    def document(writable: list[str]) -> dict[str, object]:
        statements: list[dict[str, object]] = [{
            "Sid": "TenantParametersRead",
            "Effect": "Allow",
            "Action": ["ssm:GetParameter", "ssm:GetParameters", "ssm:GetParametersByPath",
                       "ssm:ListTagsForResource"],
            "Resource": f"{namespace_arn}/*",
        }]
        if writable:
            statements.append({
                "Sid": "TenantParametersWrite",
                "Effect": "Allow",
                "Action": ["ssm:PutParameter", "ssm:DeleteParameter", "ssm:AddTagsToResource"],
                "Resource": [f"{namespace_arn}/{path}/*" for path in writable],
            })
        statements.append({
            "Sid": "TenantParameterKey",
            "Effect": "Allow",
            "Action": ["kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey"],
            "Resource": key_arn,
            "Condition": {"StringEquals": {"kms:ViaService": f"ssm.{region}.amazonaws.com"}},
        })
        return {"Version": "2012-10-17", "Statement": statements}

    per_tenant = document([f"{colour}/{tenant}" for colour in COLOURS for tenant in tenants])
    if len(json.dumps(per_tenant, separators=(",", ":"))) <= MANAGED_POLICY_MAX_CHARS:
        return per_tenant
    return document(list(COLOURS))
