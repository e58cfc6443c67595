"""A cohort's ``hooks:`` in tenants.yaml: what loads, in which order, and every mistake in one line.

Each mistake is refused by the tenants.yaml loader (exit 2, nothing written), naming
the file, the line and the field, as every other mistake in that file is.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from rollout.errors import BadInput
from rollout.hooks.base import STAGES, HookStage
from rollout.hooks.command import CommandHook
from rollout.hooks.http_callback import HttpCallback
from rollout.hooks.load import load_hooks
from rollout.hooks.settings import CohortHooks
from rollout.model.tenants import load_tenants
from tests.hook_receivers import COHORT
from tests.tenant_files import cohort_entry, write_tenants

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "tenants.yaml"
LOOPBACK_HOOK = "http://127.0.0.1:8080/qa"


def written(tmp_path: Path, hooks: Any) -> Path:
    return write_tenants(tmp_path / "tenants.yaml", [cohort_entry("canary", hooks=hooks)], [])


def refused(tmp_path: Path, hooks: Any) -> str:
    path = written(tmp_path, hooks)
    with pytest.raises(BadInput) as caught:
        load_tenants(path)
    message = str(caught.value)
    assert "\n" not in message
    assert re.match(rf"{re.escape(str(path))}:\d+: cohorts\.0\.hooks", message), message
    return message.split(": ", 1)[1]


def test_a_cohort_without_hooks_has_none(tmp_path: Path) -> None:
    path = write_tenants(tmp_path / "tenants.yaml", [cohort_entry("canary")], [])
    assert load_hooks(load_tenants(path).cohort("canary").hooks, COHORT) == []


def test_hooks_run_in_stage_order_then_in_the_order_written(tmp_path: Path) -> None:
    stages: dict[HookStage, Any] = {
        "after_promote": [{"command": "true"}],
        "after_test_traffic": [{"name": "smoke", "command": "true", "timeout": "2m"},
                               {"url": LOOPBACK_HOOK}],
        "before_test_traffic": [{"command": "true"}],
    }
    settings = load_tenants(written(tmp_path, stages)).cohort("canary").hooks

    hooks = load_hooks(settings, COHORT)

    assert [(hook.stage, hook.name) for hook in hooks] == [
        ("before_test_traffic", "before_test_traffic-1"),
        ("after_test_traffic", "smoke"),
        ("after_test_traffic", "after_test_traffic-2"),
        ("after_promote", "after_promote-1")]
    assert [type(hook) for hook in hooks] == [CommandHook, CommandHook, HttpCallback,
                                               CommandHook]
    assert "(at most 2m)" in hooks[1].describe()
    assert "(at most 10m)" in hooks[0].describe()
    assert "(2xx within 30s)" in hooks[2].describe()


def test_the_settings_name_every_stage_in_the_order_a_rollout_reaches_them() -> None:
    assert tuple(CohortHooks.model_fields) == STAGES


def test_the_commented_example_in_examples_tenants_yaml_is_valid(tmp_path: Path) -> None:
    lines = EXAMPLE.read_text().splitlines()
    start = lines.index("    # hooks:")
    end = next(index for index in range(start + 1, len(lines))
               if not lines[index].startswith("    #   "))
    uncommented = [line.replace("# ", "", 1) for line in lines[start:end]]
    copy = tmp_path / "tenants.yaml"
    copy.write_text("\n".join([*lines[:start], *uncommented, *lines[end:]]) + "\n")

    hooks = load_tenants(copy).cohort("canary").hooks

    [smoke] = hooks.after_test_traffic
    [callback] = hooks.after_allow_traffic
    assert (smoke.name, smoke.timeout, smoke.env) == ("smoke", 120.0, ["SMOKE_USER"])
    assert callback.url is not None and callback.timeout == 10.0
    assert load_tenants(EXAMPLE).cohort("canary").hooks == CohortHooks()


@pytest.mark.parametrize(("hook", "problem"), [
    ({"command": "true", "url": LOOPBACK_HOOK},
     "after_test_traffic.0.url: a hook is a command or a url, not both"),
    ({"name": "lonely"}, "after_test_traffic.0.url: a hook needs a command"),
    ({"command": "true", "timeout": "2h"},
     "after_test_traffic.0.timeout: must be at most 1h, got 2h"),
    ({"command": "true", "timeout": 0}, "after_test_traffic.0.timeout: must be more than 0"),
    ({"command": "true", "timeout": "soon"},
     "after_test_traffic.0.timeout: 'soon' is not a duration"),
    ({"command": "true", "name": "smoke test"},
     "after_test_traffic.0.name: 'smoke test' is not a hook name"),
    ({"command": "true", "name": "../etc"},
     "after_test_traffic.0.name: '../etc' is not a hook name"),
    ({"command": "'unclosed"}, "after_test_traffic.0.command: cannot be split into words"),
    ({"command": "   "}, "after_test_traffic.0.command: is empty"),
    ({"url": LOOPBACK_HOOK, "env": ["SMOKE_USER"]},
     "after_test_traffic.0.env: is for commands only"),
    ({"command": "true", "env": ["SMOKE USER"]}, "after_test_traffic.0.env.0: String should"),
    ({"command": "true", "shell": True}, "after_test_traffic.0.shell: Extra inputs"),
])
def test_a_bad_hook_is_refused_naming_its_field(tmp_path: Path, hook: dict[str, Any],
                                               problem: str) -> None:
    message = refused(tmp_path, {"after_test_traffic": [hook]})
    assert message.startswith(f"cohorts.0.hooks.{problem}"), message


def test_an_unknown_stage_is_refused_naming_it(tmp_path: Path) -> None:
    message = refused(tmp_path, {"before_traffic": [{"command": "true"}]})
    assert message.startswith("cohorts.0.hooks.before_traffic: Extra inputs"), message


def test_two_hooks_of_one_name_are_refused(tmp_path: Path) -> None:
    message = refused(tmp_path, {"after_test_traffic": [{"name": "smoke", "command": "true"}],
                                 "after_promote": [{"name": "smoke", "url": LOOPBACK_HOOK}]})
    assert message == ("cohorts.0.hooks: hook name 'smoke' is used twice "
                       "(hooks.after_test_traffic.0 and hooks.after_promote.0); give each hook "
                       "its own name")


def test_a_callback_url_is_not_in_the_settings_repr(tmp_path: Path) -> None:
    """A URL may carry a token; a model's repr ends up in tracebacks."""
    secret = "tok-FAKE-in-the-path"
    path = written(tmp_path, {"after_promote": [{"url": f"{LOOPBACK_HOOK}/{secret}"}]})
    cohort = load_tenants(path).cohort("canary")
    assert secret not in repr(cohort) and secret not in str(cohort)
