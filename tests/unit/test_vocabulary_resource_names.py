"""Resource names are built in one place, and the stack config checks the names the program gives.

The program's side of it (the names in the registered resources) is checked under
Pulumi mocks in ``test_infra_program.py``; here, without pulumi, the model's length
check against the names themselves.
"""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from rollout.model.stack import CohortStackConfig, parse_stack
from rollout.vocabulary import resource_names
from rollout.vocabulary.colours import COLOURS
from rollout.vocabulary.names import MAX_AWS_NAME

LONGEST_APP, LONGEST_COHORT = "acme-payments", "eu-west-wave"
"""Together they make a green target group name of exactly :data:`MAX_AWS_NAME` characters."""


def cohort(app: str, name: str) -> dict[str, object]:
    return {"role": "cohort", "app": app, "cohort": name,
            "sharedStack": "organization/tenant-rollout/shared",
            "versions": {"blue": "1.4.2", "green": "1.5.0"}}


def test_the_longest_pair_the_model_accepts_names_everything_within_aws_limits() -> None:
    stack = parse_stack(cohort(LONGEST_APP, LONGEST_COHORT)).stack
    assert isinstance(stack, CohortStackConfig)
    names = [stack.load_balancer_name, *(stack.target_group_name(c) for c in COLOURS)]
    assert max(len(name) for name in names) == MAX_AWS_NAME
    assert names == [resource_names.load_balancer(LONGEST_APP, LONGEST_COHORT),
                     *(resource_names.target_group(LONGEST_APP, LONGEST_COHORT, c)
                       for c in COLOURS)]


def test_one_character_more_is_refused_naming_the_target_group() -> None:
    with pytest.raises(ValidationError) as refused:
        parse_stack(cohort(LONGEST_APP, LONGEST_COHORT + "s"))
    name = resource_names.target_group(LONGEST_APP, LONGEST_COHORT + "s", "green")
    assert f"target group name {name!r} has 33 characters, AWS allows 32" in str(refused.value)


def test_the_configuration_namespace_and_its_names() -> None:
    namespace = resource_names.parameter_namespace("acme", "canary")
    assert namespace == "/acme/canary"
    assert resource_names.colour_parameters(namespace, "green") == "/acme/canary/green"
    assert resource_names.colour_secrets(namespace, "green") == "acme/canary/green"
    assert resource_names.config_key_alias("acme", "canary") == "alias/acme-canary-config"
    assert resource_names.config_policy("acme", "canary") == "acme-canary-tenant-config"
    assert (resource_names.ledger_table("acme"), resource_names.notices_topic("acme")) == (
        "acme-rollout-ledger", "acme-rollout-notices")
