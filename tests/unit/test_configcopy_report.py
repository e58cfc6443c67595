"""Conflicts a copy or carry-back left alone, as data and as lines: who, which key, why.

Pure: comparisons are built in memory the way :mod:`rollout.configcopy.carry_back`
and :mod:`rollout.configcopy.diff` classify them, then reported.
"""

from __future__ import annotations

import json
from dataclasses import replace

from rollout.configcopy.carry_back import compare_carry_back
from rollout.configcopy.diff import compare
from rollout.configcopy.report import (
    CopyReport,
    LeftAlone,
    Verification,
    conflicts_left_alone,
    item_from,
)
from rollout.configcopy.sealed import Sealed
from rollout.configcopy.setting import Kind, Setting, StoreName
from rollout.configcopy.snapshot import entry_for
from rollout.configcopy.writes import action_for
from rollout.errors import Blocked

_versions = iter(range(1, 10**9))


def setting(key: str, value: str, kind: Kind = Kind.STRING) -> Setting:
    return Setting(key=key, kind=kind, value=Sealed(value), version=str(next(_versions)),
                   modified="2025-01-01T00:00:00+00:00")


def carried_back(force: bool = False) -> CopyReport:
    """green → blue after a copy blue → green; then each side edited the keys differently."""
    keys = ("aurora/locale", "aurora/smtp/password", "birch/limit", "birch/mode", "cedar/plan")
    old = {k: setting(k, "v0", Kind.SECURE_STRING if "password" in k else Kind.STRING)
           for k in keys}
    new = {k: replace(s, version=f"n{s.version}") for k, s in old.items()}
    snapshot = {k: entry_for(old[k], new[k], left_alone=False) for k in keys}
    new["aurora/locale"], old["aurora/locale"] = (setting("aurora/locale", "fr-FR"),
                                                  setting("aurora/locale", "de-DE"))
    new["aurora/smtp/password"] = setting("aurora/smtp/password", "green-s3cret",
                                          Kind.SECURE_STRING)
    old["aurora/smtp/password"] = setting("aurora/smtp/password", "blue-s3cret",
                                          Kind.SECURE_STRING)
    del new["birch/limit"]
    old["birch/limit"] = setting("birch/limit", "7")
    new["birch/mode"] = setting("birch/mode", "fast")
    del old["birch/mode"]
    new["cedar/plan"] = setting("cedar/plan", "gold")
    comparisons = compare_carry_back(new, old, snapshot)
    items = [item_from(StoreName.SSM, c, action_for(c, force), done=True) for c in comparisons]
    return CopyReport(cohort="wave1", source="green", target="blue", operation="carry-back",
                      force=force, items=items, verification=Verification(checked=1))


def test_a_carry_back_names_each_conflict_left_alone_and_why() -> None:
    report = carried_back()

    assert [(c.tenant, c.key, c.reason) for c in report.left_alone] == [
        ("aurora", "locale", "changed on both green and blue since the copy"),
        ("aurora", "smtp/password", "changed on both green and blue since the copy"),
        ("birch", "limit", "deleted on green and changed on blue since the copy"),
        ("birch", "mode", "changed on green and deleted on blue since the copy"),
    ]
    assert report.conflict_lines() == [
        "tenant aurora: locale (ssm) not carried back from green to blue: changed on both "
        "green and blue since the copy",
        "tenant aurora: smtp/password (ssm) not carried back from green to blue: changed on "
        "both green and blue since the copy",
        "tenant birch: limit (ssm) not carried back from green to blue: deleted on green and "
        "changed on blue since the copy",
        "tenant birch: mode (ssm) not carried back from green to blue: changed on green and "
        "deleted on blue since the copy",
    ]


def test_the_conflicts_are_in_the_json_without_any_value() -> None:
    document = carried_back().model_dump(mode="json")

    assert [f"{c['tenant']}/{c['key']}" for c in document["left_alone"]] == [
        "aurora/locale", "aurora/smtp/password", "birch/limit", "birch/mode"]
    assert {c["operation"] for c in document["left_alone"]} == {"carry-back"}
    shown = json.dumps(document["left_alone"])
    for value in ("fr-FR", "de-DE", "green-s3cret", "blue-s3cret", "fast", "7"):
        assert value not in shown
    everything = json.dumps(document)
    assert "green-s3cret" not in everything and "blue-s3cret" not in everything


def test_forced_conflicts_were_written_so_none_is_left_alone() -> None:
    report = carried_back(force=True)

    assert report.left_alone == [] and report.conflict_lines() == []
    assert report.written == 5


def test_a_copy_conflict_says_the_target_was_changed_since_the_last_sync() -> None:
    source = {"aurora/locale": setting("aurora/locale", "en-GB")}
    target = {"aurora/locale": setting("aurora/locale", "fr-FR")}
    items = [item_from(StoreName.SECRETS_MANAGER, c, action_for(c, False))
             for c in compare(source, target)]
    report = CopyReport(cohort="canary", source="blue", target="green", items=items)

    assert report.left_alone == [LeftAlone(
        store=StoreName.SECRETS_MANAGER, tenant="aurora", key="locale", operation="copy",
        source="blue", target="green",
        reason="differs from blue, and was changed on green since the toolkit last synced it")]
    assert report.conflict_lines() == [
        "tenant aurora: locale (secretsmanager) not copied from blue to green: differs from "
        "blue, and was changed on green since the toolkit last synced it"]
    assert "1 conflicts left alone (aurora/locale)" in report.summary()


def test_one_rule_blocks_on_conflicts_left_alone_with_one_message() -> None:
    """``config copy``, ``config carry-back`` and a rollout's copy all say this, exit 3."""
    back = conflicts_left_alone(carried_back())
    assert isinstance(back, Blocked) and back.exit_code == 3
    assert str(back) == (
        "4 conflicts left alone on blue (aurora/locale, aurora/smtp/password, birch/limit, "
        "birch/mode): changed on both colours since the copy; review with `rollout config "
        "diff --cohort wave1 --from green --to blue`, then `rollout config carry-back "
        "--cohort wave1 --from green --to blue --force` to overwrite")
    assert back.report.left_alone == carried_back().left_alone
    assert conflicts_left_alone(carried_back(force=True)) is None

    source = {f"aurora/key{n}": setting(f"aurora/key{n}", "a") for n in range(7)}
    target = {key: setting(key, "b") for key in source}
    items = [item_from(StoreName.SSM, c, action_for(c, False)) for c in compare(source, target)]
    copy = conflicts_left_alone(CopyReport(cohort="canary", source="blue", target="green",
                                           tenant="aurora", items=items))
    assert copy is not None and str(copy).startswith(
        "7 conflicts left alone on green (aurora/key0, aurora/key1, aurora/key2, aurora/key3, "
        "aurora/key4 and 2 more): changed on green since the toolkit last synced it; review "
        "with `rollout config diff --cohort canary --from blue --to green --tenant aurora`, "
        "then `rollout config copy --cohort canary --from blue --to green --tenant aurora "
        "--force` to overwrite")

