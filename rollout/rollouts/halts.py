"""What stops forward moves across the fleet: halts in the ledger and alarm blockers.

A **halt** is an operator's stop of every forward move (``rollout halt --all``, or
``--cohort C``) or the automatic one of a release's later waves once an earlier wave
rolled that release back. It is one ledger item at a key known in advance
(:func:`rollout.vocabulary.ledger_keys.halt_keys_covering`), so anything that moves
traffic (this executor, a Step Functions state machine) needs one ``GetItem`` per key
to obey it; lifting it (``rollout unhalt``) deletes the item. Each halt and lifting is
also one entry in its partition's history: a fleet-level history rather than every
cohort's own, because a halt is one act however many cohorts it covers, and because a
cohort's role may write only its own cohort's history, while the automatic halt of
wave2 is written by wave1's role.

An **alarm blocker** is a CloudWatch alarm named in ``tenants.yaml`` (``blockers:``):
while it is not OK, no cohort starts or advances. An alarm that does not exist, has
insufficient data or cannot be read blocks too: a blocker nobody can see never lets
traffic through.

Both are :class:`rollout.rollouts.executor.Blocker` s: the executor asks them before
``start`` and before every weight step; neither ever stands in the way of a rollback
or an abort, and ``--override-freeze`` breaks neither.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, ValidationError, model_validator

from rollout.aws_clients import AwsClients
from rollout.errors import BadInput
from rollout.plans import Plan
from rollout.rollouts.ledger import Event, RolloutLedger
from rollout.rollouts.state import RolloutState
from rollout.vocabulary.ledger_keys import (
    HALT_ALL_SK,
    HALT_COHORT_PREFIX,
    HALT_FLEET_PK,
    HALT_HISTORY_PREFIX,
    HALT_RELEASE_PK,
    HALT_RELEASE_PREFIX,
    halt_cohort_sk,
    halt_history_sk,
    halt_keys_covering,
    halt_release_prefix,
    halt_release_sk,
)

HaltScope = Literal["all", "cohort", "release"]
OK = "OK"
ALARM = "ALARM"
MAX_ALARM_BLOCKERS = 100
"""What one ``DescribeAlarms`` call answers for (its ``AlarmNames`` limit)."""


class Halt(BaseModel):
    """One halt: what it covers, who placed it, when and why.

    Fields it does not know are ignored: a halt written by a later version still halts.
    """

    model_config = ConfigDict(frozen=True, extra="ignore")

    scope: HaltScope
    cohort: str | None = None
    """The cohort halted (``cohort`` and ``release`` halts)."""
    release: str | None = None
    """The release halted on ``cohort`` (``release`` halts only)."""
    actor: str
    at: datetime
    reason: str

    @model_validator(mode="after")
    def _names_what_it_covers(self) -> Halt:
        if (self.scope != "all") != (self.cohort is not None):
            raise ValueError(f"a {self.scope} halt names a cohort exactly when it is not 'all'")
        if (self.scope == "release") != (self.release is not None):
            raise ValueError("a release halt, and only a release halt, names a release")
        return self

    @property
    def key(self) -> tuple[str, str]:
        if self.scope == "all":
            return HALT_FLEET_PK, HALT_ALL_SK
        if self.scope == "cohort":
            return HALT_FLEET_PK, halt_cohort_sk(str(self.cohort))
        return HALT_RELEASE_PK, halt_release_sk(str(self.release), str(self.cohort))

    def covers(self, cohort: str, release: str | None) -> bool:
        """Whether a rollout of ``release`` (None: any release) on ``cohort`` is halted."""
        if self.scope == "all":
            return True
        if self.cohort != cohort:
            return False
        return self.scope == "cohort" or release is None or release == self.release

    @property
    def what(self) -> str:
        if self.scope == "all":
            return "every cohort"
        if self.scope == "cohort":
            return f"cohort {self.cohort}"
        return f"release {self.release} on cohort {self.cohort}"

    @property
    def lifted_with(self) -> str:
        """The command that lifts it."""
        if self.scope == "all":
            return "rollout unhalt --all"
        if self.scope == "cohort":
            return f"rollout unhalt --cohort {self.cohort}"
        return f"rollout unhalt --release {self.release}"

    def line(self) -> str:
        """Why traffic does not move: who halted it, when, why, and how to lift it."""
        return (f"halted by {self.actor} at {self.at.astimezone(UTC):%Y-%m-%d %H:%M:%S} UTC: "
                f"{self.reason}; `{self.lifted_with}` lifts it")


@dataclass(frozen=True)
class HaltTarget:
    """What ``rollout halt`` or ``unhalt`` names: the fleet, a cohort, or a release (on one
    cohort or, for ``unhalt``, on every cohort)."""

    scope: HaltScope
    cohort: str | None = None
    release: str | None = None

    @classmethod
    def named(cls, *, every: bool, cohort: str | None, release: str | None) -> HaltTarget:
        """From the command line's ``--all``, ``--cohort`` and ``--release``; one of them."""
        if every and (cohort or release):
            raise BadInput("--all covers every cohort and release: give it alone")
        if every:
            return cls("all")
        if release:
            return cls("release", cohort, release)
        if cohort:
            return cls("cohort", cohort)
        raise BadInput("name what to halt or unhalt: --all, --cohort C or --release V")

    def covers(self, halt: Halt) -> bool:
        if halt.scope != self.scope:
            return False
        if self.scope == "release" and halt.release != self.release:
            return False
        return self.cohort is None or halt.cohort == self.cohort


@dataclass(frozen=True)
class Placed:
    """What ``halt`` found: the halt standing now, and whether this command placed it."""

    halt: Halt
    new: bool


def _remember(ledger: RolloutLedger, pk: str, kind: str, message: str, actor: str,
              at: datetime, halt: Halt) -> None:
    event = Event(at=at, actor=actor, kind=kind, message=message,
                  data={"halt": halt.model_dump(mode="json")})
    ledger.put(pk, halt_history_sk(at, uuid.uuid4().hex[:12]), event, only_if_new=True)


def place_halt(ledger: RolloutLedger, halt: Halt) -> Placed:
    """Store ``halt``, unless one stands at its key already: that one stays, as it was."""
    pk, sk = halt.key
    if ledger.put(pk, sk, halt, only_if_new=True):
        _remember(ledger, pk, "halted", f"{halt.what} halted by {halt.actor}: {halt.reason}",
                  halt.actor, halt.at, halt)
        return Placed(halt, True)
    return Placed(ledger.get(pk, sk, Halt) or halt, False)


def standing_halts(ledger: RolloutLedger) -> list[Halt]:
    """Every halt in force: the fleet's, the cohorts', then the releases'."""
    every = ledger.get(HALT_FLEET_PK, HALT_ALL_SK, Halt)
    return [*([every] if every else []),
            *ledger.query(HALT_FLEET_PK, HALT_COHORT_PREFIX, Halt),
            *ledger.query(HALT_RELEASE_PK, HALT_RELEASE_PREFIX, Halt)]


def halts_named(ledger: RolloutLedger, target: HaltTarget) -> list[Halt]:
    """The halts standing that ``target`` names (what ``unhalt`` lifts)."""
    if target.scope == "all":
        found = [ledger.get(HALT_FLEET_PK, HALT_ALL_SK, Halt)]
    elif target.scope == "cohort":
        found = [ledger.get(HALT_FLEET_PK, halt_cohort_sk(str(target.cohort)), Halt)]
    else:
        found = list(ledger.query(HALT_RELEASE_PK, halt_release_prefix(str(target.release)),
                                  Halt))
    return [halt for halt in found if halt is not None and target.covers(halt)]


def lift_halt(ledger: RolloutLedger, halt: Halt, *, actor: str, at: datetime,
              reason: str | None) -> None:
    """Delete ``halt``'s item, and record who lifted it and why."""
    ledger.delete(*halt.key)
    why = f": {reason}" if reason else ""
    _remember(ledger, halt.key[0], "unhalted", f"{halt.what} unhalted by {actor}{why} "
              f"(halted by {halt.actor}: {halt.reason})", actor, at, halt)


def lift_halts(ledger: RolloutLedger, target: HaltTarget, *, actor: str, at: datetime,
               reason: str | None) -> list[Halt]:
    """Delete the halts ``target`` names, each lifting recorded; the halts lifted."""
    found = halts_named(ledger, target)
    for halt in found:
        lift_halt(ledger, halt, actor=actor, at=at, reason=reason)
    return found


@dataclass
class PlaceHalt:
    """``rollout halt``'s one step: the halt's item, unless one stands there already."""

    ledger: RolloutLedger = field(repr=False)
    halt: Halt
    placed: Placed | None = None
    kind: ClassVar[str] = "halt"

    def describe(self) -> str:
        return (f"halt {self.halt.what} in the ledger, as {self.halt.actor}: "
                f"{self.halt.reason} (no start and no weight step until "
                f"`{self.halt.lifted_with}`; rollbacks and aborts go on)")

    def facts(self) -> Mapping[str, object]:
        return {"halt": self.halt.model_dump(mode="json")}

    def apply(self) -> None:
        self.placed = place_halt(self.ledger, self.halt)


@dataclass
class LiftHalt:
    """One step of ``rollout unhalt``: one halt's item deleted, the lifting recorded."""

    ledger: RolloutLedger = field(repr=False)
    halt: Halt
    actor: str
    at: datetime
    reason: str | None
    kind: ClassVar[str] = "unhalt"

    def describe(self) -> str:
        return (f"lift the halt of {self.halt.what} (halted by {self.halt.actor} at "
                f"{self.halt.at.astimezone(UTC):%Y-%m-%d %H:%M:%S} UTC: {self.halt.reason})")

    def facts(self) -> Mapping[str, object]:
        return {"halt": self.halt.model_dump(mode="json"), "reason": self.reason}

    def apply(self) -> None:
        lift_halt(self.ledger, self.halt, actor=self.actor, at=self.at, reason=self.reason)


def halt_plan(ledger: RolloutLedger, halt: Halt) -> Plan:
    """``rollout halt``: one item written (``--dry-run`` shows it and writes nothing)."""
    return Plan("halt", (PlaceHalt(ledger, halt),))


def unhalt_plan(ledger: RolloutLedger, target: HaltTarget, *, actor: str, at: datetime,
                reason: str | None) -> Plan:
    """``rollout unhalt``: a step per halt ``target`` names, read now."""
    return Plan("unhalt", tuple(LiftHalt(ledger, halt, actor, at, reason)
                                for halt in halts_named(ledger, target)))


def halt_history(ledger: RolloutLedger) -> list[Event]:
    """Who halted and lifted what, oldest first, from both halt partitions."""
    events = [*ledger.query(HALT_FLEET_PK, HALT_HISTORY_PREFIX, Event),
              *ledger.query(HALT_RELEASE_PK, HALT_HISTORY_PREFIX, Event)]
    return sorted(events, key=lambda event: event.at)


def halt_later_waves(ledger: RolloutLedger, state: RolloutState, later: list[str], *,
                     actor: str, at: datetime) -> list[Halt]:
    """``state``'s release halted on every cohort in ``later``: it rolled back before them."""
    reason = f"cohort {state.cohort} rolled back {state.release}: {state.reason}"
    return [place_halt(ledger, Halt(scope="release", cohort=cohort, release=state.release,
                                    actor=actor, at=at, reason=reason)).halt
            for cohort in later]


class FleetHalts:
    """The halts covering one cohort, as a blocker: its three keys read at every check."""

    kind: Literal["halt"] = "halt"

    def __init__(self, ledger: RolloutLedger, cohort: str) -> None:
        self._ledger = ledger
        self._cohort = cohort

    def blocked_at(self, moment: datetime, release: str) -> str | None:
        """The first halt covering ``release`` here; an item that cannot be read as a
        halt still is one (its presence is the halt)."""
        for pk, sk in halt_keys_covering(self._cohort, release):
            try:
                halt = self._ledger.get(pk, sk, Halt)
            except ValidationError as unreadable:
                return (f"halted by an item {pk}/{sk} that cannot be read "
                        f"({unreadable.error_count()} problem(s)); delete it to lift it")
            if halt is not None:
                return halt.line()
        return None


@dataclass(frozen=True)
class AlarmReading:
    """One blocker alarm's state as CloudWatch reports it."""

    state: str
    why: str = ""


def judge_blockers(names: list[str], found: Mapping[str, AlarmReading]) -> str | None:
    """Why the alarm blockers forbid moving traffic (None when every one is OK).

    An alarm in ALARM says so with CloudWatch's reason; one that is missing or has no
    data blocks too, since it cannot tell that all is well.
    """
    for name in names:
        reading = found.get(name)
        if reading is not None and reading.state == ALARM:
            return f"alarm blocker {name} is in ALARM: {reading.why or 'no reason given'}"
    for name in names:
        reading = found.get(name)
        if reading is None:
            return (f"alarm blocker {name} does not exist (check `blockers:` in tenants.yaml "
                    "and the cohort's region); a blocker nobody can read lets nothing through")
        if reading.state != OK:
            return (f"alarm blocker {name} is {reading.state}: "
                    f"{reading.why or 'no reason given'}; traffic moves once it is OK")
    return None


class AlarmBlockers:
    """The ``blockers:`` alarms of ``tenants.yaml``, read with one ``DescribeAlarms`` call."""

    kind: Literal["alarm"] = "alarm"

    def __init__(self, clients: AwsClients, names: list[str]) -> None:
        """``clients`` in the cohort's region: the alarms are looked up there."""
        self._clients = clients
        self.names = list(names)

    def blocked_at(self, moment: datetime, release: str) -> str | None:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            answer: dict[str, Any] = self._clients.client("cloudwatch").describe_alarms(
                AlarmNames=self.names, AlarmTypes=["MetricAlarm", "CompositeAlarm"],
                MaxRecords=MAX_ALARM_BLOCKERS)
        except (ClientError, BotoCoreError) as unread:
            return (f"alarm blockers {', '.join(self.names)} could not be read ({unread}); "
                    "a blocker nobody can read lets nothing through")
        found = {alarm["AlarmName"]: AlarmReading(alarm["StateValue"],
                                                  alarm.get("StateReason", ""))
                 for alarm in [*answer.get("MetricAlarms", []),
                               *answer.get("CompositeAlarms", [])]}
        return judge_blockers(self.names, found)


__all__ = ["AlarmBlockers", "FleetHalts", "Halt", "HaltTarget", "LiftHalt", "PlaceHalt",
           "Placed", "halt_history", "halt_later_waves", "halt_plan", "halts_named",
           "judge_blockers", "lift_halt", "lift_halts", "place_halt", "standing_halts",
           "unhalt_plan"]
