"""A Pulumi program under recording mocks: what it registered (type, name, inputs, options)
and exported.

``set_mocks`` is process-global, so a program never runs in the pytest process: a test
file runs itself as a script (``python -m tests.unit.<file> SCENARIO...``), which forks
one child per scenario (:func:`run_each`) and prints the results as JSON; the tests read
that data. The mocks answer the shared stack's ``StackReference`` with
:data:`SHARED_OUTPUTS` and every resource with its inputs plus the outputs programs read
(an ARN, a name, a bucket, a key id, a DNS name, a published version).
"""

from __future__ import annotations

import keyword
from collections.abc import Callable, Mapping
from typing import Any

REGION = "eu-west-1"
ACCOUNT = "123456789012"
SHARED_OUTPUTS = {
    "artefactBucket": "acme-artefacts-mock",
    "ledgerTable": "acme-rollout-ledger",
    "noticesTopicArn": f"arn:aws:sns:{REGION}:{ACCOUNT}:acme-rollout-notices",
}


def record(program: Callable[[], None], raw_config: dict[str, Any]) -> dict[str, Any]:
    """Run ``program`` (which calls ``pulumi.export``) with ``raw_config`` as its stack config.

    A ``pulumi.RunError`` (a bad config, said in one line) is data: ``{"error": {"type":
    "RunError", "message": ...}}``; any other failure crashes the child, and says so.
    """
    import pulumi
    import pulumi_aws
    from pulumi.runtime.mocks import MockMonitor

    from rollout.local.program_run import run_under_mocks, stack_config_values

    resources: list[dict[str, Any]] = []
    options: dict[tuple[str, str], dict[str, Any]] = {}

    class RecordingMonitor(MockMonitor):  # type: ignore[misc]
        def RegisterResource(self, request: Any) -> Any:
            options[(request.type, request.name)] = {
                "ignoreChanges": list(request.ignoreChanges), "parent": request.parent,
                "protect": bool(request.protect)}
            return super().RegisterResource(request)

    class RecordingMocks(pulumi.runtime.Mocks):
        def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str, dict[str, Any]]:
            if args.typ == "pulumi:pulumi:StackReference":
                return args.name, {"name": args.name, "outputs": SHARED_OUTPUTS,
                                   "secretOutputNames": []}
            resources.append({"type": args.typ, "name": args.name, "inputs": args.inputs,
                              "custom": bool(args.custom)})
            fake = f"{args.name}-mock"
            arn = f"arn:aws:mock:{REGION}:{ACCOUNT}:{fake}"
            return fake, {**args.inputs, "arn": arn, "bucket": args.inputs.get("bucket", fake),
                          "keyId": fake, "name": args.inputs.get("name", fake),
                          "dnsName": f"{fake}.elb", "version": "7", "qualifiedArn": f"{arn}:7",
                          "functionUrl": f"https://{fake}.lambda-url.{REGION}.on.aws/"}

        def call(self, args: pulumi.runtime.MockCallArgs) -> dict[str, Any]:  # type: ignore[override]
            assert args.token == "aws:index/getCallerIdentity:getCallerIdentity", args.token
            return {"accountId": ACCOUNT, "arn": f"arn:aws:iam::{ACCOUNT}:user/ci",
                    "userId": "ci", "id": ACCOUNT}

    exports: dict[str, Any] = {}

    def exporting() -> dict[str, Any]:
        real_export = pulumi.export
        pulumi.export = exports.__setitem__  # type: ignore[assignment]
        try:
            program()
        finally:
            pulumi.export = real_export
        return exports

    try:
        resolved = run_under_mocks(
            RecordingMocks(), stack="test", config=stack_config_values(raw_config, REGION),
            program=exporting, monitor=RecordingMonitor(RecordingMocks()))
    except pulumi.RunError as exc:
        return {"error": {"type": "RunError", "message": str(exc)}, "resources": resources}

    for resource in resources:
        resource.update(options.get((resource["type"], resource["name"]), {}))
        if resource["custom"]:
            _, module_path, class_name = resource["type"].split(":")
            module = module_path.split("/")[0]
            # A Python keyword names its module with a trailing underscore: pulumi_aws.lambda_.
            module += "_" if keyword.iskeyword(module) else ""
            cls = getattr(getattr(pulumi_aws, module), class_name)
            resource["taggable"] = isinstance(getattr(cls, "tags", None), property)
    return {"resources": resources, "exports": resolved, "error": None}


def run_each(jobs: Mapping[str, Callable[[], dict[str, Any]]]) -> dict[str, Any]:
    """Each job in a forked child of this process, so mocks never leak between them."""
    from rollout.local.fork_server import run_forked
    from rollout.local.messages import ChildFailure

    results: dict[str, Any] = {}
    for name, job in jobs.items():
        outcome = run_forked(job)
        results[name] = ({"crash": outcome.message} if isinstance(outcome, ChildFailure)
                         else outcome)
    return results


def of_type(run: dict[str, Any], token: str) -> list[dict[str, Any]]:
    return [r for r in run["resources"] if r["type"] == token]


def one(run: dict[str, Any], token: str) -> dict[str, Any]:
    found = of_type(run, token)
    assert len(found) == 1, f"expected one {token}, found {len(found)}"
    return found[0]
