"""The example GitHub Actions pipeline: schema-valid, and wired the way the README promises.

Lint: check-jsonschema's bundled GitHub workflow schema (offline, no download),
plus the structural checks actionlint would make for this file (``needs`` and
``inputs`` referenced exist, step outputs come from a step with that id), plus
the pipeline's own contract: one job per cohort in order, approval environments,
a concurrency group per cohort, the rollback job, and the `rollout` command lines
parse against the real CLI where this repository defines them.
"""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import typer
import yaml

WORKFLOW = Path(__file__).resolve().parents[2] / "examples" / "ci" / "rollout.yml"
COHORTS = ["canary", "wave1", "wave2"]


@pytest.fixture(scope="module")
def workflow() -> dict[str, Any]:
    data = yaml.safe_load(WORKFLOW.read_text())
    assert isinstance(data, dict)
    data["on"] = data.pop(True, data.get("on"))  # YAML 1.1 reads the key `on` as True
    return data


def run_lines(job: dict[str, Any]) -> list[str]:
    """Every `rollout ...` command of a job, in order, continuation lines joined."""
    lines: list[str] = []
    for step in job["steps"]:
        for line in step.get("run", "").replace("\\\n", " ").splitlines():
            if line.strip().startswith("rollout "):
                lines.append(line.strip())
    return lines


def test_the_workflow_passes_the_github_workflow_schema() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "check_jsonschema", "--builtin-schema", "vendor.github-workflows",
         str(WORKFLOW)], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "ok -- validation done" in done.stdout


def test_the_schema_check_does_catch_a_broken_workflow(tmp_path: Path) -> None:
    broken = tmp_path / "broken.yml"
    broken.write_text(WORKFLOW.read_text().replace("runs-on:", "run-on:", 1))
    done = subprocess.run(
        [sys.executable, "-m", "check_jsonschema", "--builtin-schema", "vendor.github-workflows",
         str(broken)], capture_output=True, text=True, check=False)
    assert done.returncode == 1
    assert "jobs.canary" in done.stdout


def test_one_job_per_cohort_in_order_then_rollback(workflow: dict[str, Any]) -> None:
    jobs = workflow["jobs"]
    assert list(jobs) == [*COHORTS, "rollback"]
    assert "needs" not in jobs["canary"]
    assert jobs["wave1"]["needs"] == "canary"
    assert jobs["wave2"]["needs"] == "wave1"


def test_each_cohort_job_runs_the_pipeline_steps_in_order(workflow: dict[str, Any]) -> None:
    for index, cohort in enumerate(COHORTS):
        lines = run_lines(workflow["jobs"][cohort])
        kinds = [" ".join(shlex.split(line)[1:3]) for line in lines]
        expected = ["stacks up", "config copy", "start --cohort"]
        if index > 0:
            expected.insert(0, "promote --from")
            assert f"--from {COHORTS[index - 1]} --to {cohort}" in lines[0]
        assert kinds == expected, cohort
        assert all(f"--cohort {cohort}" in line for line in lines if "--cohort" in line)
        assert "--wait" in lines[-1]


def test_waves_wait_for_approval_in_their_environment(workflow: dict[str, Any]) -> None:
    assert [workflow["jobs"][c]["environment"] for c in COHORTS] == COHORTS


def test_every_cohort_has_its_own_non_cancelling_concurrency_group(workflow: dict[str, Any],
                                                                    ) -> None:
    groups = [workflow["jobs"][c]["concurrency"] for c in COHORTS]
    assert [g["group"] for g in groups] == [f"rollout-{c}" for c in COHORTS]
    assert all(g["cancel-in-progress"] is False for g in groups)


def test_the_rollback_job_is_a_manual_dispatch_that_never_queues_behind_a_rollout(
        workflow: dict[str, Any]) -> None:
    dispatch = workflow["on"]["workflow_dispatch"]["inputs"]
    assert dispatch["action"]["options"] == ["rollout", "rollback"]
    assert dispatch["rollback_cohort"]["options"] == COHORTS
    rollback = workflow["jobs"]["rollback"]
    assert rollback["if"] == "inputs.action == 'rollback'"
    assert all(workflow["jobs"][c].get("if", "inputs.action == 'rollout'")
               == "inputs.action == 'rollout'" for c in COHORTS)
    assert rollback["concurrency"]["group"] == "rollback-${{ inputs.rollback_cohort }}"
    assert run_lines(rollback) == ['rollout rollback --cohort "$COHORT" --reason "$REASON"']


def test_expressions_only_reference_what_exists(workflow: dict[str, Any]) -> None:
    inputs = set(workflow["on"]["workflow_dispatch"]["inputs"])
    for name, job in workflow["jobs"].items():
        text = yaml.safe_dump(job)
        needs = job.get("needs", [])
        needs = {needs} if isinstance(needs, str) else set(needs)
        step_ids = {step.get("id") for step in job["steps"]}
        for expression in re.findall(r"\$\{\{(.*?)\}\}", text):
            for used in re.findall(r"inputs\.(\w+)", expression):
                assert used in inputs, f"{name}: unknown input {used}"
            for used in re.findall(r"needs\.(\w+)", expression):
                assert used in needs, f"{name}: needs.{used} without needs"
            for used in re.findall(r"steps\.(\w+)\.outputs", expression):
                assert used in step_ids, f"{name}: no step with id {used}"


def test_untrusted_values_reach_shell_commands_only_through_env(workflow: dict[str, Any],
                                                                ) -> None:
    for job in workflow["jobs"].values():
        for step in job["steps"]:
            assert "${{" not in step.get("run", ""), step.get("name")


def test_the_stacks_command_lines_parse_against_the_real_cli(workflow: dict[str, Any]) -> None:
    from rollout.cli import _register_commands, app

    _register_commands()
    command: Any = typer.main.get_command(app)
    lines = [line for job in workflow["jobs"].values() for line in run_lines(job)
             if line.startswith("rollout stacks")]
    assert len(lines) == len(COHORTS)
    for line in lines:
        argv = shlex.split(line.split(">")[0])[1:]
        sub = command.commands["stacks"].commands[argv[1]]
        context = sub.make_context("up", argv[2:])
        assert context.params["version"] == "$RELEASE"
        assert context.params["as_json"] is True


USES = re.compile(r"^\s*(?:-\s+)?uses:\s*(?P<ref>\S+)(?P<comment>.*)$")
PINNED = re.compile(r"^[\w.-]+/[\w./-]+@[0-9a-f]{40}$")
VERSION_COMMENT = re.compile(r"^\s+#\s+v\d+\.\d+\.\d+\s*$")
TOKEN = "PULUMI_ACCESS_TOKEN"


def runs_pulumi(step: dict[str, Any]) -> bool:
    """A step that needs the Pulumi backend: a deploy (`rollout stacks up`) or pulumi itself."""
    run = step.get("run", "")
    return "rollout stacks up" in run or "--to-version" in run or re.search(
        r"(^|\s)pulumi\s", run) is not None


def test_every_action_is_pinned_by_a_full_commit_sha_with_its_version() -> None:
    """A tag can be moved to other code after review; a commit SHA cannot."""
    lines = [line for line in WORKFLOW.read_text().splitlines() if USES.match(line)]
    assert lines
    for line in lines:
        match = USES.match(line)
        assert match is not None
        assert PINNED.match(match["ref"]), f"not pinned by commit SHA: {line.strip()}"
        assert VERSION_COMMENT.match(match["comment"]), f"no `# vX.Y.Z` comment: {line.strip()}"


def test_the_pulumi_token_reaches_only_the_steps_that_deploy(workflow: dict[str, Any]) -> None:
    """Every other step (pip install, actions, config copy, start) runs without the token."""
    assert TOKEN not in workflow.get("env", {}), "workflow-wide env"
    deploys = 0
    for name, job in workflow["jobs"].items():
        assert TOKEN not in job.get("env", {}), f"job {name}: job-wide env"
        for step in job["steps"]:
            label = f"job {name}, step {step.get('name', step.get('uses'))!r}"
            if runs_pulumi(step):
                deploys += 1
                assert step.get("env", {}).get(TOKEN) == "${{ secrets.PULUMI_ACCESS_TOKEN }}", label
            else:
                assert TOKEN not in yaml.safe_dump(step), label
    assert deploys == len(COHORTS)


def test_the_deploy_jobs_install_the_toolkit_from_the_hashed_lock(workflow: dict[str, Any],
                                                                  ) -> None:
    """What runs with the deploy role and the Pulumi token is what `make` tests: the lock."""
    for name, job in workflow["jobs"].items():
        installs = [line for step in job["steps"]
                    for line in step.get("run", "").replace("\\\n", " ").splitlines()
                    if "pip install" in line]
        assert installs, name
        assert any("--require-hashes" in line and "-r requirements/lock.txt" in line
                   and "--only-binary :all:" in line for line in installs), name
        for line in installs:
            words = line.split()
            assert "--require-hashes" in words or {"--no-deps", "--no-build-isolation"} <= set(
                words), f"{name}: {line.strip()}"


def test_the_pulumi_cli_is_the_version_the_lock_pins_for_the_sdk(workflow: dict[str, Any],
                                                                 ) -> None:
    lock = (Path(__file__).resolve().parents[2] / "requirements" / "lock.txt").read_text()
    pinned = re.search(r"^pulumi==(\S+)", lock, re.MULTILINE)
    assert pinned, "pulumi is not in requirements/lock.txt"
    for name, job in workflow["jobs"].items():
        for step in job["steps"]:
            if step.get("uses", "").startswith("pulumi/actions@"):
                assert step.get("with", {}).get("pulumi-version") == pinned[1], (
                    f"job {name}: the Pulumi CLI is not pinned to {pinned[1]}, the SDK's lock")
