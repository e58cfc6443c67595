"""Build :class:`Gate` objects from the raw settings a user wrote, one dict per gate.

Steps and cohorts carry gates as plain dicts (``{"kind": "alarm", "alarms": [...]}``)
so that adding a gate kind means adding a file, not editing every model that holds
gates. This is the one place those dicts are turned into gates, and the one place a
mistake in them becomes a :class:`BadInput` naming the file, line and field, before
anything is written to AWS.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError

from rollout.errors import BadInput
from rollout.gates.base import GATES, Gate
from rollout.gates.dry_run import SETTING as DRY_RUN
from rollout.gates.dry_run import DryRunGate
from rollout.userfile import LinePath, describe_validation_error, line_of

DEFAULT_SOURCE = "gate settings"


class GateSettings(BaseModel):
    """What every gate's settings share: no unknown fields, and an optional display name
    (two metric gates on one step need telling apart in ``status``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str | None = None


def _problem(source: str, lines: Mapping[LinePath, int], location: LinePath, message: str
             ) -> BadInput:
    line = line_of(dict(lines), location)
    where = f"{source}:{line}" if line is not None else source
    field = ".".join(str(part) for part in location) or "(top level)"
    return BadInput(f"{where}: {field}: {message}")


def load_gate(raw: Any, *, source: str = DEFAULT_SOURCE,
              lines: Mapping[LinePath, int] | None = None,
              location: LinePath = ("gate",)) -> Gate:
    """One gate from ``{"kind": ..., <settings>}``; :class:`BadInput` names what is wrong.

    ``source``/``lines`` come from :func:`rollout.userfile.read_yaml` when the settings
    were read from a file, so the message points at the line; ``location`` is the
    settings' path inside that file (e.g. ``("steps", 0, "gates", 1)``).
    """
    lines = lines or {}
    if not isinstance(raw, Mapping):
        raise _problem(source, lines, location,
                       f"a gate must be a mapping with a kind, got {type(raw).__name__}")
    settings = {str(key): value for key, value in raw.items()}
    kind = settings.pop("kind", None)
    if kind is None:
        raise _problem(source, lines, (*location, "kind"),
                       f"missing (known kinds: {', '.join(GATES.names())})")
    if not isinstance(kind, str):
        raise _problem(source, lines, (*location, "kind"), f"must be text, got {kind!r}")
    try:
        factory = GATES.get(kind)
    except BadInput as exc:
        raise _problem(source, lines, (*location, "kind"), str(exc)) from None
    dry_run = settings.pop(DRY_RUN, False)
    if not isinstance(dry_run, bool):
        raise _problem(source, lines, (*location, DRY_RUN), f"must be true or false, got "
                       f"{dry_run!r}")
    try:
        gate: Gate = factory(settings)
    except ValidationError as exc:
        raise BadInput(describe_validation_error(source, exc, dict(lines), location)) from None
    except BadInput as exc:
        raise _problem(source, lines, location, str(exc)) from None
    if not dry_run:
        return gate
    if gate.waits_for_human:
        raise _problem(source, lines, (*location, DRY_RUN), f"a {kind} gate waits for a "
                       "person; in a dry run it would wait for nobody")
    return DryRunGate(gate)


def load_gates(raw: Sequence[Any] | None, *, source: str = DEFAULT_SOURCE,
               lines: Mapping[LinePath, int] | None = None,
               location: LinePath = ("gates",)) -> list[Gate]:
    """Every gate of a list of raw settings, in order; an empty or missing list is no gates."""
    if raw is None:
        return []
    if isinstance(raw, str | bytes | Mapping) or not isinstance(raw, Sequence):
        raise _problem(source, lines or {}, location,
                       f"must be a list of gates, got {type(raw).__name__}")
    return [load_gate(item, source=source, lines=lines, location=(*location, index))
            for index, item in enumerate(raw)]
