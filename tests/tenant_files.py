"""``tenants.yaml`` as the tests write it: one builder, so a test names only what it changes.

A test says which cohorts (in order) and tenants it needs, and only what differs from
a file any rollout can start with at once: no notice period, a window all day long.
Each cohort and each tenant is one flow mapping on a line of its own, its keys plain
and its values written by :func:`json.dumps` (JSON is YAML), so ``strategy: "..."``
is on the cohort's line for what edits the text (``bench/fault_matrix.py`` puts a
security command in front of it).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path

Entry = dict[str, object]
"""One cohort or tenant of the file, as its fields."""

ALL_DAY = ("daily 00:00-24:00",)
"""Every moment is inside the window: a rollout may start whenever a test runs."""

OPTED_OUT_UNTIL = "2099-01-01"
"""An opt-out that outlives every test run."""


def cohort_entry(name: str, strategy: str | None = None, *, alarm: str | None = None,
           security_command: str | None = None, router: Mapping[str, object] | None = None,
           **fields: object) -> Entry:
    """A cohort; ``alarm`` adds a CloudWatch alarm gate, ``security_command`` a scanner,
    ``router`` its router settings. Its ``order`` is its place in the file unless given."""
    entry: Entry = {"name": name}
    if strategy is not None:
        entry["strategy"] = strategy
    if alarm is not None:
        entry["gates"] = [{"kind": "alarm", "alarms": [alarm]}]
    if security_command is not None:
        entry["security"] = {"command": security_command}
    if router is not None:
        entry["router"] = dict(router)
    return {**entry, **fields}


def tenant_entry(tenant_id: str, cohort_name: str, *, opted_out: str | None = None,
           **fields: object) -> Entry:
    """A tenant of ``cohort_name``; ``opted_out`` is the reason of an opt-out that never ends."""
    entry: Entry = {"id": tenant_id, "cohort": cohort_name, **fields}
    if opted_out is not None:
        entry["opt_out"] = {"until": OPTED_OUT_UNTIL, "reason": opted_out}
    return entry


def tenants_yaml(cohorts: Sequence[Entry], tenants: Sequence[Entry], *,
                 notice_days: int | None = 0, windows: Sequence[str] = ALL_DAY,
                 **defaults: object) -> str:
    """The file's text; ``notice_days=None`` leaves the product's default notice period."""
    settings: Entry = {"notice_days": notice_days, "windows": list(windows), **defaults}
    ordered = [{"name": entry["name"], "order": place, **entry}
               for place, entry in enumerate(cohorts, start=1)]
    lines = ["defaults:",
             *(f"  {key}: {json.dumps(value)}" for key, value in settings.items()
               if value is not None),
             *_listed("cohorts", ordered), *_listed("tenants", tenants)]
    return "\n".join(lines) + "\n"


def write_tenants(path: Path, cohorts: Sequence[Entry], tenants: Sequence[Entry], *,
                  notice_days: int | None = 0, windows: Sequence[str] = ALL_DAY,
                  **defaults: object) -> Path:
    """:func:`tenants_yaml` written to ``path``; returns ``path``."""
    path.write_text(tenants_yaml(cohorts, tenants, notice_days=notice_days, windows=windows,
                                 **defaults))
    return path


def _listed(key: str, entries: Sequence[Entry]) -> list[str]:
    if not entries:
        return [f"{key}: []"]
    return [f"{key}:", *(f"  - {_flow(entry)}" for entry in entries)]


def _flow(entry: Entry) -> str:
    return "{" + ", ".join(f"{key}: {json.dumps(value)}" for key, value in entry.items()) + "}"
