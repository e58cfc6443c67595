"""ECS clusters, Fargate task definitions and services."""

from __future__ import annotations

import json
from typing import Any

from rollout.aws_clients import AwsClients
from rollout.local.resources import Created, Inputs, handles, tag_list


def _retag(clients: AwsClients, created: Created, tags: dict[str, str]) -> None:
    clients.client("ecs").tag_resource(
        resourceArn=created.outputs["arn"], tags=[{"key": k, "value": v} for k, v in tags.items()])


def _ecs_tags(inputs: Inputs) -> list[dict[str, str]]:
    return [{"key": tag["Key"], "value": tag["Value"]} for tag in tag_list(inputs)]


@handles("aws:ecs/cluster:Cluster", retag=_retag)
def cluster(clients: AwsClients, name: str, inputs: Inputs) -> Created:
    made = clients.client("ecs").create_cluster(clusterName=inputs["name"],
                                                tags=_ecs_tags(inputs))["cluster"]
    return Created(made["clusterArn"], {"arn": made["clusterArn"], "name": made["clusterName"]})


def _register(clients: AwsClients, name: str, inputs: Inputs) -> Created:
    request: dict[str, Any] = {
        "family": inputs["family"],
        "containerDefinitions": json.loads(inputs["containerDefinitions"]),
        "requiresCompatibilities": inputs.get("requiresCompatibilities") or [],
        "networkMode": inputs.get("networkMode", "awsvpc"),
        "cpu": inputs["cpu"], "memory": inputs["memory"], "tags": _ecs_tags(inputs),
    }
    for role in ("taskRoleArn", "executionRoleArn"):
        if inputs.get(role):
            request[role] = inputs[role]
    made = clients.client("ecs").register_task_definition(**request)["taskDefinition"]
    arn = made["taskDefinitionArn"]
    return Created(arn, {"arn": arn, "revision": made["revision"],
                         "arnWithoutRevision": arn.rsplit(":", 1)[0]})


def _new_revision(clients: AwsClients, created: Created, old: Inputs, inputs: Inputs) -> Created:
    """A changed task definition is a new revision, as in AWS; the old one stays."""
    return _register(clients, created.id, inputs)


@handles("aws:ecs/taskDefinition:TaskDefinition", retag=_retag, update=_new_revision)
def task_definition(clients: AwsClients, name: str, inputs: Inputs) -> Created:
    return _register(clients, name, inputs)


def _network(inputs: Inputs) -> dict[str, Any]:
    network = inputs.get("networkConfiguration") or {}
    return {"awsvpcConfiguration": {
        "subnets": network.get("subnets", []),
        "securityGroups": network.get("securityGroups", []),
        "assignPublicIp": "ENABLED" if network.get("assignPublicIp") else "DISABLED"}}


def _breaker(inputs: Inputs) -> dict[str, Any]:
    breaker = inputs.get("deploymentCircuitBreaker") or {}
    return {"deploymentCircuitBreaker": {"enable": bool(breaker.get("enable")),
                                         "rollback": bool(breaker.get("rollback"))}}


def _update_service(clients: AwsClients, created: Created, old: Inputs,
                    inputs: Inputs) -> Created:
    """The service runs the new task definition at the count it has (the program ignores
    changes to ``desiredCount``: after creation the rollout sizes each colour)."""
    clients.client("ecs").update_service(
        cluster=inputs["cluster"], service=inputs["name"], taskDefinition=inputs["taskDefinition"],
        deploymentConfiguration=_breaker(inputs), networkConfiguration=_network(inputs))
    return created


@handles("aws:ecs/service:Service", retag=_retag, update=_update_service,
         ignore=("desiredCount",))
def service(clients: AwsClients, name: str, inputs: Inputs) -> Created:
    made = clients.client("ecs").create_service(
        cluster=inputs["cluster"], serviceName=inputs["name"],
        taskDefinition=inputs["taskDefinition"], desiredCount=int(inputs.get("desiredCount", 1)),
        launchType=inputs.get("launchType", "FARGATE"),
        loadBalancers=[{"targetGroupArn": lb["targetGroupArn"],
                        "containerName": lb["containerName"],
                        "containerPort": int(lb["containerPort"])}
                       for lb in inputs.get("loadBalancers") or []],
        networkConfiguration=_network(inputs), deploymentConfiguration=_breaker(inputs),
        tags=_ecs_tags(inputs))["service"]
    return Created(made["serviceArn"], {"arn": made["serviceArn"], "name": made["serviceName"]})
