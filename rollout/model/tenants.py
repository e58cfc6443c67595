"""``tenants.yaml``: who the customers are, which cohort they ride in, and what they allow.

Customers stay in control of their upgrade: each tenant names its upgrade
windows (in its own time zone), busy seasons the provider must not touch, an
optional opt-out, and how many days of notice it needs. The provider adds
company freezes and the cohorts' order, strategy and gaps.

Field-level mistakes are reported by pydantic through :mod:`rollout.userfile`;
mistakes that span fields (a tenant in an undefined cohort, a duplicate id) are
found by :meth:`TenantsFile.reference_problem` and reported against the line of
the offending field by :func:`load_tenants`.
"""

from __future__ import annotations

import calendar
import gc
import re
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, timedelta
from functools import cached_property, lru_cache
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ModelWrapValidatorHandler,
    TypeAdapter,
    ValidatorFunctionWrapHandler,
    field_validator,
    model_validator,
)

from rollout.errors import BadInput
from rollout.hooks.settings import CohortHooks
from rollout.rollouts.strategy import parse_strategy
from rollout.userfile import LinePath, line_of, read_yaml, validate
from rollout.vocabulary.durations import Span
from rollout.vocabulary.env_names import EnvName as EnvName
from rollout.vocabulary.hosts import Host, shared_host
from rollout.vocabulary.names import NAME_PATTERN

DAY_NAMES = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
MONTH_NAMES = tuple(calendar.month_abbr)[1:]
MINUTES_PER_DAY = 24 * 60
MIN_SLOT = timedelta(minutes=30)
"""Even an all-at-once switch needs time to check and, if need be, roll back."""

_CLOCK = re.compile(r"^(\d{1,2}):(\d{2})$")
_MONTH_DAY_NUMERIC = re.compile(r"^(\d{1,2})-(\d{1,2})$")
_MONTH_DAY_NAMED = re.compile(r"^([A-Za-z]{3})[a-z]*\.?\s+(\d{1,2})$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def _clock_minutes(text: str, what: str) -> int:
    match = _CLOCK.match(text)
    if not match:
        raise ValueError(f"{what} {text!r} is not a time like 02:00")
    hours, minutes = int(match.group(1)), int(match.group(2))
    if minutes > 59 or hours > 24 or (hours == 24 and minutes):
        raise ValueError(f"{what} {text!r} is not a time of day (00:00 to 24:00)")
    return hours * 60 + minutes


def _clock_text(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def _day_index(name: str, text: str) -> int:
    for index, day in enumerate(DAY_NAMES):
        if name.lower() == day.lower():
            return index
    raise ValueError(f"window {text!r}: {name!r} is not a day (use Mon, Tue, ..., Sun, "
                     "a range like Mon-Fri, a list like Sat,Sun, or daily)")


def _parse_days(spec: str, text: str) -> frozenset[int]:
    if spec.lower() in ("daily", "every-day"):
        return frozenset(range(7))
    days: set[int] = set()
    for part in spec.split(","):
        first, sep, last = part.strip().partition("-")
        if not sep:
            days.add(_day_index(first, text))
            continue
        start, end = _day_index(first, text), _day_index(last, text)
        index = start
        while True:
            days.add(index)
            if index == end:
                break
            index = (index + 1) % 7
    return frozenset(days)


class Window(BaseModel):
    """A weekly upgrade window in the tenant's own wall-clock time: ``Sat 02:00-06:00``.

    Written as one string so a customer can read it back. Overnight windows are
    written as two windows (``Fri 22:00-24:00`` and ``Sat 00:00-04:00``), which keeps
    "end before start" an error a user can see rather than a guess about intent.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    days: frozenset[int]
    start: int = Field(ge=0, le=MINUTES_PER_DAY)
    end: int = Field(ge=0, le=MINUTES_PER_DAY)

    @model_validator(mode="wrap")
    @classmethod
    def _from_text(cls, data: Any, handler: ModelWrapValidatorHandler[Window]) -> Window:
        """A window written as text is parsed once per distinct text and then shared:
        a fleet writes the same few windows over and over, and a window is frozen."""
        if isinstance(data, str):
            return _window_from_text(data)
        return handler(data)

    def __str__(self) -> str:
        named = ",".join(DAY_NAMES[d] for d in sorted(self.days))
        days = "daily" if len(self.days) == 7 else named
        return f"{days} {_clock_text(self.start)}-{_clock_text(self.end)}"

    @property
    def length(self) -> timedelta:
        return timedelta(minutes=self.end - self.start)

    def __hash__(self) -> int:
        return hash((self.days, self.start, self.end))

    def __eq__(self, other: object) -> bool:
        """Cheap: planning groups many thousands of tenants by their windows."""
        if not isinstance(other, Window):
            return NotImplemented
        return (self.start, self.end, self.days) == (other.start, other.end, other.days)


@lru_cache(maxsize=4096)
def _window_from_text(text: str) -> Window:
    return Window.model_validate(_window_fields(text))


def _window_fields(data: str) -> dict[str, Any]:
    text = data.strip()
    day_spec, _, clock = text.rpartition(" ")
    first, sep, last = clock.partition("-")
    if not day_spec or not sep:
        raise ValueError(f"window {text!r} is not like 'Sat 02:00-06:00' or "
                         "'Mon-Fri 22:00-23:30'")
    start = _clock_minutes(first, "window start")
    end = _clock_minutes(last, "window end")
    if end <= start:
        raise ValueError(f"window {text!r}: end {last} is not after start {first} "
                         "(write an overnight window as two windows)")
    return {"days": _parse_days(day_spec.strip(), text), "start": start, "end": end}


class MonthDay(BaseModel):
    """A day of the year that recurs every year: ``12-01`` or ``Dec 01``."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    month: int = Field(ge=1, le=12)
    day: int = Field(ge=1, le=31)

    @model_validator(mode="wrap")
    @classmethod
    def _from_text(cls, data: Any, handler: ModelWrapValidatorHandler[MonthDay]) -> MonthDay:
        """Text is read once per distinct text, as windows are (seasons repeat too)."""
        if isinstance(data, str):
            return _month_day_from_text(data)
        if isinstance(data, date):
            return handler({"month": data.month, "day": data.day})
        return handler(data)

    def in_year(self, year: int) -> date:
        """This day in ``year``; Feb 29 falls on Feb 28 in other years."""
        return date(year, self.month, min(self.day, calendar.monthrange(year, self.month)[1]))

    def __str__(self) -> str:
        return f"{MONTH_NAMES[self.month - 1]} {self.day:02d}"


@lru_cache(maxsize=4096)
def _month_day_from_text(data: str) -> MonthDay:
    text = data.strip()
    numeric = _MONTH_DAY_NUMERIC.match(text)
    named = _MONTH_DAY_NAMED.match(text)
    if numeric:
        month, day = int(numeric.group(1)), int(numeric.group(2))
    elif named and named.group(1).title() in MONTH_NAMES:
        month, day = MONTH_NAMES.index(named.group(1).title()) + 1, int(named.group(2))
    else:
        raise ValueError(f"{text!r} is not a day of the year like 12-01 or Dec 01")
    if not 1 <= month <= 12 or not 1 <= day <= calendar.monthrange(2024, month)[1]:
        raise ValueError(f"{text!r} is not a day of the year")
    return MonthDay.model_validate({"month": month, "day": day})


class DayRange(BaseModel):
    """Whole days every year, both ends included: a company freeze or a busy season.

    ``from`` after ``to`` wraps over new year (``Dec 01`` to ``Feb 28``).
    """

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)

    name: str = Field(min_length=1)
    first: MonthDay = Field(alias="from")
    last: MonthDay = Field(alias="to")

    def dates(self, year: int) -> tuple[date, date]:
        """The occurrence that starts in ``year``: first day, and the day after the last."""
        start = self.first.in_year(year)
        wraps = (self.last.month, self.last.day) < (self.first.month, self.first.day)
        end = self.last.in_year(year + 1 if wraps else year)
        return start, end + timedelta(days=1)

    def __str__(self) -> str:
        return f"{self.name} ({self.first} to {self.last})"


@lru_cache(maxsize=1024)
def _check_zone(value: str) -> str:
    """Cached: loading a zone reads its file, and a fleet names a few dozen zones at most
    (a name that fails raises, and is not cached)."""
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {value!r} (use an IANA name like "
                         "Europe/Berlin or America/New_York)") from None
    return value


def _check_email(value: str | None) -> str | None:
    if value is not None and not _EMAIL.match(value):
        raise ValueError(f"{value!r} is not an email address")
    return value


LOOPBACK_HOSTS = ("localhost", "127.0.0.1", "::1")


def _check_portal_url(value: str) -> str:
    """An https address (or http on loopback), without query or fragment: links append
    ``/choose?t=...`` to it."""
    parsed = urlsplit(value.strip())
    host = parsed.hostname or ""
    secure = parsed.scheme == "https" or (parsed.scheme == "http" and host in LOOPBACK_HOSTS)
    if not host or not secure or parsed.query or parsed.fragment or parsed.username:
        raise ValueError(f"{value!r} is not an https URL like https://prefs.example.com "
                         "(plain http only on this machine, like http://127.0.0.1:8080), "
                         "without a query")
    return value.strip().rstrip("/")


TimeZoneName = Annotated[str, BeforeValidator(str), AfterValidator(_check_zone)]
"""Any value read as text, then checked once per distinct name: a million tenants name
a few dozen zones, and each tenant is given the one (cached) string of its zone."""


class OptOut(BaseModel):
    """The customer asked to stay on the current version until ``until`` (a local date)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    until: date
    reason: str = Field(min_length=1)


class Security(BaseModel):
    """The cohort's security gate: policy checks plus an optional command (exit 0 passes)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    command: str | None = Field(default=None, min_length=1)
    timeout: float | None = Field(default=None, gt=0)
    """Seconds the command may run (default: the security gate's own)."""
    env: list[EnvName] = Field(default_factory=list)
    """Parent variables the command may inherit beyond the security gate's allow-list
    (``rollout.user_command.ENV_ALLOW_LIST``): credentials only when named here."""


class Defaults(BaseModel):
    """What applies to every tenant unless it says otherwise."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    notice_days: int = Field(default=14, ge=0, le=365)
    windows: list[Window] = Field(min_length=1)
    freezes: list[DayRange] = Field(default_factory=list)
    timezone: TimeZoneName = "UTC"
    """The provider's time zone: company freezes are dates there."""
    max_deferral: Span = timedelta(days=90)
    """How long a tenant may stay behind its cohort before the plan flags it."""
    reply_to: str | None = None
    """Where a tenant writes to opt out or choose another window (named in every notice)."""
    portal_url: str | None = None
    """The preferences page (``rollout portal``): every notice links to it. https, or plain
    http on this machine (``http://127.0.0.1:8080``) for local use."""

    @field_validator("reply_to")
    @classmethod
    def _reply_email(cls, value: str | None) -> str | None:
        return _check_email(value)

    @field_validator("portal_url")
    @classmethod
    def _portal_address(cls, value: str | None) -> str | None:
        return None if value is None else _check_portal_url(value)


class Cohort(BaseModel):
    """A group of tenants upgraded together, in ``order``, after the previous cohort."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(pattern=NAME_PATTERN)
    order: int
    stack: str | None = None
    strategy: str = "canary:10:5m"
    sla_target: float = Field(default=99.9, gt=0, lt=100)
    min_gap: Span = timedelta(0)
    duration: Span | None = None
    """How long the cohort's slot must be; by default the strategy's total bake time."""
    gates: list[dict[str, Any]] = Field(default_factory=list)
    router: dict[str, Any] = Field(default_factory=lambda: {"kind": "alb"})
    security: Security | None = None
    hooks: CohortHooks = Field(default_factory=CohortHooks)

    @field_validator("strategy")
    @classmethod
    def _known_strategy(cls, value: str) -> str:
        if value.startswith("file:"):
            return value
        try:
            parse_strategy(value)
        except BadInput as exc:
            raise ValueError(str(exc)) from None
        return value

    @model_validator(mode="after")
    def _file_strategy_needs_duration(self) -> Cohort:
        if self.strategy.startswith("file:") and self.duration is None:
            raise ValueError("a file: strategy needs duration (how long the slot must be)")
        return self

    @property
    def stack_name(self) -> str:
        return self.stack or self.name

    @cached_property
    def slot_length(self) -> timedelta:
        """How long the cohort's rollout occupies its upgrade window."""
        if self.duration is not None:
            return max(self.duration, MIN_SLOT)
        bake = sum(step.bake_seconds for step in parse_strategy(self.strategy).steps)
        return max(timedelta(seconds=bake), MIN_SLOT)


class Tenant(BaseModel):
    """One customer: where it is, when it may be upgraded, and what it asked for."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9-]{0,62}$")
    cohort: str
    timezone: TimeZoneName = "UTC"
    windows: tuple[Window, ...] = ()
    """Tuples, not lists: a fleet holds a million tenants, and most say no windows or
    seasons of their own; the empty tuple is one shared object, an empty list one each."""
    busy_seasons: tuple[DayRange, ...] = ()
    opt_out: OptOut | None = None
    contact: Annotated[str | None, AfterValidator(_check_email)] = None
    host: Host | None = None
    """Exact DNS name its requests carry: an ``alb`` pin matches on it, so it is one
    tenant's own (no wildcards, no other tenant's host)."""
    notice_days: int | None = Field(default=None, ge=0, le=365)

    @field_validator("windows", mode="wrap")
    @classmethod
    def _shared_windows(cls, value: Any,
                        handler: ValidatorFunctionWrapHandler) -> tuple[Window, ...]:
        """Tenants that write the same windows share one tuple of them: a fleet of a
        million writes a few dozen distinct ones, and planning tells tenants alike apart
        by that tuple. Anything else, mistakes included, is validated as it is written."""
        if isinstance(value, list | tuple):
            try:
                shared = _windows_from_texts(tuple(value))
            except TypeError:
                shared = None
            if shared is not None:
                return shared
        return _as_list_would(value, handler, _WINDOW_LIST)

    @field_validator("busy_seasons", mode="wrap")
    @classmethod
    def _seasons(cls, value: Any,
                 handler: ValidatorFunctionWrapHandler) -> tuple[DayRange, ...]:
        return _as_list_would(value, handler, _DAY_RANGE_LIST)


_WINDOW_LIST = TypeAdapter(list[Window])
_DAY_RANGE_LIST = TypeAdapter(list[DayRange])


def _as_list_would(value: Any, handler: ValidatorFunctionWrapHandler,
                   as_list: TypeAdapter[list[Any]]) -> tuple[Any, ...]:
    """``value`` validated into a tuple, but refused in the words a list would be.

    Such fields were lists; a file that writes something else than a list there
    (``windows: Sat 02:00-06:00``) still reads "Input should be a valid list".
    """
    if isinstance(value, list | tuple):
        validated: tuple[Any, ...] = handler(value)
        return validated
    return tuple(as_list.validate_python(value))


@lru_cache(maxsize=4096)
def _windows_from_texts(texts: tuple[object, ...]) -> tuple[Window, ...] | None:
    """The windows ``texts`` write, or ``None`` unless each of them is a good window."""
    if not all(isinstance(text, str) for text in texts):
        return None
    try:
        return tuple(_window_from_text(str(text)) for text in texts)
    except ValueError:
        return None


@contextmanager
def collector_paused() -> Iterator[None]:
    """Pause the cycle collector; afterwards, what survived moves to its oldest generation.

    For work over a whole fleet that makes no cyclic garbage: each pass of the
    collector would walk every tenant again (at a million tenants, two seconds a
    pass, and validation alone used to set off ten). Moving the survivors to the
    oldest generation (``gc.freeze`` then ``gc.unfreeze``) spares them the young
    generations' passes once the collector runs again. Left alone when it is off.
    """
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.freeze()
        gc.unfreeze()
        gc.enable()


MAX_BLOCKERS = 100
"""As many alarms as one ``DescribeAlarms`` call reads: every check reads them all at once."""


class AlarmBlocker(BaseModel):
    """A CloudWatch alarm that, while not OK, blocks starting or advancing any cohort.

    Written ``- alarm: api-5xx`` (a mapping, so other kinds of blocker can follow); the
    alarm is read in each cohort's own region.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    alarm: str = Field(min_length=1, max_length=255)

    @model_validator(mode="before")
    @classmethod
    def _a_mapping(cls, data: Any) -> Any:
        if isinstance(data, str):
            raise ValueError(f"write a blocker as `- alarm: {data}`")
        return data


class TenantsFile(BaseModel):
    """The whole ``tenants.yaml``."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    defaults: Defaults
    cohorts: list[Cohort] = Field(min_length=1)
    tenants: list[Tenant] = Field(default_factory=list)
    blockers: list[AlarmBlocker] = Field(default_factory=list, max_length=MAX_BLOCKERS)
    """Alarms that hold every cohort while they are not OK (Amazon's own practice)."""

    @model_validator(mode="wrap")
    @classmethod
    def _built_in_bulk(cls, data: Any,
                       handler: ModelWrapValidatorHandler[TenantsFile]) -> TenantsFile:
        """Validated with the cycle collector paused (see :func:`collector_paused`): at a
        million tenants its passes took three quarters of the validation time."""
        with collector_paused():
            return handler(data)

    def reference_problem(self) -> tuple[LinePath, str] | None:
        """The first mistake that spans fields, as (where in the file, what is wrong)."""
        names: dict[str, int] = {}
        orders: dict[int, int] = {}
        for index, cohort in enumerate(self.cohorts):
            if cohort.name in names:
                return ("cohorts", index, "name"), f"cohort {cohort.name!r} is defined twice"
            if cohort.order in orders:
                other = self.cohorts[orders[cohort.order]].name
                return (("cohorts", index, "order"),
                        f"order {cohort.order} is already used by cohort {other!r}")
            names[cohort.name] = index
            orders[cohort.order] = index
        alarms: set[str] = set()
        for index, blocker in enumerate(self.blockers):
            if blocker.alarm in alarms:
                return (("blockers", index, "alarm"),
                        f"alarm {blocker.alarm!r} is named twice")
            alarms.add(blocker.alarm)
        seen: set[str] = set()
        for index, tenant in enumerate(self.tenants):
            if tenant.id in seen:
                return ("tenants", index, "id"), f"duplicate tenant id {tenant.id!r}"
            seen.add(tenant.id)
            if tenant.cohort not in names:
                return (("tenants", index, "cohort"),
                        f"cohort {tenant.cohort!r} is not defined "
                        f"(cohorts: {', '.join(names)})")
        shared = shared_host([tenant.host for tenant in self.tenants])
        if shared is not None:
            first, second = (self.tenants[index] for index in shared)
            return (("tenants", shared[1], "host"),
                    f"host {second.host} is already the host of tenant {first.id}; each "
                    "tenant needs a host of its own")
        return None

    def ordered_cohorts(self) -> list[Cohort]:
        return sorted(self.cohorts, key=lambda c: c.order)

    def cohort(self, name: str) -> Cohort:
        for cohort in self.cohorts:
            if cohort.name == name:
                return cohort
        known = ", ".join(c.name for c in self.ordered_cohorts())
        raise BadInput(f"cohort {name!r} is not in the tenants file (cohorts: {known})")

    def members(self, cohort: str) -> list[Tenant]:
        """The tenants of ``cohort``, in file order."""
        return [tenant for tenant in self.tenants if tenant.cohort == cohort]

    def tenant(self, tenant_id: str) -> Tenant:
        for tenant in self.tenants:
            if tenant.id == tenant_id:
                return tenant
        raise BadInput(f"tenant {tenant_id!r} is not in the tenants file")

    def member(self, cohort: str, tenant_id: str) -> Tenant:
        """``tenant_id`` if it rides in ``cohort``: an operator may only pin a cohort's own.

        Pinning a tenant of another cohort would put a rule for someone else's host
        on this cohort's listener, so it is bad input, naming where the tenant is.
        """
        self.cohort(cohort)
        tenant = self.tenant(tenant_id)
        if tenant.cohort != cohort:
            raise BadInput(f"tenant {tenant_id} is not a member of cohort {cohort} (it belongs "
                           f"to {tenant.cohort}); name its own cohort: --cohort {tenant.cohort}")
        return tenant

    def windows_of(self, tenant: Tenant) -> tuple[Window, ...]:
        return tuple(tenant.windows or self.defaults.windows)

    def notice_of(self, tenant: Tenant) -> timedelta:
        days = self.defaults.notice_days if tenant.notice_days is None else tenant.notice_days
        return timedelta(days=days)


def load_tenants(path: Path) -> TenantsFile:
    """Read and check ``tenants.yaml``; :class:`BadInput` names file, line and field.

    Read with the cycle collector paused, as it is validated: a fleet's file is
    hundreds of thousands of nodes that all live until it is validated (half the
    reading time of 100,000 tenants was the collector walking them).
    """
    with collector_paused():
        data, lines = read_yaml(path)
        if data is None:
            raise BadInput(f"{path}:1: the file is empty")
        model = validate(TenantsFile, data, str(path), lines)
    problem = model.reference_problem()
    if problem is not None:
        where, message = problem
        line = line_of(lines, where)
        field = ".".join(str(part) for part in where)
        raise BadInput(f"{path}:{line or 1}: {field}: {message}")
    return model
