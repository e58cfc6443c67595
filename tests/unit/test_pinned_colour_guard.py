"""The rule that a colour serving pinned tenants is never redeployed, without AWS."""

from __future__ import annotations

import pytest

from rollout.errors import Blocked
from rollout.rollouts.pinned_colours import ColourPin, pins_serving, refuse_redeploy_of_pinned
from rollout.vocabulary.colours import Colour

VERSIONS: dict[Colour, str] = {"blue": "1.4.2", "green": "1.5.0"}


def refusal(colour: Colour = "blue", versions: dict[Colour, str] | None = None,
            listener: dict[str, Colour] | None = None,
            ledger: dict[str, Colour] | None = None) -> str:
    with pytest.raises(Blocked) as raised:
        refuse_redeploy_of_pinned("wave1", colour, versions or VERSIONS, listener or {},
                                  ledger or {}, doing=f"deploying 1.6.0 into {colour}")
    assert raised.value.exit_code == 3
    return str(raised.value)


@pytest.mark.parametrize(("listener", "ledger"), [
    ({}, {}),
    ({"acme": "green"}, {}),
    ({}, {"acme": "green"}),
    ({"acme": "green", "bolt": "green"}, {"acme": "green"}),
])
def test_a_colour_no_tenant_is_pinned_to_may_be_redeployed(
        listener: dict[str, Colour], ledger: dict[str, Colour]) -> None:
    assert pins_serving("blue", listener, ledger) == []
    refuse_redeploy_of_pinned("wave1", "blue", VERSIONS, listener, ledger,
                              doing="deploying 1.6.0 into blue")


def test_a_listener_pin_blocks_and_the_message_names_tenant_pin_and_version() -> None:
    message = refusal(listener={"acme": "blue"}, ledger={"acme": "blue"})
    assert message.startswith("tenants acme are pinned to wave1/blue, which runs 1.4.2: "
                              "deploying 1.6.0 into blue would change their version without "
                              "notice; nothing was changed.")
    assert "green runs 1.5.0, so moving them there upgrades them" in message
    assert "`rollout pin --cohort wave1 --tenant acme --colour green`" in message
    assert "ledger only" not in message


def test_a_pin_the_ledger_records_but_the_listener_lost_still_blocks() -> None:
    message = refusal(ledger={"cove": "blue"})
    assert message.startswith("tenants cove are pinned to wave1/blue, which runs 1.4.2 "
                              "(cove: in the ledger only")
    assert "`rollout pin --cohort wave1 --tenant cove --colour blue` restores its rule" in message


def test_either_source_is_enough_and_every_tenant_is_named_once_in_order() -> None:
    pins = pins_serving("blue", {"zinc": "blue", "acme": "blue", "moss": "green"},
                        {"acme": "blue", "bolt": "blue", "moss": "blue"})
    assert pins == [
        ColourPin(tenant="acme", colour="blue", in_listener=True, in_ledger=True),
        ColourPin(tenant="bolt", colour="blue", in_listener=False, in_ledger=True),
        ColourPin(tenant="moss", colour="blue", in_listener=False, in_ledger=True),
        ColourPin(tenant="zinc", colour="blue", in_listener=True, in_ledger=False),
    ]
    message = refusal(listener={"zinc": "blue", "acme": "blue", "moss": "green"},
                      ledger={"acme": "blue", "bolt": "blue", "moss": "blue"})
    assert message.startswith("tenants acme, bolt, moss, zinc are pinned to wave1/blue")
    assert "--tenant TENANT --colour green` for each of them" in message


def test_when_the_other_colour_runs_the_same_version_moving_keeps_their_version() -> None:
    message = refusal(versions={"blue": "1.4.2", "green": "1.4.2"}, listener={"acme": "blue"})
    assert "green runs 1.4.2 too: move them there with" in message
    assert "upgrades" not in message


def test_the_idle_green_colour_is_guarded_the_same_way() -> None:
    message = refusal("green", listener={"acme": "green"})
    assert message.startswith("tenants acme are pinned to wave1/green, which runs 1.5.0")
    assert "blue runs 1.4.2, so moving them there downgrades them" in message


def test_a_colour_whose_version_is_unknown_is_still_guarded() -> None:
    message = refusal(versions={"green": "1.5.0"}, listener={"acme": "blue"})
    assert message.startswith("tenants acme are pinned to wave1/blue, which runs an unknown "
                              "version")
