"""Hypothesis-made bad input: every answer is exit 0 or 2, never a traceback; 2 writes nothing.

Files a user writes (``tenants.yaml``, ``release.yaml``, ``Pulumi.<stack>.yaml``) are
a valid document with one to three random mutations (a key dropped, a value
replaced by something of another type or shape, an unknown key added), or plain
garbage text. Command lines are real commands with at least one bad value.
Commands run in-process through :func:`rollout.cli.run` (an exception escaping it
is what a user would see as a traceback), and every AWS call the toolkit makes is
counted through a botocore hook, with a snapshot of what the fleet holds as a
second witness for writes made outside this process.
"""

from __future__ import annotations

import json
import os
import tempfile
import textwrap
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import boto3
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.cli_runner import rollout_output
from tests.conftest import listener_weights, stack_yaml
from tests.faults.client_hooks import WriteCounter
from tests.faults.conftest import SharedApp
from tests.faults.scenario import RELEASE, Scenario
from tests.releases import EXAMPLE_NOTES

pytestmark = pytest.mark.integration

SCALE = float(os.environ.get("ROLLOUT_FUZZ_SCALE", "1"))
"""Multiply every example count, e.g. ``ROLLOUT_FUZZ_SCALE=20`` for a long hunt."""


def fuzz(examples: int) -> settings:
    """Modest counts keep the file under 30 s; a file costs ~0.35 s, a command line ~0.1 s."""
    return settings(max_examples=max(1, int(examples * SCALE)), deadline=None, database=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


COHORT = "fuzzy"
TENANTS = ("fig", "fir")
LOCK_WRITES = {"dynamodb:PutItem", "dynamodb:DeleteItem"}


@dataclass
class Answer:
    code: int
    stdout: str
    stderr: str
    writes: list[str]


@dataclass
class Stage:
    """The fuzzed fleet and the files every command needs besides the fuzzed one."""

    scenario: Scenario
    files: Path
    empty_tenants: Path
    artefact: Path

    def ask(self, argv: list[str], *, global_options: bool = True) -> Answer:
        """Run a command in-process, counting the AWS writes it makes."""
        counter = WriteCounter()
        prefix = self.scenario.globals() if global_options else []
        with counter.counting() as writes:
            done = rollout_output(*prefix, *argv)
        return Answer(done.code, done.stdout, done.stderr, list(writes))

    def inventory(self) -> dict[str, Any]:
        """What the fleet holds, read with plain boto3: any write changes it."""
        resources = self.scenario.resources
        dynamodb, s3 = boto3.client("dynamodb"), boto3.client("s3")
        ledger = dynamodb.scan(TableName=resources.ledger_table, Select="COUNT",
                               ConsistentRead=True)["Count"]
        params = boto3.client("ssm").get_paginator("describe_parameters").paginate(
            ParameterFilters=[{"Key": "Path", "Option": "Recursive",
                               "Values": [resources.param_prefix]}])
        versions = s3.list_object_versions(Bucket=resources.artefact_bucket)
        rules = boto3.client("elbv2").describe_rules(ListenerArn=resources.listener_arn)
        return {
            "ledger items": ledger,
            "weights": listener_weights(resources),
            "rules": len(rules["Rules"]),
            "parameters": sorted(p["Name"] for page in params for p in page["Parameters"]),
            "artefacts": len(versions.get("Versions", [])),
            "tables": len(dynamodb.list_tables()["TableNames"]),
            "buckets": len(s3.list_buckets()["Buckets"]),
            "load balancers": len(boto3.client("elbv2").describe_load_balancers()
                                  ["LoadBalancers"]),
        }


@pytest.fixture(scope="module")
def stage(shared_app: SharedApp, tmp_path_factory: pytest.TempPathFactory) -> Stage:
    scenario = shared_app.scenario(COHORT, TENANTS, marker="fuzz")
    files = tmp_path_factory.mktemp("fuzz-files")
    empty = files / "no-tenants.yaml"
    empty.write_text(yaml.safe_dump({**valid_tenants(), "tenants": []}))
    artefact = files / "app.tar.gz"
    artefact.write_bytes(b"not really a tarball, but bytes to publish")
    return Stage(scenario, files, empty, artefact)


def assert_answered(answer: Answer, allowed: tuple[int, ...] = (0, 2)) -> None:
    """A clean answer: an allowed exit code, no traceback, one line of error on exit 2."""
    assert answer.code in allowed, (answer.code, answer.stdout, answer.stderr)
    assert "Traceback" not in answer.stderr + answer.stdout
    if answer.code == 2 and answer.stdout.strip().startswith("{"):
        error = json.loads(answer.stdout)["error"]
        assert error.strip() and "\n" not in error.strip(), error


def assert_wrote_nothing(answer: Answer) -> None:
    assert answer.writes == [], f"exit 2 after AWS writes {answer.writes}: {answer.stdout}"


# ------------------------------------------------------------------ documents
def valid_tenants() -> dict[str, Any]:
    return {
        "defaults": {"notice_days": 0, "windows": ["daily 00:00-24:00"], "timezone": "UTC",
                     "max_deferral": "90d", "reply_to": "ops@acme.example",
                     "freezes": [{"name": "year-end", "from": "12-20", "to": "01-05"}]},
        "cohorts": [{"name": COHORT, "order": 1, "strategy": "canary:10:5m",
                     "sla_target": 99.5, "min_gap": "1d",
                     "gates": [{"kind": "alarm", "alarms": ["api-5xx"]}],
                     "router": {"kind": "alb"}}],
        "tenants": [
            {"id": "fig", "cohort": COHORT, "timezone": "Europe/Berlin",
             "windows": ["Sat 02:00-06:00", "Mon-Fri 22:00-23:30"],
             "busy_seasons": [{"name": "tax", "from": "Mar 01", "to": "Apr 15"}],
             "opt_out": {"until": "2099-01-01", "reason": "audit"},
             "contact": "it@fig.example", "host": "fig.example", "notice_days": 3},
            {"id": "fir", "cohort": COHORT},
        ],
    }


def valid_notes() -> dict[str, Any]:
    return yaml.safe_load(EXAMPLE_NOTES.read_text())  # type: ignore[no-any-return]


def valid_stack(app: str) -> dict[str, Any]:
    return yaml.safe_load(stack_yaml(app, COHORT, list(TENANTS)))  # type: ignore[no-any-return]


NASTY_TEXT = st.sampled_from([
    "", " ", "\t", "~", "null", "yes", "0", "-1", "1e999", "NaN", "::", "a:b:c", "../../etc",
    "Sat 25:00-26:00", "Mon-Fri 06:00-02:00", "daily", "Mars/Olympus", "02-30", "13-01",
    "canary:0:1s", "linear:100:5m", "file:/nonexistent.yaml", "9" * 40, "ünïcödé", "💥",
    "1.5.0", "v1.5.0", "%s%n", "{{x}}", "\\x00", "x" * 300,
])
NASTY = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(-(10**15), 10**15),
              st.floats(allow_nan=True, allow_infinity=True), NASTY_TEXT,
              st.text(max_size=20), st.dates(min_value=date(1, 1, 1))),
    lambda inner: st.one_of(st.lists(inner, max_size=3),
                            st.dictionaries(st.text(max_size=8), inner, max_size=3)),
    max_leaves=6)


def paths_of(doc: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every key path in a document, containers included."""
    found = [prefix] if prefix else []
    if isinstance(doc, dict):
        for key, value in doc.items():
            found += paths_of(value, (*prefix, key))
    elif isinstance(doc, list):
        for index, value in enumerate(doc):
            found += paths_of(value, (*prefix, index))
    return found


def mutate(doc: Any, path: tuple[Any, ...], how: str, value: Any) -> Any:
    """``doc`` with the value at ``path`` replaced, dropped, or given an unknown sibling."""
    if not path:
        return value
    head, rest = path[0], path[1:]
    if isinstance(doc, dict):
        copy = dict(doc)
        if rest and head in copy:
            copy[head] = mutate(copy[head], rest, how, value)
        elif how == "drop":
            copy.pop(head, None)
        elif how == "extra":
            copy[f"unexpected_{head}"] = value
        else:
            copy[head] = value
        return copy
    if isinstance(doc, list) and isinstance(head, int) and head < len(doc):
        items = list(doc)
        if rest:
            items[head] = mutate(items[head], rest, how, value)
        elif how == "drop":
            items.pop(head)
        elif how == "extra":
            items.append(items[head])
        else:
            items[head] = value
        return items
    return doc


@st.composite
def documents(draw: st.DrawFn, make: Callable[[], dict[str, Any]]) -> str:
    """YAML text: a valid document with 1-3 mutations, or now and then plain garbage."""
    if draw(st.integers(0, 9)) == 0:
        return draw(st.one_of(st.text(max_size=200), st.sampled_from(
            ["", "---\n", "- a\n- b\n", "key: [unclosed\n", "a: b\n  c: d\n",
             "!!python/object:os.system {}\n", "\x00\x01", "defaults: &a\n  <<: *a\n"])))
    doc: Any = make()
    for _ in range(draw(st.integers(1, 3))):
        paths = paths_of(doc)
        if not paths:
            break
        path = draw(st.sampled_from(paths))
        how = draw(st.sampled_from(["replace", "replace", "drop", "extra"]))
        doc = mutate(doc, path, how, draw(NASTY))
    return yaml.safe_dump(doc, allow_unicode=True, sort_keys=False)


def write(stage: Stage, name: str, text: str) -> Path:
    handle, path = tempfile.mkstemp(prefix=name, suffix=".yaml", dir=stage.files)
    os.close(handle)
    Path(path).write_text(text, encoding="utf-8")
    return Path(path)


# --------------------------------------------------------------------- tests
@fuzz(20)
@given(text=documents(valid_tenants))
def test_fuzzed_tenants_files_exit_0_or_2_and_exit_2_writes_nothing(
        stage: Stage, text: str) -> None:
    tenants = write(stage, "tenants", text)
    planned = stage.ask(["plan", "--release", RELEASE, "--tenants", str(tenants), "--json"])
    assert_answered(planned)
    assert_wrote_nothing(planned)
    # a release the idle colour does not run: a valid file is refused with 3, before any
    # write but the lock; a bad one with 2 and no write at all
    started = stage.ask(["start", "--cohort", COHORT, "--release", "9.9.9", "--tenants",
                         str(tenants), "--json"])
    assert_answered(started, (2, 3))
    if started.code == 2:
        assert_wrote_nothing(started)
    else:
        assert set(started.writes) <= LOCK_WRITES, started.writes
    if planned.code == 2:
        notified = stage.ask(["notify", "--release", RELEASE, "--tenants", str(tenants),
                              "--notes", str(EXAMPLE_NOTES), "--json"])
        assert_answered(notified, (2,))
        assert_wrote_nothing(notified)


@fuzz(20)
@given(text=documents(valid_notes))
def test_fuzzed_release_notes_exit_0_or_2_and_exit_2_writes_nothing(
        stage: Stage, text: str) -> None:
    notes = write(stage, "release", text)
    notified = stage.ask(["notify", "--release", RELEASE, "--tenants",
                          str(stage.empty_tenants), "--notes", str(notes), "--json"])
    assert_answered(notified)
    if notified.code == 0:
        return
    assert_wrote_nothing(notified)
    published = stage.ask(["release", "publish", "--version", RELEASE, "--notes", str(notes),
                           str(stage.artefact), "--json"])
    assert_answered(published, (2,))
    assert_wrote_nothing(published)


@fuzz(10)
@given(text=documents(lambda: valid_stack("fuzzapp")))
def test_fuzzed_stack_configs_exit_0_or_2_and_exit_2_writes_nothing(
        stage: Stage, text: str) -> None:
    project = Path(tempfile.mkdtemp(prefix="stack", dir=stage.files))
    config = project / f"Pulumi.{COHORT}.yaml"
    config.write_text(text, encoding="utf-8")
    preview = stage.ask(["--project-dir", str(project), "stacks", "preview", "--cohort", COHORT,
                         "--version", RELEASE, "--local", "--json"], global_options=False)
    assert_answered(preview)
    assert_wrote_nothing(preview)
    if preview.code == 0:
        return
    before = stage.inventory()
    deployed = stage.ask(["--project-dir", str(project), "local", "up", "--cohort", COHORT,
                          "--stack-config", str(config), "--json"], global_options=False)
    assert_answered(deployed, (2,))
    assert_wrote_nothing(deployed)
    assert stage.inventory() == before


# ------------------------------------------------------------ command lines
BAD = {
    "cohort": st.sampled_from(["nope", "UPPER", "../wave1", "fuzzy ", "ça"]),
    "version": st.sampled_from(["1.5", "v1.5.0", "", "latest", "1.5.0.0", "1.5.0 ", "1..0"]),
    "strategy": st.sampled_from(["linear:0:5m", "linear:150:1m", "canary:x:1s", "bogus",
                                 "linear:20", "file:missing-steps.yaml", "canary:10:forever"]),
    "duration": st.sampled_from(["", "fast", "-1s", "1y", "1.2.3s", "s"]),
    "colour": st.sampled_from(["purple", "", "BLUE", "blue,green"]),
    "tenant": st.sampled_from(["Bad Tenant!", "-x", "nosuch", ""]),
    "file": st.sampled_from(["/nonexistent/tenants.yaml", "/", "{garbage}"]),
    "date": st.sampled_from(["not-a-date", "2024-13-45", "tomorrow", ""]),
    "channel": st.sampled_from(["carrier-pigeon", "", "SNS"]),
    "html": st.sampled_from(["/", "/nonexistent-dir/report.html"]),
}


@dataclass(frozen=True)
class Command:
    """A command, its options (name → kind of value) and which of them it needs."""

    words: tuple[str, ...]
    options: dict[str, str]
    required: tuple[str, ...]
    writes: bool


COMMANDS = [
    Command(("start",), {"--cohort": "cohort", "--release": "version", "--strategy": "strategy",
                         "--tenants": "tenants", "--check-every": "duration",
                         "--warm-for": "duration", "--lease": "duration"},
            ("--cohort", "--release"), True),
    Command(("fleet", "start"), {"--release": "version", "--tenants": "tenants",
                                 "--check-every": "duration", "--lease": "duration"},
            ("--release",), True),
    Command(("step",), {"--cohort": "cohort", "--tenants": "tenants"}, ("--cohort",), True),
    Command(("resume",), {"--cohort": "cohort", "--tenants": "tenants",
                          "--check-every": "duration", "--lease": "duration"},
            ("--cohort",), True),
    Command(("rollback",), {"--cohort": "cohort", "--tenants": "tenants"}, ("--cohort",), True),
    Command(("abort",), {"--cohort": "cohort", "--tenants": "tenants"}, ("--cohort",), True),
    Command(("pin",), {"--cohort": "cohort", "--tenant": "tenant", "--colour": "colour",
                       "--tenants": "tenants"}, ("--cohort", "--tenant", "--colour"), True),
    Command(("promote",), {"--cohort": "cohort", "--tenants": "tenants",
                           "--check-every": "duration"}, ("--cohort",), True),
    Command(("config", "copy"), {"--cohort": "cohort", "--from": "source", "--to": "target",
                                 "--tenant": "tenant"}, ("--cohort", "--from", "--to"), True),
    Command(("config", "carry-back"), {"--cohort": "cohort", "--from": "target",
                                       "--to": "source", "--tenant": "tenant"},
            ("--cohort", "--from", "--to"), True),
    Command(("notify",), {"--release": "version", "--tenants": "tenants", "--notes": "notes",
                          "--from": "date", "--channel": "channel"},
            ("--release", "--tenants", "--notes"), True),
    Command(("release", "publish"), {"--version": "version", "--notes": "notes"},
            ("--version", "--notes"), True),
    Command(("stacks", "up", "--local"), {"--cohort": "cohort", "--version": "version",
                                          "--colour": "target"}, ("--cohort", "--version"),
            True),
    Command(("status",), {"--cohort": "cohort"}, (), False),
    Command(("config", "diff"), {"--cohort": "cohort", "--from": "source", "--to": "target",
                                 "--tenant": "tenant"}, ("--cohort", "--from", "--to"), False),
    Command(("plan",), {"--release": "version", "--tenants": "tenants", "--from": "date"},
            ("--release", "--tenants"), False),
    Command(("report",), {"--html": "html", "--cohort": "cohort"}, ("--html",), False),
    Command(("stacks", "preview", "--local"), {"--cohort": "cohort", "--version": "version",
                                               "--colour": "target"},
            ("--cohort", "--version"), False),
]


def good_values(stage: Stage) -> dict[str, st.SearchStrategy[str]]:
    return {
        "cohort": st.just(COHORT),
        "version": st.just(RELEASE),
        "strategy": st.sampled_from(["canary:10:5m", "linear:25:1m", "all-at-once"]),
        "tenants": st.just(str(stage.scenario.tenants_file)),
        "notes": st.just(str(EXAMPLE_NOTES)),
        "duration": st.sampled_from(["30s", "5m"]),
        "colour": st.sampled_from(["blue", "green"]),
        "source": st.just("blue"),
        "target": st.just("green"),
        "tenant": st.sampled_from(TENANTS),
        "date": st.just("2031-03-03"),
        "channel": st.just("sns"),
        "html": st.just(str(stage.files / "report.html")),
    }


def bad_values(stage: Stage) -> dict[str, st.SearchStrategy[str]]:
    broken = stage.files / "broken.yaml"
    broken.write_text("defaults: [unclosed\n")
    files = st.one_of(BAD["file"], st.just(str(broken)), st.just(str(stage.files)))
    return {**BAD, "tenants": files, "notes": files, "source": BAD["colour"],
            "target": BAD["colour"]}


@st.composite
def command_lines(draw: st.DrawFn, stage: Stage) -> tuple[Command, list[str], bool]:
    """A real command with some options bad (always at least one for a writing command)."""
    command = draw(st.sampled_from(COMMANDS))
    good, bad = good_values(stage), bad_values(stage)
    chosen = [name for name in command.options
              if name in command.required or draw(st.booleans())]
    breakable = [name for name in chosen if command.options[name] in bad]
    broken = set(draw(st.lists(st.sampled_from(breakable), max_size=2, unique=True))
                 if breakable else [])
    if command.writes and not broken:
        broken = {draw(st.sampled_from(breakable))}
    argv = list(command.words)
    for name in chosen:
        kind = command.options[name]
        argv += [name, draw((bad if name in broken else good)[kind])]
    if command.words == ("release", "publish"):
        argv.append(str(stage.artefact))
    if draw(st.integers(0, 5)) == 0:
        argv.insert(draw(st.integers(0, len(argv))), draw(st.sampled_from(
            ["--bogus", "extra-arg", "--json=maybe", "-x"])))
        broken.add("syntax")
    return command, [*argv, "--json"], bool(broken)


@fuzz(40)
@given(data=st.data())
def test_fuzzed_command_lines_exit_0_or_2_and_exit_2_writes_nothing(
        stage: Stage, data: st.DataObject) -> None:
    command, argv, broken = data.draw(command_lines(stage))
    deploys = "up" in command.words  # writes from a child process: the hook cannot see them
    before = stage.inventory() if broken and deploys else None
    answer = stage.ask(argv)
    assert_answered(answer, (2,) if broken else (0,))
    if broken:
        assert_wrote_nothing(answer)
    if before is not None:
        assert stage.inventory() == before


def test_a_malformed_release_is_refused_before_the_cohort_lock_is_taken(stage: Stage) -> None:
    """``start --release 1.5``: bad input, so exit 2 and not one write, not even the lock.

    The one gap the fuzzer found: the command used to take the cohort's lock before
    anything looked at the version, then called it "blocked" (exit 3).
    """
    answer = stage.ask(["start", "--cohort", COHORT, "--release", "1.5", "--json"])
    assert answer.code == 2, answer.stdout
    assert "'1.5' is not a version like 1.5.0" in json.loads(answer.stdout)["error"]
    assert_wrote_nothing(answer)


def test_the_fuzzed_cohort_is_untouched_by_all_of_it(stage: Stage) -> None:
    """After every example: no rollout was started, the listener never moved."""
    assert stage.ask(["status", "--cohort", COHORT, "--json"]).code == 0
    assert listener_weights(stage.scenario.resources) == {"blue": 100, "green": 0}
    assert stage.scenario.ledger.events(COHORT) == []


EXAMPLE_BROKEN_TENANTS = textwrap.dedent("""\
    defaults:
      windows: ["Sat 02:00-06:00"]
    cohorts:
      - {name: fuzzy, order: 1, strategy: "linear:0:5m"}
    """)


def test_a_bad_strategy_in_tenants_yaml_names_file_line_and_field(stage: Stage) -> None:
    """The one-line error a fuzzed file gets, shown on one concrete example."""
    tenants = write(stage, "tenants", EXAMPLE_BROKEN_TENANTS)
    answer = stage.ask(["plan", "--release", RELEASE, "--tenants", str(tenants), "--json"])
    assert answer.code == 2
    error = json.loads(answer.stdout)["error"]
    assert error.startswith(f"{tenants}:4: cohorts.0.strategy:")
    assert "whole percent from 1 to 99" in error
