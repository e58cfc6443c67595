"""The command hook: told the rollout's facts and the test route, and nothing secret of ours.

Its check is the operator's own program, but it runs as a child of a tool that holds
AWS credentials and CI tokens: it inherits none of them unless the hook names them in
``env``, its full output stays in a log only the user can read, and a check that hangs
is killed with whatever it started.
"""

from __future__ import annotations

import json
import os
import stat
import sys
import textwrap
import time
from pathlib import Path

import pytest

from rollout.hooks.command import CommandHook
from rollout.hooks.load import load_hooks
from rollout.hooks.settings import CohortHooks
from rollout.user_command import REDACTED
from tests.hook_receivers import COHORT, HEADER, TOKEN, facts

AWS_SECRET = "FAKEawsSecretKey0123456789abcdef"
CI_TOKEN = "ghp_FAKE0123456789abcdefghijklmnopqrstuvwxyz"

DUMP = textwrap.dedent("""\
    import json, os, sys
    with open(sys.argv[1], "w") as out:
        json.dump(dict(os.environ), out)
    print("sending", os.environ.get("ROLLOUT_TEST_TOKEN"), "to the idle colour")
    print("smoke verdict: 2 of 3 checks failed")
    sys.exit(int(sys.argv[2]))
    """)

SPAWNS = textwrap.dedent("""\
    import subprocess, sys, time
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    with open(sys.argv[1], "w") as out:
        out.write(str(child.pid))
    time.sleep(60)
    """)


@pytest.fixture
def parent_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    """What a CI job exports: AWS keys and a token, with a profile to opt in to."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAFAKEFAKEFAKEFAKE")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", AWS_SECRET)
    monkeypatch.setenv("AWS_SESSION_TOKEN", AWS_SECRET + "session")
    monkeypatch.setenv("GITHUB_TOKEN", CI_TOKEN)
    monkeypatch.setenv("AWS_PROFILE", "smoke-readonly")
    monkeypatch.setenv("SMOKE_USER", "qa-bot")


def command_hook(tmp_path: Path, code: int = 0, **settings: object) -> CommandHook:
    script = tmp_path / "dump.py"
    script.write_text(DUMP)
    command = f"{sys.executable} {script} {tmp_path / 'env.json'} {code}"
    [hook] = load_hooks(CohortHooks.model_validate(
        {"after_test_traffic": [{"name": "smoke", "command": command, **settings}]}), COHORT)
    assert isinstance(hook, CommandHook)
    return hook


def seen_environment(tmp_path: Path) -> dict[str, str]:
    environment: dict[str, str] = json.loads((tmp_path / "env.json").read_text())
    return environment


def logs(state_home: Path) -> list[Path]:
    return sorted((state_home / "tenant-rollout" / "hooks").glob("*.log"))


@pytest.mark.usefixtures("parent_secrets")
def test_the_command_gets_no_credential_of_the_parent(tmp_path: Path) -> None:
    assert command_hook(tmp_path).run(facts()).passed

    env = seen_environment(tmp_path)
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN",
                 "GITHUB_TOKEN", "AWS_PROFILE", "SMOKE_USER"):
        assert name not in env, name
    assert AWS_SECRET not in json.dumps(env) and CI_TOKEN not in json.dumps(env)
    assert env["AWS_SHARED_CREDENTIALS_FILE"] == os.devnull, "no ~/.aws either"
    assert env["AWS_EC2_METADATA_DISABLED"] == "true"
    assert env["PATH"] == os.environ["PATH"]


@pytest.mark.usefixtures("parent_secrets")
def test_names_in_env_are_inherited_and_an_aws_profile_gets_its_files(tmp_path: Path) -> None:
    assert command_hook(tmp_path, env=["AWS_PROFILE", "SMOKE_USER"]).run(facts()).passed

    env = seen_environment(tmp_path)
    assert (env["AWS_PROFILE"], env["SMOKE_USER"]) == ("smoke-readonly", "qa-bot")
    assert "AWS_SHARED_CREDENTIALS_FILE" not in env
    assert "AWS_SECRET_ACCESS_KEY" not in env


def test_the_command_is_told_the_rollout_and_the_test_route(tmp_path: Path) -> None:
    assert command_hook(tmp_path).run(facts("after_test_traffic")).passed

    env = seen_environment(tmp_path)
    assert {name: env[name] for name in env if name.startswith("ROLLOUT_")} == {
        "ROLLOUT_APP": "shop", "ROLLOUT_COHORT": "canary", "ROLLOUT_HOOK": "smoke",
        "ROLLOUT_STAGE": "after_test_traffic", "ROLLOUT_RELEASE": "1.5.0",
        "ROLLOUT_OLD_VERSION": "1.4.2", "ROLLOUT_OLD_COLOUR": "blue",
        "ROLLOUT_NEW_COLOUR": "green", "ROLLOUT_NEW_VERSION": "1.5.0",
        "ROLLOUT_STARTED_AT": "2026-03-02T09:00:00+00:00",
        "ROLLOUT_TEST_HEADER": HEADER, "ROLLOUT_TEST_TOKEN": TOKEN,
        "ROLLOUT_LISTENER_ARN": COHORT.listener_arn,
        "ROLLOUT_LOAD_BALANCER_ARN": COHORT.load_balancer_arn,
        "ROLLOUT_NEW_TARGET_GROUP_ARN": COHORT.target_group_arns["green"],
        "ROLLOUT_PARAM_PREFIX": "/shop/canary", "ROLLOUT_ARTEFACT_BUCKET": "shop-artefacts"}


def test_a_token_in_the_parent_never_stands_in_for_a_missing_test_route(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ROLLOUT_TEST_TOKEN", "stale-FAKE-token-of-another-run")
    assert command_hook(tmp_path, env=["ROLLOUT_TEST_TOKEN"]).run(facts(route=False)).passed

    env = seen_environment(tmp_path)
    assert "ROLLOUT_TEST_TOKEN" not in env and "ROLLOUT_TEST_HEADER" not in env


def test_a_failure_keeps_the_exit_code_the_private_log_and_a_redacted_tail(
        tmp_path: Path) -> None:
    state_home = Path(os.environ["XDG_STATE_HOME"])
    before = set(logs(state_home))

    outcome = command_hook(tmp_path, code=5).run(facts())

    [log] = sorted(set(logs(state_home)) - before)
    assert not outcome.passed
    assert "exited 5" in outcome.summary and str(log) in outcome.summary
    assert f"sending {REDACTED} to the idle colour" in outcome.summary
    assert "smoke verdict: 2 of 3 checks failed" in outcome.summary
    assert TOKEN not in outcome.summary
    assert log.name.startswith("shop-canary-smoke-")
    assert TOKEN in log.read_text(), "the private log keeps the output verbatim"
    assert stat.S_IMODE(log.stat().st_mode) == 0o600
    assert stat.S_IMODE(log.parent.stat().st_mode) == 0o700


def test_a_program_that_is_not_there_fails_naming_it() -> None:
    [hook] = load_hooks(CohortHooks.model_validate(
        {"before_allow_traffic": [{"command": "no-such-smoke-test --fast"}]}), COHORT)

    outcome = hook.run(facts("before_allow_traffic"))

    assert not outcome.passed
    assert outcome.summary.startswith("`no-such-smoke-test` not found")
    assert "before_allow_traffic-1" in outcome.summary


def process_gone(pid: int) -> bool:
    """No such process, or only its zombie left (killed, not yet reaped by init)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0]
    except FileNotFoundError:
        return True
    return state in ("Z", "X")


def test_a_hanging_command_is_killed_with_what_it_started(tmp_path: Path) -> None:
    script = tmp_path / "spawns.py"
    script.write_text(SPAWNS)
    pid_file = tmp_path / "child.pid"
    [hook] = load_hooks(CohortHooks.model_validate({"after_test_traffic": [
        {"command": f"{sys.executable} {script} {pid_file}", "timeout": "1s"}]}), COHORT)
    began = time.monotonic()

    outcome = hook.run(facts())

    assert time.monotonic() - began < 3
    assert not outcome.passed and "did not finish within 1 s" in outcome.summary
    child = int(pid_file.read_text())
    deadline = time.monotonic() + 2
    while not process_gone(child) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert process_gone(child), "the command's own child outlived the timeout"
