"""``rollout stacks portal``: the preferences page published into the shared stack, for real.

The command builds the page's zip, stores it in the artefact store and deploys the shared
stack (the local deployer: the same Pulumi program, into moto) with the function, its
public URL and a role limited to what the page touches. Then the function's deployed
code (read back from moto and checked against Lambda's ``CodeSha256``) runs on a loopback
port as the function URL's stand-in, and a tenant's link from a real notice opens it:
real HTTP requests, real code, the real ledger.
"""

from __future__ import annotations

import hashlib
import html
import json
import re
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from rollout.artefacts.store import ArtefactStore
from rollout.choices.book import ChoiceBook
from rollout.errors import RolloutFailed
from rollout.local.data_plane.colour_processes import StoredCode
from rollout.local.data_plane.function_process import deployed_function, serving_function
from rollout.local.server import LOOPBACK, free_port
from tests.cli_runner import Finished, address, rollout_output
from tests.conftest import Fleet, deploy_fleet
from tests.integration.test_choices_portal import sent_bodies
from tests.releases import short_notes_yaml
from tests.tenant_files import cohort_entry, tenant_entry, write_tenants

pytestmark = pytest.mark.integration

RELEASE = "1.5.0"
FORM_SECRET = re.compile(r'name="form_secret" value="([^"]+)"')


@dataclass(frozen=True)
class Published:
    fleet: Fleet
    tenants: Path
    notes: Path
    first: dict[str, Any]
    """``stacks portal --json`` of the first publish."""
    page_url: str
    """The loopback address the deployed code serves on (the function URL's stand-in)."""


def publish(tenants: Path, notes: Path, *extra: str) -> Finished:
    return rollout_output("stacks", "portal", "--local", "--tenants", str(tenants),
                          "--notes", str(notes), "--json", *extra)


def step(data: dict[str, Any], kind: str) -> dict[str, Any]:
    (found,) = [s for s in data["steps"] if s["kind"] == kind]
    return found


@pytest.fixture(scope="module")
def published(moto_endpoint: str, tmp_path_factory: pytest.TempPathFactory
              ) -> Iterator[Published]:
    base = tmp_path_factory.mktemp("portal-function")
    fleet = deploy_fleet(base, {"canary": ["aurora", "birch"]},
                         versions={"blue": "1.4.2", "green": RELEASE})
    port = free_port()
    page_url = f"http://{LOOPBACK}:{port}"
    tenants = write_tenants(base / "tenants.yaml", [cohort_entry("canary", "canary:50:1s")], [
        tenant_entry("aurora", "canary", windows=["daily 00:00-24:00", "Sun 02:00-06:00"]),
        tenant_entry("birch", "canary")], portal_url=page_url, max_deferral="60d",
        notice_days=1)
    notes = base / "release.yaml"
    notes.write_text(short_notes_yaml(RELEASE))
    with pytest.MonkeyPatch.context() as patch:
        address(patch, fleet, tenants)
        done = publish(tenants, notes)
        assert done.code == 0, done.stderr
        first = json.loads(done.stdout)
        yield Published(fleet, tenants, notes, first, page_url)


def test_the_page_runs_as_a_function_behind_a_public_url_from_its_stored_zip(
        published: Published) -> None:
    fleet, data = published.fleet, published.first
    store = step(data, "store-portal-zip")
    assert store["key"] == f"portal/{fleet.app}/{store['sha256']}.zip"
    lambda_ = fleet.clients.client("lambda")
    function = lambda_.get_function(FunctionName=data["function"])["Configuration"]
    assert data["function"] == f"{fleet.app}-preferences-page"
    assert function["Handler"] == "rollout.portal.lambda_handler.handler"
    assert function["Environment"]["Variables"] == {
        "ROLLOUT_APP": fleet.app, "ROLLOUT_LEDGER_TABLE": fleet.shared.ledger_table,
        "ROLLOUT_TENANTS_FILE": "portal/tenants.yaml", "ROLLOUT_NOTES_DIR": "portal/notes"}
    stored = fleet.clients.client("s3").get_object(
        Bucket=fleet.shared.artefact_bucket, Key=store["key"], VersionId=data["objectVersion"])
    assert stored["ContentLength"] == store["size"]
    url = lambda_.get_function_url_config(FunctionName=data["function"])
    assert url["AuthType"] == "NONE" and data["url"] == url["FunctionUrl"]
    policy = json.loads(lambda_.get_policy(FunctionName=data["function"])["Policy"])
    assert sorted(s["Action"] for s in policy["Statement"]) == [
        "lambda:InvokeFunction", "lambda:InvokeFunctionUrl"]
    role = function["Role"].rsplit("/", 1)[-1]
    iam = fleet.clients.client("iam")
    (policy_name,) = iam.list_role_policies(RoleName=role)["PolicyNames"]
    document = iam.get_role_policy(RoleName=role, PolicyName=policy_name)["PolicyDocument"]
    document = json.loads(document) if isinstance(document, str) else document
    assert {s["Sid"] for s in document["Statement"]} == {
        "OwnLogs", "TheLinkKey", "NoticesLinksAndChoices", "ReadCohortStates"}


def test_publishing_the_same_zip_again_stores_nothing_new(published: Published) -> None:
    again = publish(published.tenants, published.notes)
    assert again.code == 0, again.stderr
    data = json.loads(again.stdout)
    assert data["objectVersion"] == published.first["objectVersion"]
    assert data["url"] == published.first["url"]


def test_a_dry_run_and_bad_notes_write_nothing(published: Published, tmp_path: Path) -> None:
    fleet = published.fleet
    s3 = fleet.clients.client("s3")

    def stored() -> list[str]:
        listed = s3.list_object_versions(Bucket=fleet.shared.artefact_bucket, Prefix="portal/")
        return [v["VersionId"] for v in listed.get("Versions", [])]

    before = stored()
    changed = tmp_path / "tenants.yaml"
    changed.write_text(published.tenants.read_text() + "\n# another tenants file\n")
    dry = publish(changed, published.notes, "--dry-run")
    assert dry.code == 0, dry.stderr
    assert json.loads(dry.stdout)["dry_run"] is True
    bad = tmp_path / "release.yaml"
    bad.write_text(published.notes.read_text().replace(f"version: {RELEASE}", "version: nope"))
    refused = publish(changed, bad)
    assert refused.code == 2
    assert str(bad) in refused.stderr and len(refused.stderr.strip().splitlines()) == 1
    assert stored() == before


def test_a_tenant_s_link_opens_the_deployed_code_and_its_choice_reaches_the_ledger(
        published: Published) -> None:
    fleet = published.fleet
    sqs, sns = fleet.clients.client("sqs"), fleet.clients.client("sns")
    queue = sqs.create_queue(QueueName=f"{fleet.app}-portal-mailbox")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])[
        "Attributes"]["QueueArn"]
    sns.subscribe(TopicArn=fleet.shared.notices_topic_arn, Protocol="sqs", Endpoint=arn)
    sent = rollout_output("notify", "--release", RELEASE, "--notes", str(published.notes),
                          "--tenants", str(published.tenants), "--json")
    assert sent.code == 0, sent.stderr
    link = re.compile(re.escape(published.page_url) + r"/choose\?t=(\S+)")
    tokens = {tenant: found.group(1) for tenant, bodies in sent_bodies(fleet, queue).items()
              if (found := link.search(bodies[0]))}
    assert set(tokens) == {"aurora", "birch"}

    store = step(published.first, "store-portal-zip")
    launch = deployed_function(fleet.clients, published.first["function"], StoredCode(
        fleet.shared.artefact_bucket, store["key"], published.first["objectVersion"],
        store["sha256"]))
    port = int(published.page_url.rsplit(":", 1)[1])
    with tempfile.TemporaryDirectory() as work, \
            serving_function(fleet.clients, launch, Path(work), port=port) as url, \
            httpx.Client(base_url=url, timeout=10, trust_env=False) as browser:
        page = browser.get("/choose", params={"t": tokens["aurora"]})
        assert page.status_code == 200, page.text
        assert RELEASE in page.text and "Sun 02:00-06:00" in page.text
        secret = FORM_SECRET.search(page.text)
        assert secret is not None
        answer = browser.post("/choose", data={
            "t": tokens["aurora"], "form_secret": html.unescape(secret.group(1)),
            "action": "window", "window": "Sun 02:00-06:00"})
        assert answer.status_code == 200, answer.text
        forged = tokens["birch"][:-4] + ("AAAA" if not tokens["birch"].endswith("AAAA")
                                         else "BBBB")
        assert browser.get("/choose", params={"t": forged}).status_code == 403

    book = ChoiceBook(fleet.clients, fleet.shared.ledger_table, RELEASE)
    (choice,) = book.choices()
    assert (choice.tenant, choice.window) == ("aurora", "Sun 02:00-06:00")


def test_a_cohort_s_stack_or_no_pulumi_cli_is_refused_in_one_line_with_nothing_sent(
        published: Published, monkeypatch: pytest.MonkeyPatch) -> None:
    cohort = rollout_output("stacks", "portal", "--local", "--stack", "canary", "--tenants",
                            str(published.tenants), "--notes", str(published.notes))
    assert cohort.code == 2
    assert "Pulumi.canary.yaml" in cohort.stderr and "shared stack" in cohort.stderr
    monkeypatch.setenv("PATH", "/nonexistent")
    no_cli = rollout_output("stacks", "portal", "--tenants", str(published.tenants),
                            "--notes", str(published.notes))
    assert no_cli.code == 2
    assert "pulumi" in no_cli.stderr.lower() and len(no_cli.stderr.strip().splitlines()) == 1


def test_a_key_named_by_a_sha256_is_written_once_and_other_bytes_under_it_are_refused(
        published: Published) -> None:
    store = ArtefactStore.of(published.fleet.clients, published.fleet.shared)
    data = b"the page's zip, say"
    sha256 = hashlib.sha256(data).hexdigest()
    key = f"portal/{published.fleet.app}/{sha256}.zip"
    first = store.put_once(key, data, sha256)
    assert store.put_once(key, data, sha256) == first
    other = hashlib.sha256(b"other bytes").hexdigest()
    published.fleet.clients.client("s3").put_object(
        Bucket=published.fleet.shared.artefact_bucket, Key=f"portal/{other}.zip", Body=data)
    with pytest.raises(RolloutFailed, match="holds other bytes"):
        store.put_once(f"portal/{other}.zip", b"other bytes", other)
