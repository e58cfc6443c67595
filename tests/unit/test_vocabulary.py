"""The shared words: one duration grammar, one clock, one version grammar, everywhere."""

from __future__ import annotations

import textwrap
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from pydantic import BaseModel, ValidationError

from rollout.cli import run
from rollout.configcopy.store import stamp_time
from rollout.errors import BadInput
from rollout.model.release import ReleaseNotes
from rollout.model.stack import CohortStackConfig, parse_stack
from rollout.model.tenants import load_tenants
from rollout.schedule.plan import Slot, utc_text
from rollout.schedule.windows import local_time
from rollout.userfile import load_model
from rollout.vocabulary.clock import as_utc, utc_now
from rollout.vocabulary.durations import (
    Duration,
    Span,
    format_duration,
    human_duration,
    parse_duration,
)
from rollout.vocabulary.versions import checked_version, is_semver, newest_first, semver_key

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


# --- durations ----------------------------------------------------------------------------

@pytest.mark.parametrize(("text", "seconds"), [
    ("250ms", 0.25), ("90s", 90), ("5m", 300), ("1h", 3600), ("2d", 172800), ("1w", 604800),
    ("0.2s", 0.2), ("45", 45), (" 30m ", 1800), ("12 h", 43200),
])
def test_every_unit_reads_as_seconds(text: str, seconds: float) -> None:
    assert parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize("seconds", [0.25, 1, 59, 90, 300, 5400, 3600, 86400, 90000, 604800,
                                     1209600, 7776000])
def test_a_formatted_duration_reads_back_as_the_same_seconds(seconds: float) -> None:
    assert parse_duration(format_duration(seconds)) == pytest.approx(seconds)


def test_a_duration_is_said_in_its_largest_whole_unit() -> None:
    assert [format_duration(s) for s in (90, 300, 7200, 172800, 1209600, 0.25)] == [
        "90s", "5m", "2h", "2d", "2w", "0.25s"]
    assert [human_duration(s) for s in (45, 180, 7500, -3)] == [
        "45 s", "3 min", "2 h 5 min", "0 s"]


@pytest.mark.parametrize("text", ["", "soon", "-1s", "1y", "1.2.3s", "s", "5 m s", "1h30m"])
def test_a_bad_duration_is_bad_input_naming_what_it_was_for(text: str) -> None:
    with pytest.raises(BadInput) as caught:
        parse_duration(text, "--check-every")
    message = str(caught.value)
    assert message.startswith(f"--check-every {text!r} is not a duration like 30s, 5m")
    assert "\n" not in message


class _Settings(BaseModel):
    bake: Duration
    gap: Span


def test_file_fields_take_the_same_grammar_and_say_it_back() -> None:
    settings = _Settings(bake="5m", gap="2d")
    assert (settings.bake, settings.gap) == (300, timedelta(days=2))
    assert _Settings(bake=12, gap="90m").model_dump(mode="json") == {"bake": 12, "gap": "90m"}
    with pytest.raises(ValidationError, match="'fortnight' is not a duration like 30s"):
        _Settings(bake="1s", gap="fortnight")


def test_tenants_yaml_spans_use_the_one_grammar(tmp_path: Path) -> None:
    """A schedule gap of hours, days or weeks reads as before; seconds now read too."""
    path = tmp_path / "tenants.yaml"
    path.write_text(textwrap.dedent("""\
        defaults:
          windows: ["Sat 02:00-06:00"]
          max_deferral: 2w
        cohorts:
          - {name: canary, order: 1, min_gap: 36h}
          - {name: wave1, order: 2, min_gap: 1.5d, duration: 5400s}
        tenants:
          - {id: acme, cohort: canary, timezone: UTC}
        """))
    tenants = load_tenants(path)
    assert tenants.defaults.max_deferral == timedelta(weeks=2)
    assert tenants.cohort("canary").min_gap == timedelta(hours=36)
    assert tenants.cohort("wave1").min_gap == timedelta(hours=36)
    assert tenants.cohort("wave1").slot_length == timedelta(minutes=90)


# --- the clock -------------------------------------------------------------------------------

def test_a_naive_moment_is_utc_and_an_aware_one_is_converted() -> None:
    naive = datetime(2026, 3, 1, 9, 30)
    assert as_utc(naive) == datetime(2026, 3, 1, 9, 30, tzinfo=UTC)
    tokyo = datetime(2026, 3, 1, 18, 30, tzinfo=timezone(timedelta(hours=9)))
    converted = as_utc(tokyo)
    assert converted == datetime(2026, 3, 1, 9, 30, tzinfo=UTC)
    assert converted.utcoffset() == timedelta(0)
    assert utc_now().utcoffset() == timedelta(0)


@pytest.fixture
def tokyo_machine(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The process's local time zone is Asia/Tokyo, as on an operator's laptop there."""
    monkeypatch.setenv("TZ", "Asia/Tokyo")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


@pytest.mark.usefixtures("tokyo_machine")
def test_a_naive_moment_means_utc_whatever_the_machines_zone() -> None:
    naive = datetime(2026, 3, 1, 9, 0)
    assert utc_text(naive) == "2026-03-01 09:00 UTC"
    assert Slot(start=naive, end=naive + timedelta(hours=2)).describe() == (
        "2026-03-01 09:00-11:00 UTC")
    assert stamp_time(naive) == "2026-03-01T09:00:00+00:00"
    assert local_time(naive, "Europe/Berlin").isoformat() == "2026-03-01T10:00:00+01:00"


def test_plan_from_a_naive_time_means_utc(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["plan", "--release", "1.5.0", "--tenants", str(EXAMPLES / "tenants.yaml"),
                "--from", "2026-03-02T09:00", "--json"]) == 0
    assert '"planned_from": "2026-03-02T09:00:00Z"' in capsys.readouterr().out


# --- versions ---------------------------------------------------------------------------------

GOOD_VERSIONS = ["1.5.0", "0.0.1", "1.5.0-rc.1", "1.5.0-rc.1+b7", "1.5.0+build.5",
                 "10.20.30-alpha.beta-1"]
BAD_VERSIONS = ["01.5.0", "1.05.0", "1.5", "1.5.0-", "1.5.0-rc..1", "v1.5.0", "1.5.0\n",
                "1.5.0-01", " 1.5.0"]


def _release_yaml(tmp_path: Path, version: str) -> Path:
    path = tmp_path / "release.yaml"
    notes = (EXAMPLES / "release.yaml").read_text(encoding="utf-8")
    first = next(line for line in notes.splitlines() if line.startswith("version:"))
    path.write_text(notes.replace(first, f"version: {version!r}"), encoding="utf-8")
    return path


def _cohort_stack(version: str) -> dict[str, object]:
    return {"role": "cohort", "app": "acme", "cohort": "canary",
            "sharedStack": "organization/tenant-rollout/shared",
            "versions": {"blue": "1.4.2", "green": version}}


@pytest.mark.parametrize("version", GOOD_VERSIONS)
def test_a_good_version_is_accepted_everywhere(tmp_path: Path, version: str,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    assert checked_version(version, "--release") == version
    assert is_semver(version)
    assert load_model(_release_yaml(tmp_path, version), ReleaseNotes).version == version
    stack = parse_stack(_cohort_stack(version)).stack
    assert isinstance(stack, CohortStackConfig) and stack.versions["green"] == version
    assert newest_first([version, "0.0.0"]) == [version, "0.0.0"]
    assert run(["plan", "--release", version, "--tenants", str(EXAMPLES / "tenants.yaml"),
                "--from", "2026-03-02", "--json"]) == 0
    capsys.readouterr()


@pytest.mark.parametrize("version", BAD_VERSIONS)
def test_a_bad_version_is_refused_everywhere(tmp_path: Path, version: str,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(BadInput, match="--release"):
        checked_version(version, "--release")
    assert not is_semver(version)
    with pytest.raises(BadInput):
        semver_key(version)
    with pytest.raises(BadInput, match="version"):
        load_model(_release_yaml(tmp_path, version), ReleaseNotes)
    with pytest.raises(ValidationError, match=r"not a version like 1\.5\.0"):
        parse_stack(_cohort_stack(version))
    assert run(["plan", "--release", version, "--tenants", str(EXAMPLES / "tenants.yaml")]) == 2
    assert "is not a version like 1.5.0" in capsys.readouterr().err


def test_build_metadata_never_orders_releases() -> None:
    assert newest_first(["1.5.0+b7", "1.5.0-rc.1+b9", "1.10.0", "1.9.0"]) == [
        "1.10.0", "1.9.0", "1.5.0+b7", "1.5.0-rc.1+b9"]
