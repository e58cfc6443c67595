"""A colour that serves pinned tenants is never redeployed, through the CLI against moto.

Each cohort below ran a real rollout of 1.5.0 (``rollout start --wait``) from blue
(1.4.2) to green, with one tenant opted out, so the executor pinned that tenant to
blue and promoted green. Blue is now the idle colour by weight, yet it still
serves the opted-out tenant:

==========  =====================================================================
cohort      pins after the promotion
==========  =====================================================================
optout      acme pinned to blue by a listener rule and in the ledger; some tests
            delete the rule for a while (``listener_rule_lost``), leaving the pin
            in the ledger only, as a hand-deleted rule or a crash would
moving      elm pinned to blue, later moved to green as the refusal advises
==========  =====================================================================
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from rollout.local.state import LocalStateStore
from rollout.rollouts.executor import load_state
from rollout.rollouts.state import Status
from rollout.routers.alb import AlbRouter
from rollout.stacks.outputs_record import recorded_outputs
from rollout.vocabulary.colours import COLOURS, Colour
from tests.cli_runner import address, rollout
from tests.conftest import Fleet, deploy_fleet, listener_weights
from tests.fleet_reads import fleet_ledger, target_group_version
from tests.releases import EXAMPLE_NOTES, publish, store_of
from tests.tenant_files import cohort_entry, tenant_entry, write_tenants

pytestmark = pytest.mark.integration

COHORTS = {"optout": ["acme", "bolt"], "moving": ["elm", "fir"]}
OPTED_OUT = {"optout": "acme", "moving": "elm"}
PUBLISHED = ["1.2.0", "1.4.2", "1.6.0"]


OPTED_OUT_REASON = "month-end close"
COHORT_ENTRIES = [cohort_entry(name, "all-at-once") for name in COHORTS]
TENANT_ENTRIES = [
    tenant_entry(name, group, opted_out=OPTED_OUT_REASON if OPTED_OUT[group] == name else None)
    for group, names in COHORTS.items() for name in names]


@pytest.fixture(scope="module")
def promoted(moto_endpoint: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Fleet]:
    """Every cohort promoted to green 1.5.0 with its opted-out tenant pinned to blue 1.4.2."""
    base = tmp_path_factory.mktemp("pinned")
    fleet = deploy_fleet(base, COHORTS, versions={"blue": "1.4.2", "green": "1.5.0"})
    tenants = write_tenants(fleet.project_dir / "tenants.yaml", COHORT_ENTRIES, TENANT_ENTRIES)
    with pytest.MonkeyPatch.context() as patch:
        address(patch, fleet, tenants)
        assert rollout("notify", "--release", "1.5.0", "--tenants", str(tenants), "--notes",
                       str(EXAMPLE_NOTES), "--json") == 0
        for name in COHORTS:
            assert rollout("start", "--cohort", name, "--release", "1.5.0", "--wait",
                           "--check-every", "0.1s", "--json") == 0
        for version in PUBLISHED:
            publish(fleet, base, version, size=2_000)
        yield fleet


@pytest.fixture
def listener_rule_lost(promoted: Fleet) -> Iterator[None]:
    """acme's listener rule is gone for the test; the ledger still pins it to blue."""
    router = AlbRouter(promoted.clients, promoted.cohorts["optout"])
    router.unpin(["acme"])
    try:
        yield
    finally:
        router.pin([t for t in promoted.cohorts["optout"].tenants if t.id == "acme"], "blue")


def version_tag(fleet: Fleet, cohort: str, colour: Colour) -> str:
    return target_group_version(fleet.clients, fleet.cohorts[cohort].target_group_arns[colour])


def snapshot(fleet: Fleet, cohort: str) -> dict[str, Any]:
    """Everything a redeploy would change: tags, stack outputs, weights, pins, ledger."""
    book = fleet_ledger(fleet)
    stack = LocalStateStore(fleet.clients, fleet.app).load(cohort)
    assert stack is not None
    state = load_state(book, cohort)
    record = recorded_outputs(book, cohort)
    return {
        "tags": {colour: version_tag(fleet, cohort, colour) for colour in COLOURS},
        "outputs": stack.outputs,
        "weights": listener_weights(fleet.cohorts[cohort]),
        "pins": AlbRouter(fleet.clients, fleet.cohorts[cohort]).pins(),
        "state": state.model_dump(mode="json") if state else None,
        "recorded": record.model_dump(mode="json") if record else None,
        "events": len(book.events(cohort)),
    }


def test_the_fixture_is_the_issue_s_scenario(promoted: Fleet) -> None:
    for cohort, tenant in OPTED_OUT.items():
        state = load_state(fleet_ledger(promoted), cohort)
        assert state is not None and state.status == Status.PROMOTED
        assert state.pinned == {tenant: "blue"}
        assert listener_weights(promoted.cohorts[cohort]) == {"blue": 0, "green": 100}
        assert version_tag(promoted, cohort, "blue") == "1.4.2"
    assert AlbRouter(promoted.clients, promoted.cohorts["optout"]).pins() == {"acme": "blue"}


@pytest.mark.parametrize("argv", [
    ["stacks", "up", "--cohort", "optout", "--version", "1.6.0", "--local"],
    ["stacks", "up", "--cohort", "optout", "--version", "1.6.0", "--colour", "blue", "--local"],
    ["stacks", "preview", "--cohort", "optout", "--version", "1.6.0", "--local"],
])
def test_stacks_up_refuses_the_colour_an_opted_out_tenant_is_pinned_to(
        promoted: Fleet, argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    before = snapshot(promoted, "optout")

    assert rollout(*argv) == 3

    err = " ".join(capsys.readouterr().err.split())
    assert "tenants acme are pinned to optout/blue, which runs 1.4.2" in err
    assert "rollout pin --cohort optout --tenant acme --colour green" in err
    assert snapshot(promoted, "optout") == before
    assert version_tag(promoted, "optout", "blue") == "1.4.2"


def test_stacks_up_in_json_names_the_tenant_and_its_pin(
        promoted: Fleet, capsys: pytest.CaptureFixture[str]) -> None:
    assert rollout("stacks", "up", "--cohort", "optout", "--version", "1.6.0", "--local",
                   "--json") == 3
    error = json.loads(capsys.readouterr().out)
    assert error["exit_code"] == 3
    assert "acme" in error["error"] and "optout/blue" in error["error"]


def test_a_pin_only_the_ledger_records_blocks_stacks_up_too(
        promoted: Fleet, listener_rule_lost: None, capsys: pytest.CaptureFixture[str]) -> None:
    before = snapshot(promoted, "optout")
    assert before["pins"] == {}

    assert rollout("stacks", "up", "--cohort", "optout", "--version", "1.6.0", "--local") == 3

    err = " ".join(capsys.readouterr().err.split())
    assert "tenants acme are pinned to optout/blue, which runs 1.4.2" in err
    assert "acme: in the ledger only" in err
    assert "`rollout pin --cohort optout --tenant acme --colour blue` restores its rule" in err
    assert snapshot(promoted, "optout") == before


def rollback_is_refused(fleet: Fleet, capsys: pytest.CaptureFixture[str]) -> None:
    before = snapshot(fleet, "optout")

    assert rollout("rollback", "--cohort", "optout", "--to-version", "1.6.0", "--local") == 3

    err = " ".join(capsys.readouterr().err.split())
    assert ("tenants acme are pinned to optout/blue, which runs 1.4.2" in err
            and "restoring 1.6.0 into blue would change their version" in err), err
    after = snapshot(fleet, "optout")
    assert after == before
    assert after["weights"] == {"blue": 0, "green": 100}
    assert after["state"]["status"] == "promoted"


def test_rollback_to_version_refuses_a_colour_with_a_pinned_tenant(
        promoted: Fleet, capsys: pytest.CaptureFixture[str]) -> None:
    rollback_is_refused(promoted, capsys)


def test_rollback_to_version_refuses_a_colour_the_ledger_pins_a_tenant_to(
        promoted: Fleet, listener_rule_lost: None, capsys: pytest.CaptureFixture[str]) -> None:
    rollback_is_refused(promoted, capsys)


def test_prune_keeps_the_version_pinned_tenants_run_and_says_why(
        promoted: Fleet, capsys: pytest.CaptureFixture[str]) -> None:
    store = store_of(promoted)

    assert rollout("release", "prune", "--keep", "1", "--dry-run") == 0
    dry = capsys.readouterr().out
    [kept] = [line for line in dry.splitlines() if line.startswith("keep    1.4.2")]
    assert "tenant acme pinned to optout/blue" in kept
    assert store.versions() == ["1.6.0", "1.4.2", "1.2.0"]

    assert rollout("release", "prune", "--keep", "1", "--json") == 0
    result = json.loads(capsys.readouterr().out)
    assert result["deleted"] == ["1.2.0"]
    assert store.versions() == ["1.6.0", "1.4.2"]
    assert store.verify("1.4.2").ok


def test_moving_the_pin_as_advised_lets_stacks_up_deploy_into_the_freed_colour(
        promoted: Fleet, capsys: pytest.CaptureFixture[str]) -> None:
    assert rollout("stacks", "up", "--cohort", "moving", "--version", "1.6.0", "--local") == 3
    assert rollout("pin", "--cohort", "moving", "--tenant", "elm", "--colour", "green") == 0
    capsys.readouterr()

    assert rollout("stacks", "up", "--cohort", "moving", "--version", "1.6.0", "--local",
                   "--json") == 0

    shown = json.loads(capsys.readouterr().out)
    assert (shown["colour"], shown["version"]) == ("blue", "1.6.0")
    assert version_tag(promoted, "moving", "blue") == "1.6.0"
    assert version_tag(promoted, "moving", "green") == "1.5.0"
    assert AlbRouter(promoted.clients, promoted.cohorts["moving"]).pins() == {"elm": "green"}
    assert listener_weights(promoted.cohorts["moving"]) == {"blue": 0, "green": 100}
