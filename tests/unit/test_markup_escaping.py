"""Text from users, tenants, AWS and gates prints as it is: never restyled, never a crash.

Rich reads ``[...]`` as markup; a security command that prints ``[/]`` would make
every later print of its reason raise ``MarkupError``. Each human-output function
here is fed :data:`MARKUP` in a value that can really carry it.
"""

from __future__ import annotations

import io
import re
from datetime import UTC, datetime
from pathlib import Path

import pytest
from rich.console import Console

from rollout.artefacts.retention import RetentionPlan
from rollout.artefacts.store import FileCheck, VerifyReport
from rollout.artefacts.usage import UseKind, VersionUse
from rollout.cli import run
from rollout.cli.live_progress import render
from rollout.cli.output import console
from rollout.cli.release_cmds import PruneResult, ReleaseListing, _show_listing, _show_prune
from rollout.cli.release_cmds import _show_report as show_verify
from rollout.cli.report_cmds import _print_summary
from rollout.gates.base import GateResult, Verdict
from rollout.local.demo import Story
from rollout.report.model import ReportSummary
from rollout.rollouts.executor import TickReport
from rollout.rollouts.progression import Advance
from rollout.rollouts.state import RolloutState, Status
from rollout.rollouts.strategy import Step

MARKUP = "[/] [link=http://x]y [bold]"
EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "tenants.yaml"


@pytest.fixture(autouse=True)
def wide(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tables wide enough that no value is wrapped across lines.

    The console was made when the CLI was first imported, maybe by another test, so
    its width is set on it rather than through ``COLUMNS``.
    """
    monkeypatch.setenv("COLUMNS", "400")
    monkeypatch.setattr(console, "_width", 400)


def test_plan_prints_an_opt_out_reason_as_written(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    text = EXAMPLE.read_text(encoding="utf-8")
    reason = "exams until the end of August; no changes before the new school year"
    assert reason in text
    tenants = tmp_path / "tenants.yaml"
    tenants.write_text(text.replace(reason, f'"{MARKUP}"'), encoding="utf-8")
    code = run(["plan", "--release", "1.5.0", "--tenants", str(tenants),
                "--from", "2026-01-12"])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert f"excluded (opted-out): opted out until 2027-09-01: {MARKUP} FLAG: " in out
    assert "\\[" not in out, "escaped for markup, then printed without it"
    assert out.startswith("Plan for release 1.5.0 from") and "[bold red]" not in out
    assert re.search(r"^2 item\(s\) need a decision:$", out, re.MULTILINE)


def test_release_verify_prints_file_names_and_problems_as_written(
        capsys: pytest.CaptureFixture[str]) -> None:
    name = f"app{MARKUP}.tar.gz"
    report = VerifyReport(app="a", version="1.5.0", bucket="b", files=[
        FileCheck(name=name, key=f"releases/a/1.5.0/{name}", expected_sha256="ab" * 32,
                  actual_sha256="ab" * 32, published_version_id="1", current_version_id="1"),
        FileCheck(name="other", key="k", expected_sha256="cd" * 32, actual_sha256=None,
                  published_version_id="1", current_version_id="2",
                  problem=f"other: changed since publishing: {MARKUP}")])
    show_verify(report)
    lines = capsys.readouterr().out.splitlines()
    assert lines == [f"ok       {name}  sha256 {'ab' * 32}",
                     f"MISMATCH other: changed since publishing: {MARKUP}"]


def test_release_list_and_prune_print_what_the_store_and_ledger_say_as_written(
        capsys: pytest.CaptureFixture[str]) -> None:
    _show_listing([ReleaseListing(version="1.5.0", created_at="2026-01-12 09:00 UTC",
                                  publisher=f"arn:aws:iam::1:user/{MARKUP}", files=1, size=10,
                                  in_use=[])])
    _show_prune(PruneResult(dry_run=True, deleted=[], deleted_objects=0, plan=RetentionPlan(
        keep_newest=1, decisions=[], not_in_store=[
            VersionUse(version=MARKUP, cohort="canary", kind=UseKind.ROLLBACK_TARGET)])))
    out, err = capsys.readouterr()
    assert out.splitlines()[0] == (f"1.5.0  published 2026-01-12 09:00 UTC by "
                                   f"arn:aws:iam::1:user/{MARKUP}, 1 file(s), 10 B")
    assert err.strip() == (f"warning: {MARKUP} is not in the store (rollback target of "
                           "canary): a rollback to it cannot be restored from the store")


def test_a_config_command_s_error_prints_as_written(capsys: pytest.CaptureFixture[str]) -> None:
    """Config commands raise their errors; the CLI prints them, escaped, in one place."""
    assert run(["config", "diff", "--cohort", "canary", "--from", MARKUP, "--to", "green"]) == 2
    assert capsys.readouterr().err.strip() == (
        f"error: --from: unknown colour {MARKUP!r} (colours: blue, green)")


def test_report_summary_prints_the_path_as_written(capsys: pytest.CaptureFixture[str]) -> None:
    path = f"/tmp/{MARKUP}.html"
    _print_summary(ReportSummary(path=path, app="a", generated_at=datetime.now(UTC),
                                 cohorts=[], tenants=0, tenants_per_version={}, pinned=[]))
    assert capsys.readouterr().out.splitlines()[0] == (
        f"report written to {path}: 0 cohort(s), 0 tenant(s), 0 event(s), 0 rollback(s)")


def _state(reason: str) -> RolloutState:
    now = datetime.now(UTC)
    return RolloutState(
        cohort="canary", release="1.5.0", old_version="1.4.2", old_colour="blue",
        new_colour="green", strategy="canary:10:30m",
        steps=[Step(weight=10, bake_seconds=1800), Step(weight=100, bake_seconds=1800)],
        step_index=0, weights={"blue": 90, "green": 10}, status=Status.ROLLED_BACK,
        reason=reason, started_at=now, updated_at=now,
        versions={"blue": "1.4.2", "green": "1.5.0"}, last_known_good="1.4.2")


@pytest.mark.parametrize("markup", [False, True], ids=["cli-console", "markup-console"])
def test_the_live_display_prints_gate_reasons_as_written(markup: bool) -> None:
    """The security gate's reason quotes its command's output."""
    buffer = io.StringIO()
    out = Console(file=buffer, width=400, markup=markup, highlight=False)
    gate = GateResult(gate="security", verdict=Verdict.FAIL,
                      reason=f"security command said: {MARKUP}")
    step = Advance(index=0, weights={"blue": 90, "green": 10})
    out.print(render(TickReport(_state(f"rolled back: {MARKUP}"), step, [gate], 0.0)))
    text = buffer.getvalue()
    assert f"gate security: fail: security command said: {MARKUP}" in text
    assert f"rolled back: {MARKUP}" in text


def test_the_demo_says_its_lines_as_written(tmp_path: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    story = Story(tmp_path, tmp_path / "report.html", console, quiet=False)
    story.chapter(f"7a. {MARKUP}")
    story.say(f"  refused (exit code 3): {MARKUP}")
    assert capsys.readouterr().out == f"\n== 7a. {MARKUP}\n  refused (exit code 3): {MARKUP}\n"
    buffer = io.StringIO()
    Story(tmp_path, tmp_path / "report.html", Console(file=buffer, markup=True),
          quiet=False).say(MARKUP)
    assert buffer.getvalue() == MARKUP + "\n"
