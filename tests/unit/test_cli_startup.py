"""``rollout --help`` imports no AWS SDK, no Pulumi and no service: help must be instant.

A person typing ``rollout`` or a CI job calling it pays for every module the CLI
imports before it can print a line; ``bench/startup.py`` times that, this test pins
down why it is fast: the heavy modules are never imported for help, while the help
still lists every command. Each help runs in a fresh interpreter, which then reports
what it imported.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]

HELP_THEN_MODULES = """
import contextlib, io, json, sys
from rollout.cli import run
out = io.StringIO()
with contextlib.redirect_stdout(out):
    code = run(json.loads(sys.argv[1]))
print(json.dumps({"code": code, "help": out.getvalue(), "modules": sorted(sys.modules)}))
"""

NOT_FOR_HELP = ("boto3", "botocore", "pulumi", "pulumi_aws", "moto", "rollout.model.stack",
                "rollout.rollouts.executor", "rollout.discovery")
"""The AWS SDK, Pulumi, moto, the stack config model, the executor and discovery."""

TOP_LEVEL = ("plan", "notify", "report", "start", "step", "resume", "promote", "rollback",
             "abort", "pin", "status", "iam-policy", "demo", "config", "release", "stacks",
             "local")
HELPS: dict[str, tuple[list[str], tuple[str, ...]]] = {
    "rollout --help": (["--help"], TOP_LEVEL),
    "rollout status --help": (["status", "--help"], ("--cohort", "--json")),
    "rollout config --help": (["config", "--help"], ("diff", "copy", "carry-back")),
    "rollout notify --help": (["notify", "--help"], ("--channel", "--webhook-url-file")),
}


@pytest.fixture(scope="module")
def helps() -> dict[str, dict[str, Any]]:
    """Each help's exit code, text and imported modules, from its own interpreter."""
    env = {**os.environ, "COLUMNS": "400"}
    seen: dict[str, dict[str, Any]] = {}
    for name, (argv, _) in HELPS.items():
        done = subprocess.run([sys.executable, "-c", HELP_THEN_MODULES, json.dumps(argv)],
                              cwd=ROOT, env=env, capture_output=True, text=True, check=True,
                              timeout=60)
        seen[name] = json.loads(done.stdout.strip().splitlines()[-1])
    return seen


def _heavy(modules: list[str]) -> list[str]:
    return sorted(m for m in modules
                  if any(m == heavy or m.startswith(heavy + ".") for heavy in NOT_FOR_HELP))


@pytest.mark.parametrize("name", HELPS)
def test_help_imports_no_sdk_pulumi_or_service(helps: dict[str, dict[str, Any]],
                                               name: str) -> None:
    assert _heavy(helps[name]["modules"]) == [], f"`{name}` imported heavy modules"


@pytest.mark.parametrize("name", ["rollout --help", "rollout status --help"])
def test_help_loads_no_pydantic_and_no_yaml(helps: dict[str, dict[str, Any]], name: str) -> None:
    """The CLI's own modules load neither for help, and the root group processes no
    option typer would coerce through pydantic (its global options are read by run())."""
    assert [m for m in helps[name]["modules"] if m in ("pydantic", "yaml")] == []


def test_the_top_level_help_names_the_global_options(helps: dict[str, dict[str, Any]]) -> None:
    text = " ".join(helps["rollout --help"]["help"].split())
    assert "--app NAME (or $ROLLOUT_APP" in text
    assert "--project-dir DIR (or $ROLLOUT_PROJECT_DIR" in text


@pytest.mark.parametrize("argv", [["--app", "acme", "--project-dir", "/srv/p", "status"],
                                  ["--project-dir=/srv/p", "--app=acme", "status"]])
def test_global_options_are_read_before_the_command(argv: list[str]) -> None:
    from rollout.cli import take_global_options

    assert take_global_options(argv) == ("acme", Path("/srv/p"), ["status"])


def test_global_options_fall_back_on_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    from rollout.cli import take_global_options

    monkeypatch.setenv("ROLLOUT_APP", "from-env")
    monkeypatch.delenv("ROLLOUT_PROJECT_DIR", raising=False)
    assert take_global_options(["status", "--app", "late"]) == (
        "from-env", None, ["status", "--app", "late"])


def test_a_global_option_without_its_value_is_bad_input(
        capsys: pytest.CaptureFixture[str]) -> None:
    from rollout.cli import run

    assert run(["--app", "--json", "status"]) == 2
    assert "--app needs a value" in capsys.readouterr().err


@pytest.mark.parametrize("name", HELPS)
def test_help_still_lists_every_command(helps: dict[str, dict[str, Any]], name: str) -> None:
    shown = helps[name]
    assert shown["code"] == 0
    lines = shown["help"].splitlines()
    for item in HELPS[name][1]:
        assert any(line.strip("│ ").startswith(item + " ") for line in lines), \
            f"`{name}` does not list {item}:\n{shown['help']}"


def test_notify_help_names_the_variables_the_webhook_is_read_from(
        helps: dict[str, dict[str, Any]]) -> None:
    """The help spells the variables out (the notifier is not imported for help): the
    names it shows must be the ones the command reads."""
    from rollout.notify.webhook import ALLOW_HOSTS_ENV, URL_ENV

    text = helps["rollout notify --help"]["help"]
    assert f"default: ${URL_ENV})" in text
    assert f"Internal hosts must be named in ${ALLOW_HOSTS_ENV}." in text
