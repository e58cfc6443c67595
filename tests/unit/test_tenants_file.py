"""tenants.yaml: the shipped example loads, and every mistake names file, line and field."""

from __future__ import annotations

import gc
import textwrap
from datetime import timedelta
from pathlib import Path

import pytest

from rollout.cli import run
from rollout.errors import BadInput
from rollout.model.tenants import load_tenants

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "tenants.yaml"

GOOD = textwrap.dedent("""\
    defaults:
      windows: ["Sat 02:00-06:00"]
      freezes:
        - {name: year-end, from: "12-01", to: "02-28"}
    cohorts:
      - name: canary
        order: 1
      - name: wave1
        order: 2
        min_gap: 2d
    tenants:
      - id: acme
        cohort: canary
        timezone: Europe/Berlin
      - id: birch
        cohort: wave1
        timezone: Asia/Tokyo
        windows: ["Sun 02:00-06:00"]
    """)


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "tenants.yaml"
    path.write_text(text)
    return path


def test_the_example_shows_every_feature() -> None:
    tenants = load_tenants(EXAMPLE)
    assert [c.name for c in tenants.ordered_cohorts()] == ["canary", "wave1", "wave2"]
    assert [t.id for t in tenants.tenants] == [
        "acme-internal", "cobalt-bank", "birch-labs", "delta-retail", "ember-health",
        "fjord-shipping", "garnet-tax", "harbor-media", "iris-edu", "juniper-games"]
    zones = {t.timezone for t in tenants.tenants}
    assert {"Europe/Berlin", "America/New_York", "Asia/Tokyo"} <= zones
    garnet = tenants.tenant("garnet-tax")
    assert [(str(s.first), str(s.last)) for s in garnet.busy_seasons] == [("Mar 01", "Apr 15")]
    iris = tenants.tenant("iris-edu")
    assert iris.opt_out is not None and iris.opt_out.reason
    assert [str(f) for f in tenants.defaults.freezes] == [
        "year-end (Dec 01 to Feb 28)", "summer-shutdown (Aug 03 to Aug 14)"]
    assert str(tenants.defaults.windows[0]) == "Sat 02:00-06:00"
    assert tenants.cohort("wave1").min_gap == timedelta(days=2)
    assert tenants.cohort("wave1").slot_length == timedelta(hours=2)
    assert tenants.cohort("canary").security is not None


def test_a_good_file_loads(tmp_path: Path) -> None:
    tenants = load_tenants(write(tmp_path, GOOD))
    assert tenants.windows_of(tenants.tenant("acme")) == tuple(tenants.defaults.windows)
    assert str(tenants.windows_of(tenants.tenant("birch"))[0]) == "Sun 02:00-06:00"
    assert tenants.cohort("canary").stack_name == "canary"


@pytest.mark.parametrize(("old", "new", "where"), [
    ("timezone: Asia/Tokyo", "timezone: Mars/Olympus",
     ":17: tenants.1.timezone: unknown time zone 'Mars/Olympus'"),
    ('"Sun 02:00-06:00"', '"Sun 06:00-02:00"',
     ":18: tenants.1.windows.0: window 'Sun 06:00-02:00': end 02:00 is not after start 06:00"),
    ("cohort: wave1", "cohort: wave9",
     ":16: tenants.1.cohort: cohort 'wave9' is not defined (cohorts: canary, wave1)"),
    ("id: birch", "id: acme", ":15: tenants.1.id: duplicate tenant id 'acme'"),
    ('from: "12-01"', 'from: "13-01"', ":4: defaults.freezes.0.from: '13-01' is not a day"),
    ("min_gap: 2d", "min_gap: soon", ":10: cohorts.1.min_gap: 'soon' is not a duration"),
    ("order: 2", "order: 1", ":9: cohorts.1.order: order 1 is already used by cohort 'canary'"),
    ('windows: ["Sat 02:00-06:00"]', 'windows: ["Caturday 02:00-06:00"]',
     ":2: defaults.windows.0: window 'Caturday 02:00-06:00': 'Caturday' is not a day"),
    ("    order: 1\n", "    order: 1\n    strategy: zigzag\n",
     ":8: cohorts.0.strategy: unknown strategy 'zigzag'"),
])
def test_bad_input_names_file_line_and_field(tmp_path: Path, old: str, new: str,
                                            where: str) -> None:
    assert old in GOOD
    path = write(tmp_path, GOOD.replace(old, new, 1))
    with pytest.raises(BadInput) as caught:
        load_tenants(path)
    assert str(caught.value).startswith(f"{path}{where}")
    assert "\n" not in str(caught.value)


def test_plan_command_exits_2_on_bad_input(tmp_path: Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    path = write(tmp_path, GOOD.replace("timezone: Asia/Tokyo", "timezone: Asia/Atlantis"))
    code = run(["plan", "--release", "1.5.0", "--tenants", str(path)])
    assert code == 2
    assert f"{path}:17: tenants.1.timezone: unknown time zone 'Asia/Atlantis'" in \
        capsys.readouterr().err.replace("\n", "")


def test_plan_command_json_error_and_missing_file(tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    code = run(["plan", "--release", "1.5.0", "--tenants", str(tmp_path / "nope.yaml"),
                "--json"])
    assert code == 2
    assert '"exit_code": 2' in capsys.readouterr().out


def test_plan_command_rejects_a_bad_release_and_date(tmp_path: Path) -> None:
    path = write(tmp_path, GOOD)
    assert run(["plan", "--release", "one", "--tenants", str(path)]) == 2
    assert run(["plan", "--release", "1.5.0", "--tenants", str(path), "--from", "soon"]) == 2


FLEET_HEAD = textwrap.dedent("""\
    defaults:
      windows: ["Sat 02:00-06:00"]
    cohorts:
      - {name: canary, order: 1}
    tenants:
    """)


def fleet(tmp_path: Path, rows: list[str]) -> Path:
    """A tenants file whose tenant ``n`` (from 0) is on line 6 + n."""
    return write(tmp_path, FLEET_HEAD + "".join(
        f"  - {{id: t{n}, cohort: canary, {row}}}\n" for n, row in enumerate(rows)))


def test_a_mistake_many_tenants_repeat_is_reported_at_each_of_them(tmp_path: Path) -> None:
    """Windows and zones are read once per distinct text; a wrong one is wrong everywhere."""
    good, bad = 'windows: ["Sun 02:00-06:00"]', 'windows: ["Sun 06:00-02:00"]'
    path = fleet(tmp_path, [good, bad, good, bad, bad, good])
    with pytest.raises(BadInput) as caught:
        load_tenants(path)
    assert str(caught.value) == (
        f"{path}:7: tenants.1.windows.0: window 'Sun 06:00-02:00': end 02:00 is not after "
        "start 06:00 (write an overnight window as two windows) (and 2 more problems)")
    zones = ["timezone: Europe/Berlin", "timezone: Mars/Olympus", "timezone: Mars/Olympus"]
    with pytest.raises(BadInput) as caught:
        load_tenants(fleet(tmp_path, zones))
    assert str(caught.value).endswith(
        ":7: tenants.1.timezone: unknown time zone 'Mars/Olympus' (use an IANA name like "
        "Europe/Berlin or America/New_York) (and 1 more problem)")


def test_tenants_that_write_the_same_windows_read_the_same_windows(tmp_path: Path) -> None:
    rows = ['windows: ["Sat 01:00-07:00", "Sun 01:00-03:00"]',
            'windows: ["Sat 01:00-07:00", "Sun 01:00-03:00"]',
            'windows: [{days: [5], start: 60, end: 420}, "Sun 01:00-03:00"]',
            'windows: ["Sat 01:00-07:00"]', "timezone: UTC"]
    tenants = load_tenants(fleet(tmp_path, rows))
    read = [[str(w) for w in tenants.windows_of(t)] for t in tenants.tenants]
    assert read == [["Sat 01:00-07:00", "Sun 01:00-03:00"]] * 3 + [
        ["Sat 01:00-07:00"], ["Sat 02:00-06:00"]]


@pytest.mark.parametrize(("row", "problem"), [
    ('windows: "Sat 02:00-06:00"', "tenants.0.windows: Input should be a valid list"),
    ("windows: null", "tenants.0.windows: Input should be a valid list"),
    ("windows: [7]", "tenants.0.windows.0: Input should be a valid dictionary or instance "
                     "of Window"),
    ("busy_seasons: tax-season", "tenants.0.busy_seasons: Input should be a valid list"),
])
def test_windows_and_seasons_that_are_no_list_are_refused_as_before(
        tmp_path: Path, row: str, problem: str) -> None:
    path = fleet(tmp_path, [row])
    with pytest.raises(BadInput) as caught:
        load_tenants(path)
    assert str(caught.value) == f"{path}:6: {problem}"


@pytest.mark.parametrize("enabled", [True, False])
def test_loading_leaves_the_cycle_collector_as_it_found_it(tmp_path: Path,
                                                          enabled: bool) -> None:
    """Validation pauses the collector for speed; a caller's setting survives it."""
    was = gc.isenabled()
    (gc.enable if enabled else gc.disable)()
    try:
        load_tenants(write(tmp_path, GOOD))
        assert gc.isenabled() is enabled
        with pytest.raises(BadInput):
            load_tenants(write(tmp_path, GOOD.replace("Asia/Tokyo", "Mars/Olympus")))
        assert gc.isenabled() is enabled
    finally:
        (gc.enable if was else gc.disable)()
