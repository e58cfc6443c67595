"""VPC, subnets and security groups."""

from __future__ import annotations

from rollout.aws_clients import AwsClients
from rollout.local.resources import Created, Inputs, handles, tag_list


def _retag(clients: AwsClients, created: Created, tags: dict[str, str]) -> None:
    clients.client("ec2").create_tags(
        Resources=[created.id], Tags=[{"Key": k, "Value": v} for k, v in tags.items()])


def _tag_spec(kind: str, inputs: Inputs) -> list[dict[str, object]]:
    tags = tag_list(inputs)
    return [{"ResourceType": kind, "Tags": tags}] if tags else []


@handles("aws:ec2/vpc:Vpc", retag=_retag)
def vpc(clients: AwsClients, name: str, inputs: Inputs) -> Created:
    ec2 = clients.client("ec2")
    made = ec2.create_vpc(CidrBlock=inputs["cidrBlock"],
                          TagSpecifications=_tag_spec("vpc", inputs))["Vpc"]
    if inputs.get("enableDnsHostnames"):
        ec2.modify_vpc_attribute(VpcId=made["VpcId"], EnableDnsHostnames={"Value": True})
    return Created(made["VpcId"], {"arn": f"arn:aws:ec2:::vpc/{made['VpcId']}"})


@handles("aws:ec2/subnet:Subnet", retag=_retag)
def subnet(clients: AwsClients, name: str, inputs: Inputs) -> Created:
    made = clients.client("ec2").create_subnet(
        VpcId=inputs["vpcId"], CidrBlock=inputs["cidrBlock"],
        AvailabilityZone=inputs["availabilityZone"],
        TagSpecifications=_tag_spec("subnet", inputs))["Subnet"]
    return Created(made["SubnetId"], {"arn": made.get("SubnetArn", "")})


def _permissions(rules: list[dict[str, object]]) -> list[dict[str, object]]:
    return [{
        "IpProtocol": str(rule["protocol"]),
        "FromPort": int(rule["fromPort"]),  # type: ignore[call-overload]
        "ToPort": int(rule["toPort"]),  # type: ignore[call-overload]
        "IpRanges": [{"CidrIp": cidr} for cidr in rule.get("cidrBlocks", [])],  # type: ignore[attr-defined]
    } for rule in rules]


@handles("aws:ec2/securityGroup:SecurityGroup", retag=_retag)
def security_group(clients: AwsClients, name: str, inputs: Inputs) -> Created:
    ec2 = clients.client("ec2")
    group_id = ec2.create_security_group(
        GroupName=inputs.get("name") or name, Description=inputs.get("description", name),
        VpcId=inputs["vpcId"], TagSpecifications=_tag_spec("security-group", inputs))["GroupId"]
    if inputs.get("ingress"):
        ec2.authorize_security_group_ingress(GroupId=group_id,
                                             IpPermissions=_permissions(inputs["ingress"]))
    return Created(group_id, {"arn": f"arn:aws:ec2:::security-group/{group_id}"})
