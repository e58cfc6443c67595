"""Load balancer, target groups and listeners.

The listener ignores changes to ``defaultActions``, as the program asks with
``ignore_changes``: after creation the rollout module owns the weights.
"""

from __future__ import annotations

from typing import Any

from rollout.aws_clients import AwsClients
from rollout.local.resources import Created, Inputs, handles, tag_list


def _retag(clients: AwsClients, created: Created, tags: dict[str, str]) -> None:
    clients.client("elbv2").add_tags(
        ResourceArns=[created.id], Tags=[{"Key": k, "Value": v} for k, v in tags.items()])


@handles("aws:lb/loadBalancer:LoadBalancer", retag=_retag)
def load_balancer(clients: AwsClients, name: str, inputs: Inputs) -> Created:
    made = clients.client("elbv2").create_load_balancer(
        Name=inputs["name"], Subnets=inputs["subnets"],
        SecurityGroups=inputs.get("securityGroups", []),
        Scheme="internal" if inputs.get("internal") else "internet-facing",
        Type=inputs.get("loadBalancerType", "application"), Tags=tag_list(inputs),
    )["LoadBalancers"][0]
    arn = made["LoadBalancerArn"]
    return Created(arn, {"arn": arn, "dnsName": made["DNSName"], "zoneId": made.get(
        "CanonicalHostedZoneId", "")})


@handles("aws:lb/targetGroup:TargetGroup", retag=_retag)
def target_group(clients: AwsClients, name: str, inputs: Inputs) -> Created:
    """An ``ip`` group (port, protocol, VPC, health check) or a ``lambda`` one (none of them)."""
    target_type = inputs.get("targetType", "ip")
    request: dict[str, Any] = {"Name": inputs["name"], "TargetType": target_type,
                               "Tags": tag_list(inputs)}
    if target_type != "lambda":
        check = inputs.get("healthCheck") or {}
        request.update(Protocol=inputs["protocol"], Port=int(inputs["port"]),
                       VpcId=inputs["vpcId"], HealthCheckPath=check.get("path", "/"),
                       HealthCheckIntervalSeconds=int(check.get("interval", 30)),
                       HealthyThresholdCount=int(check.get("healthyThreshold", 5)))
    made = clients.client("elbv2").create_target_group(**request)["TargetGroups"][0]
    arn = made["TargetGroupArn"]
    return Created(arn, {"arn": arn, "arnSuffix": arn.split(":")[-1]})


def _target(inputs: Inputs) -> dict[str, Any]:
    target: dict[str, Any] = {"Id": inputs["targetId"]}
    if inputs.get("port"):
        target["Port"] = int(inputs["port"])
    return target


def _register(clients: AwsClients, inputs: Inputs) -> Created:
    clients.client("elbv2").register_targets(TargetGroupArn=inputs["targetGroupArn"],
                                             Targets=[_target(inputs)])
    return Created(f"{inputs['targetGroupArn']}-{inputs['targetId']}")


def _reregister(clients: AwsClients, created: Created, old: Inputs, inputs: Inputs) -> Created:
    """Register the new target (a new published version), then deregister the old one."""
    replacement = _register(clients, inputs)
    clients.client("elbv2").deregister_targets(TargetGroupArn=old["targetGroupArn"],
                                               Targets=[_target(old)])
    return replacement


@handles("aws:lb/targetGroupAttachment:TargetGroupAttachment", update=_reregister)
def target_group_attachment(clients: AwsClients, name: str, inputs: Inputs) -> Created:
    return _register(clients, inputs)


def listener_actions(actions: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The program's ``defaultActions`` in the shape the ELBv2 API takes."""
    converted: list[dict[str, Any]] = []
    for action in actions:
        if action["type"] == "forward":
            groups = [{"TargetGroupArn": g["arn"], "Weight": int(g.get("weight", 1))}
                      for g in action["forward"]["targetGroups"]]
            converted.append({"Type": "forward", "ForwardConfig": {"TargetGroups": groups}})
        elif action["type"] == "redirect":
            redirect = action["redirect"]
            converted.append({"Type": "redirect", "RedirectConfig": {
                "Protocol": redirect.get("protocol", "#{protocol}"),
                "Port": redirect.get("port", "#{port}"),
                "StatusCode": redirect["statusCode"],
            }})
        else:
            raise ValueError(f"listener action type {action['type']!r} is not supported locally")
    return converted


@handles("aws:lb/listener:Listener", retag=_retag, ignore=("defaultActions",))
def listener(clients: AwsClients, name: str, inputs: Inputs) -> Created:
    request: dict[str, Any] = {
        "LoadBalancerArn": inputs["loadBalancerArn"],
        "Protocol": inputs["protocol"],
        "Port": int(inputs["port"]),
        "DefaultActions": listener_actions(inputs["defaultActions"]),
        "Tags": tag_list(inputs),
    }
    if inputs.get("certificateArn"):
        request["Certificates"] = [{"CertificateArn": inputs["certificateArn"]}]
        request["SslPolicy"] = inputs.get("sslPolicy")
    arn = clients.client("elbv2").create_listener(**request)["Listeners"][0]["ListenerArn"]
    return Created(arn, {"arn": arn})
