"""``rollout plan`` needs no AWS: without a ledger it plans from ``tenants.yaml`` and says
once, on stderr, that recorded choices are not in it."""

from __future__ import annotations

from pathlib import Path

import pytest

from rollout.cli import run

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "tenants.yaml"


def test_plan_without_aws_says_choices_are_not_included(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    for name in ("ROLLOUT_APP", "AWS_ENDPOINT_URL", "AWS_ACCESS_KEY_ID", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    code = run(["--project-dir", str(tmp_path), "plan", "--release", "1.5.0", "--tenants",
                str(EXAMPLE), "--from", "2026-01-12", "--json"])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert '"release": "1.5.0"' in out
    assert err.strip().splitlines() == [
        "recorded customer choices are not included: no app is named"]
