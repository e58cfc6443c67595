"""Every command addresses a cohort in its own stack's region, whatever ``AWS_REGION`` says.

The example stacks say ``aws:region: eu-west-1``; here the environment says
us-east-1. moto keeps load balancers, tables and topics per region (and S3 for
all), exactly the split that made ``status`` look for the listener in the
wrong region.
"""

from __future__ import annotations

import contextlib
import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from rollout.aws_clients import AwsClients
from rollout.cli import run
from rollout.cli.context import RolloutContext
from rollout.discovery import CohortResources
from rollout.local.state import STATE_BUCKET, LocalStateStore, StackState
from rollout.rollouts.executor import load_state
from rollout.rollouts.ledger import Ledger
from rollout.stacks.outputs_record import recorded_outputs
from tests.cli_runner import rollout_output
from tests.conftest import listener_weights, shared_yaml, stack_yaml

pytestmark = pytest.mark.integration

NOTICE = "cohort canary lives in eu-west-1; using it, not AWS_REGION=us-east-1"
SHARED_NOTICE = "the shared stack lives in eu-west-1; using it, not AWS_REGION=us-east-1"


@dataclass
class Elsewhere:
    """An app whose stacks live in eu-west-1, deployed while the environment said us-east-1."""

    app: str
    directory: Path
    up_stderr: str


def _environment_in_us_east_1(patch: pytest.MonkeyPatch) -> None:
    patch.setenv("AWS_REGION", "us-east-1")
    patch.setenv("AWS_DEFAULT_REGION", "us-east-1")


@pytest.fixture(scope="module")
def elsewhere(moto_endpoint: str, tmp_path_factory: pytest.TempPathFactory) -> Elsewhere:
    app = f"r{uuid.uuid4().hex[:8]}"
    directory = tmp_path_factory.mktemp("region")
    (directory / "Pulumi.shared.yaml").write_text(shared_yaml(app))
    (directory / "Pulumi.canary.yaml").write_text(stack_yaml(app, "canary", ["aurora"]))
    with pytest.MonkeyPatch.context() as patch:
        _environment_in_us_east_1(patch)
        done = rollout_output("--project-dir", str(directory), "local", "up", "--cohort",
                              "canary", "--json")
    assert done.code == 0, done.stderr
    return Elsewhere(app, directory, done.stderr)


@pytest.fixture
def in_us_east_1(monkeypatch: pytest.MonkeyPatch) -> None:
    _environment_in_us_east_1(monkeypatch)


def test_local_up_deploys_into_the_stack_region_and_says_so_once(elsewhere: Elsewhere) -> None:
    resources = RolloutContext(elsewhere.directory).cohort("canary")
    assert ":eu-west-1:" in resources.listener_arn and resources.region == "eu-west-1"
    assert listener_weights(resources) == {"blue": 100, "green": 0}
    assert elsewhere.up_stderr.strip().splitlines() == [NOTICE]


def test_status_reads_the_weights_in_the_cohort_region(
        elsewhere: Elsewhere, in_us_east_1: None, capsys: pytest.CaptureFixture[str]) -> None:
    code = run(["--project-dir", str(elsewhere.directory), "status", "--cohort", "canary",
                "--json"])
    out, err = capsys.readouterr()
    assert code == 0, err
    (row,) = json.loads(out)
    assert row["cohort"] == "canary"
    assert row["weights"] == {"blue": 100, "green": 0}
    (notice,) = err.strip().splitlines()
    assert notice in (NOTICE, SHARED_NOTICE), "one line for the region, naming what is there"


def test_no_notice_when_the_environment_names_the_cohort_region(
        elsewhere: Elsewhere, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("AWS_REGION", "eu-west-1")
    code = run(["--project-dir", str(elsewhere.directory), "status", "--cohort", "canary",
                "--json"])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert json.loads(out)[0]["weights"] == {"blue": 100, "green": 0}
    assert err == ""


def test_the_context_gives_clients_and_a_ledger_in_the_stacks_regions(
        elsewhere: Elsewhere, in_us_east_1: None, capsys: pytest.CaptureFixture[str]) -> None:
    ctx = RolloutContext(elsewhere.directory)
    resources = ctx.cohort("canary")
    assert ctx.clients.region == "us-east-1"
    assert (resources.region, resources.shared_region) == ("eu-west-1", "eu-west-1")
    clients = ctx.clients_for(resources)
    assert clients.region == "eu-west-1"
    (listener,) = clients.client("elbv2").describe_listeners(
        ListenerArns=[resources.listener_arn])["Listeners"]
    assert listener["ListenerArn"] == resources.listener_arn
    assert load_state(ctx.ledger, "canary") is None, "the ledger table is found in eu-west-1"
    shared = ctx.shared
    assert ctx.clients_for(shared).client("sns").get_topic_attributes(
        TopicArn=shared.notices_topic_arn)["Attributes"]["TopicArn"] == shared.notices_topic_arn
    assert capsys.readouterr().err.strip().splitlines() == [NOTICE]


@contextlib.contextmanager
def local_state_gone(app: str) -> Iterator[None]:
    """The app's local-engine state removed meanwhile (as on AWS), then put back."""
    store = LocalStateStore(AwsClients(), app)
    s3 = boto3.client("s3")
    saved = {stack: s3.get_object(Bucket=STATE_BUCKET, Key=store.key(stack))["Body"].read()
             for stack in store.stacks()}
    for stack in saved:
        s3.delete_object(Bucket=STATE_BUCKET, Key=store.key(stack))
    try:
        yield
    finally:
        for stack, body in saved.items():
            s3.put_object(Bucket=STATE_BUCKET, Key=store.key(stack), Body=body)


def test_tags_are_looked_up_in_the_region_the_stack_config_names(
        elsewhere: Elsewhere, in_us_east_1: None) -> None:
    by_outputs = RolloutContext(elsewhere.directory).cohort("canary")
    with local_state_gone(elsewhere.app):
        ctx = RolloutContext(elsewhere.directory)
        assert ctx.discovery.cohorts() == ["canary"]
        by_tags = ctx.cohort("canary")
        shared = ctx.shared
    same = {"listener_arn", "target_group_arns", "region", "shared_region", "ledger_table"}
    assert by_tags.model_dump(include=same) == by_outputs.model_dump(include=same)
    assert shared.ledger_table == by_outputs.ledger_table


def test_a_cohort_region_comes_from_its_arns() -> None:
    def cohort(**arns: str) -> CohortResources:
        fields: dict[str, Any] = {
            "app": "a", "cohort": "c", "artefact_bucket": "b", "ledger_table": "t",
            "notices_topic_arn": "arn:aws:sns:ap-south-2:123456789012:notices",
            "listener_arn": "arn:aws:elasticloadbalancing:ca-west-1:123456789012:listener/"
                            "app/a-c/1/2",
            "load_balancer_arn": "lb", "target_group_arns": {"blue": "b", "green": "g"},
            "versions": {"blue": "1.0.0", "green": "1.0.0"}, "param_prefix": "/a/c"}
        return CohortResources(**{**fields, **arns})

    assert (cohort().region, cohort().shared_region) == ("ca-west-1", "ap-south-2")
    unparsed = cohort(listener_arn="arn:listener", notices_topic_arn="unused")
    assert (unparsed.region, unparsed.shared_region) == (None, None)
    assert cohort(region="eu-north-1").region == "eu-north-1"


def test_the_state_bucket_can_be_created_in_us_east_1() -> None:
    """us-east-1 is the one region S3 refuses as a LocationConstraint."""
    clients = AwsClients().for_region("us-east-1")
    store = LocalStateStore(clients, "app")
    s3 = clients.client("s3")
    with Stubber(s3) as stub:
        stub.add_client_error("head_bucket", "404", http_status_code=404)
        stub.add_response("create_bucket", {}, {"Bucket": STATE_BUCKET})
        stub.add_response("put_object", {})
        store.save("shared", StackState())
        stub.assert_no_pending_responses()


def _run_in_us_east_1(elsewhere: Elsewhere, capsys: pytest.CaptureFixture[str],
                      *argv: str) -> tuple[int, str, str]:
    code = run(["--project-dir", str(elsewhere.directory), *argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_status_prints_the_weights_of_the_cohort_region(
        elsewhere: Elsewhere, in_us_east_1: None, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = _run_in_us_east_1(elsewhere, capsys, "status", "--cohort", "canary")
    assert code == 0, err
    assert "100% / 0%" in out
    assert "error" not in err


def test_config_diff_reads_the_parameters_in_the_cohort_region(
        elsewhere: Elsewhere, in_us_east_1: None, capsys: pytest.CaptureFixture[str]) -> None:
    resources = RolloutContext(elsewhere.directory).cohort("canary")
    ssm = boto3.client("ssm", region_name="eu-west-1")
    ssm.put_parameter(Name=f"{resources.colour_prefix('blue')}/aurora/theme", Value="dark",
                      Type="String", Overwrite=True)
    capsys.readouterr()
    code, out, err = _run_in_us_east_1(elsewhere, capsys, "config", "diff", "--cohort",
                                       "canary", "--from", "blue", "--to", "green", "--json")
    assert code == 0, err
    report = json.loads(out)
    assert [(item["tenant"], item["status"]) for item in report["items"]] == [
        ("aurora", "missing")], "the setting in eu-west-1 is seen from us-east-1"


def test_release_list_reads_the_store_and_the_pins_in_the_stacks_regions(
        elsewhere: Elsewhere, in_us_east_1: None, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = _run_in_us_east_1(elsewhere, capsys, "release", "list", "--json")
    assert code == 0, err
    assert json.loads(out) == []


def test_stacks_preview_reads_the_ledger_in_the_shared_stack_region(
        elsewhere: Elsewhere, in_us_east_1: None, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = _run_in_us_east_1(elsewhere, capsys, "stacks", "preview", "--cohort",
                                       "canary", "--version", "1.5.0", "--local", "--json")
    assert code == 0, err
    assert json.loads(out)["colour"] == "green"


def test_report_reads_the_weights_in_the_cohort_region(
        elsewhere: Elsewhere, in_us_east_1: None, capsys: pytest.CaptureFixture[str],
        tmp_path: Path) -> None:
    code, out, err = _run_in_us_east_1(elsewhere, capsys, "report", "--html",
                                       str(tmp_path / "r.html"), "--json")
    assert code == 0, err
    assert [c["cohort"] for c in json.loads(out)["cohorts"]] == ["canary"]


def test_a_shared_stack_config_that_is_not_utf8_is_one_line(
        tmp_path: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ROLLOUT_APP", raising=False)
    (tmp_path / "Pulumi.shared.yaml").write_bytes(
        "config:\n  tenant-rollout:stack:\n    app: caf\u00e9\n".encode("latin-1"))
    code = run(["--project-dir", str(tmp_path), "status"])
    err = capsys.readouterr().err
    assert code == 2
    (line,) = err.strip().splitlines()
    assert "Pulumi.shared.yaml:3: not UTF-8" in line


def test_a_cohort_stack_config_that_is_not_utf8_is_left_out_of_the_regions(
        tmp_path: Path) -> None:
    from rollout.cli.context import stack_regions

    (tmp_path / "Pulumi.shared.yaml").write_text(shared_yaml("a"))
    (tmp_path / "Pulumi.canary.yaml").write_bytes(b"config:\n  aws:region: eu-west-1 \xe9\n")
    assert stack_regions(tmp_path) == {"shared": "eu-west-1"}


def test_stack_outputs_with_an_invalid_tenant_host_are_one_line(
        elsewhere: Elsewhere, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Outputs of a stack deployed before hosts were checked (or edited by hand)."""
    source = LocalStateStore(AwsClients(), elsewhere.app)
    copy_app = f"h{uuid.uuid4().hex[:8]}"
    target = LocalStateStore(AwsClients(), copy_app)
    for stack in ("shared", "canary"):
        state = source.load(stack)
        assert state is not None
        if stack == "canary":
            state.outputs["tenants"] = [{"id": "aurora", "host": "*"}]
        target.save(stack, state)
    monkeypatch.setenv("ROLLOUT_APP", copy_app)
    code = run(["--project-dir", str(elsewhere.directory), "status", "--cohort", "canary"])
    err = capsys.readouterr().err
    assert code == 2
    (line,) = [line for line in err.strip().splitlines() if "lives in" not in line]
    assert "canary" in line and "Pulumi.canary.yaml" in line and "rollout stacks up" in line
    assert "Traceback" not in err


def test_stacks_up_records_the_outputs_in_the_ledger_of_the_shared_stack_region(
        elsewhere: Elsewhere, in_us_east_1: None, capsys: pytest.CaptureFixture[str]) -> None:
    """Last in this module: it deploys 1.5.0 into canary's green."""
    code, _, err = _run_in_us_east_1(elsewhere, capsys, "stacks", "up", "--cohort", "canary",
                                     "--version", "1.5.0", "--local", "--json")
    assert code == 0, err
    table = RolloutContext(elsewhere.directory).shared.ledger_table
    record = recorded_outputs(Ledger(AwsClients().for_region("eu-west-1"), table), "canary")
    assert record is not None and (record.colour, record.version) == ("green", "1.5.0")
