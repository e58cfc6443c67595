"""Pure logic of the config copy: comparisons, plans, carry-back, and secret hygiene.

No AWS here: settings are built in memory, and an in-memory store applies plans,
so the properties (a forced copy converges, a second copy writes nothing, a
conflict is never written without force) are checked over many generated cases.
"""

from __future__ import annotations

import json
import pickle
from dataclasses import replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rollout.configcopy.carry_back import compare_carry_back
from rollout.configcopy.diff import Comparison, Difference, classify, compare
from rollout.configcopy.report import CopyReport, item_from
from rollout.configcopy.sealed import Sealed, sha256_hex
from rollout.configcopy.setting import Kind, Setting, SettingMeta, StoreName, tags_from
from rollout.configcopy.snapshot import SnapshotEntry, entry_for
from rollout.configcopy.writes import Write, WriteKind, action_for, plan_writes

_versions = iter(range(1, 10**9))


def setting(key: str, value: str, kind: Kind = Kind.STRING, **meta: object) -> Setting:
    """A setting as a store would return it: every one gets a fresh version."""
    return Setting(key=key, kind=kind, value=Sealed(value), version=str(next(_versions)),
                   modified="2025-01-01T00:00:00+00:00", meta=SettingMeta(**meta))  # type: ignore[arg-type]


# sealed values ------------------------------------------------------------
def test_a_sealed_value_never_shows_itself() -> None:
    sealed = Sealed("hunter2-secret")
    shown = [repr(sealed), str(sealed), f"{sealed}", f"{sealed!r}", f"{sealed:>30}",
             repr(setting("acme/pw", "hunter2-secret", Kind.SECURE_STRING))]
    assert all("hunter2" not in text for text in shown)
    assert sealed.reveal() == "hunter2-secret"
    with pytest.raises(TypeError):
        pickle.dumps(sealed)


def test_sealed_values_compare_by_content() -> None:
    assert Sealed("a") == Sealed("a")
    assert Sealed("a") != Sealed("b")
    assert Sealed("a").sha256 == sha256_hex("a")


# comparing ----------------------------------------------------------------
def test_classify_names_every_case() -> None:
    source = setting("acme/limit", "10", tags=tags_from({"owner": "acme"}))
    assert classify("acme/limit", source, None).status == Difference.MISSING
    same = replace(source, version="99")
    assert classify("acme/limit", source, same).status == Difference.EQUAL
    retagged = same.with_tags(tags_from({"owner": "other"}))
    drifted = classify("acme/limit", source, retagged)
    assert (drifted.status, drifted.differs) == (Difference.DRIFTED, ("tags",))
    edited = setting("acme/limit", "25")
    assert classify("acme/limit", source, edited).status == Difference.CONFLICT
    assert classify("acme/limit", source, edited, frozenset({edited.stamp})).status == (
        Difference.STALE)
    retyped = replace(source, kind=Kind.STRING_LIST)
    assert classify("acme/limit", source, retyped).differs[0] == "type"


def test_a_standard_parameter_held_as_advanced_is_equal_because_ssm_cannot_downgrade() -> None:
    source = setting("a/x", "1", tier="Standard")
    assert classify("a/x", source, replace(source, meta=SettingMeta(tier="Advanced"))).status == (
        Difference.EQUAL)
    upgraded = setting("a/x", "1", tier="Advanced")
    assert classify("a/x", upgraded, replace(upgraded, meta=SettingMeta(tier="Standard"))
                    ).differs == ("tier",)


def test_compare_reports_keys_only_on_the_target_as_extra() -> None:
    found = compare({"a/x": setting("a/x", "1")}, {"a/y": setting("a/y", "2")})
    assert [(c.key, c.status) for c in found] == [("a/x", Difference.MISSING),
                                                  ("a/y", Difference.EXTRA)]


def test_a_mapped_kms_key_is_what_the_target_must_carry() -> None:
    source = setting("a/pw", "s", Kind.SECURE_STRING, key_id="blue-key")
    wanted = source.with_key({"blue-key": "green-key"})
    assert wanted.meta.key_id == "green-key"
    assert setting("a/x", "1").with_key({"blue-key": "green-key"}).meta.key_id is None
    on_target = replace(source, version="7")
    assert classify("a/pw", wanted, on_target).differs == ("kms key",)


# planning -----------------------------------------------------------------
def test_a_conflict_is_written_only_with_force() -> None:
    conflict = classify("a/x", setting("a/x", "1"), setting("a/x", "2"))
    assert action_for(conflict, force=False) == WriteKind.NONE
    assert action_for(conflict, force=True) == WriteKind.OVERWRITE
    assert plan_writes([conflict], force=False) == []


def test_a_tags_only_difference_is_a_retag_of_exactly_the_changed_tags() -> None:
    source = setting("a/x", "1", tags=tags_from({"keep": "1", "change": "new"}))
    target = replace(source, version="5").with_tags(
        tags_from({"keep": "1", "change": "old", "extra": "x"}))
    [write] = plan_writes([classify("a/x", source, target)], force=False)
    assert write.action == WriteKind.RETAG
    assert (write.tags_to_set, write.tags_to_remove) == ((("change", "new"),), ("extra",))


# an in-memory store, to check that plans converge -------------------------
def apply(store: dict[str, Setting], writes: list[Write]) -> dict[str, Setting]:
    after = dict(store)
    for write in writes:
        if write.action == WriteKind.DELETE:
            after.pop(write.key)
        else:
            assert write.wanted is not None
            after[write.key] = replace(write.wanted, version=str(next(_versions)))
    return after


values = st.sampled_from(["a", "b", "c"])
kinds = st.sampled_from([Kind.STRING, Kind.STRING_LIST, Kind.SECURE_STRING])
tag_sets = st.dictionaries(st.sampled_from(["x", "y"]), values, max_size=2).map(tags_from)
settings_by_key = st.dictionaries(
    st.sampled_from(["t1/a", "t1/b", "t2/a", "t2/c"]),
    st.tuples(values, kinds, tag_sets, st.sampled_from([None, "d"])), max_size=4,
).map(lambda raw: {k: setting(k, v, kind, tags=t, description=d)
                   for k, (v, kind, t, d) in raw.items()})


@settings(max_examples=120, deadline=None)
@given(source=settings_by_key, target=settings_by_key)
def test_a_forced_copy_converges_and_a_second_copy_writes_nothing(
        source: dict[str, Setting], target: dict[str, Setting]) -> None:
    after = apply(target, plan_writes(compare(source, target), force=True))
    assert all(c.status in (Difference.EQUAL, Difference.EXTRA) for c in compare(source, after))
    assert plan_writes(compare(source, after), force=True) == []


@settings(max_examples=120, deadline=None)
@given(source=settings_by_key, target=settings_by_key)
def test_without_force_every_conflict_keeps_its_value_and_the_rest_converges(
        source: dict[str, Setting], target: dict[str, Setting]) -> None:
    before = compare(source, target)
    after = apply(target, plan_writes(before, force=False))
    for comparison in before:
        if comparison.status == Difference.CONFLICT:
            assert after[comparison.key] is target[comparison.key]
        elif comparison.wanted is not None:
            assert not comparison.wanted.differences(after[comparison.key])


# carry-back ---------------------------------------------------------------
def recorded(old: Setting | None, new: Setting | None) -> SnapshotEntry:
    return entry_for(old, new, left_alone=False)


def test_carry_back_classifies_each_way_a_key_can_have_moved() -> None:
    old = {k: setting(k, "v0") for k in ("t/same", "t/edit", "t/gone", "t/both", "t/oldonly")}
    new = {k: replace(s, version=f"n{s.version}") for k, s in old.items() if k != "t/oldonly"}
    snapshot = {k: recorded(old[k], new[k]) for k in new}
    new["t/edit"] = setting("t/edit", "v1")
    del new["t/gone"]
    new["t/both"] = setting("t/both", "new side")
    old["t/both"] = setting("t/both", "old side")
    new["t/added"] = setting("t/added", "fresh")

    found = {c.key: c.status for c in compare_carry_back(new, old, snapshot)}

    assert found == {"t/same": Difference.UNCHANGED, "t/edit": Difference.STALE,
                     "t/gone": Difference.DELETED, "t/both": Difference.CONFLICT,
                     "t/added": Difference.MISSING, "t/oldonly": Difference.UNCHANGED}
    plans = {w.key: w.action for w in plan_writes(compare_carry_back(new, old, snapshot),
                                                  force=False)}
    assert plans == {"t/edit": WriteKind.OVERWRITE, "t/gone": WriteKind.DELETE,
                     "t/added": WriteKind.CREATE}


def test_carry_back_of_a_key_deleted_on_both_sides_or_recreated_on_old_is_safe() -> None:
    old_value = setting("t/k", "v0")
    new_value = setting("t/k", "v0")
    snapshot = {"t/k": recorded(old_value, new_value)}
    assert compare_carry_back({}, {}, snapshot) == []
    recreated = setting("t/k", "v0")
    [deleted_on_new] = compare_carry_back({}, {"t/k": recreated}, snapshot)
    assert deleted_on_new.status == Difference.CONFLICT
    assert action_for(deleted_on_new, force=False) == WriteKind.NONE


# the ledger entry and the report never hold a secret ------------------------
def test_a_snapshot_entry_keeps_a_hash_of_plain_values_only() -> None:
    plain = entry_for(setting("a/x", "visible"), setting("a/x", "visible"), left_alone=False)
    assert plain.value_hash == sha256_hex("visible")
    secret = setting("a/pw", "hunter2", Kind.SECURE_STRING)
    hidden = entry_for(secret, secret, left_alone=False)
    assert hidden.value_hash is None
    assert "hunter2" not in hidden.model_dump_json()
    assert sha256_hex("hunter2") not in hidden.model_dump_json()


@given(secret=st.text(min_size=1).map(lambda text: f"SECRET-{text}-END"))
def test_a_report_shows_a_secret_only_as_equal_or_differs(secret: str) -> None:
    source = setting("acme/pw", secret, Kind.SECURE_STRING)
    target = setting("acme/pw", secret + "x", Kind.SECURE_STRING)
    comparisons = [classify("acme/pw", source, target), classify("acme/pw", source, None),
                   classify("acme/pw", source, replace(source, version="2"))]
    items = [item_from(StoreName.SSM, c) for c in comparisons]
    report = CopyReport(cohort="c", source="blue", target="green", items=items)
    dumped = report.model_dump_json() + json.dumps(report.model_dump(mode="json"))
    assert "SECRET-" not in dumped and "-END" not in dumped
    assert [i.secret_value for i in items] == [
        "(secret, differs)", "(secret, differs)", "(secret, equal)"]
    assert all(i.source_value is None and i.target_value is None for i in items)


def test_a_report_shows_plain_values() -> None:
    item = item_from(StoreName.SSM, Comparison(
        "acme/theme", Difference.CONFLICT, setting("acme/theme", "dark"),
        setting("acme/theme", "light"), ("value",)))
    assert (item.source_value, item.target_value, item.secret_value) == ("dark", "light", None)
