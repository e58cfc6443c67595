"""What a tenant may choose about a release, and whether a submitted choice stands.

The rules, all on the tenant's own calendar and clock:

* a window must be one of the tenant's allowed windows (its own in ``tenants.yaml``, else
  the defaults' windows);
* an opt-out runs to a day after today and at most ``defaults.max_deferral`` from today;
* nothing can be chosen once the tenant's cohort has started a rollout of the release
  (one in progress or promoted: the upgrade is under way or done).

Pure: the page and each check are computed from the tenants file as written, the
choices recorded so far, the release notes, a planner and the time, so every refusal is
tested without AWS or a browser.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from rollout.choices.model import TenantChoice
from rollout.choices.overlay import with_choices
from rollout.choices.portal_api import ChoiceForm, ChoicePage, ChoiceRefused, WindowOption
from rollout.model.release import ReleaseNotes
from rollout.model.tenants import Tenant, TenantsFile, Window
from rollout.notify.render import describe_timeframe
from rollout.rollouts.state import RolloutState, Status
from rollout.schedule.plan import ReleasePlan, Timeframe
from rollout.schedule.windows import WindowProfile, contains, local_time

PlanOf = Callable[[TenantsFile], ReleasePlan]
"""Plans the release for a tenants file (the caller fixes the release, start and notices)."""

MAX_SOURCE = 200


def closed_reason(state: RolloutState | None, release: str) -> str | None:
    """Why choices about ``release`` are closed for a cohort whose rollout is ``state``."""
    if state is None or state.release != release:
        return None
    if state.status.active:
        return (f"the upgrade of your group to {release} started on "
                f"{state.started_at:%Y-%m-%d %H:%M} UTC: it can no longer be moved; write "
                "to us if you need it stopped")
    if state.status == Status.PROMOTED:
        return f"your group has been upgraded to {release} already"
    return None


@dataclass(frozen=True)
class ChoiceSubject:
    """One tenant and one release, and everything the rules read about them."""

    written: TenantsFile
    """``tenants.yaml`` as written: the allowed windows come from it, not from choices."""
    tenant: Tenant
    notes: ReleaseNotes
    choices: Sequence[TenantChoice]
    """Every choice recorded for the release (the plan honours all of them)."""
    plan_of: PlanOf
    now: datetime
    closed: str | None = None

    @property
    def allowed(self) -> tuple[Window, ...]:
        return self.written.windows_of(self.tenant)

    @property
    def today(self) -> date:
        """Today on the tenant's own calendar."""
        return local_time(self.now, self.tenant.timezone).date()

    @property
    def opt_out_latest(self) -> date:
        return self.today + timedelta(days=self.written.defaults.max_deferral.days)

    @property
    def recorded(self) -> TenantChoice | None:
        mine = [c for c in self.choices if c.tenant == self.tenant.id]
        return max(mine, key=lambda c: c.at) if mine else None

    def timeframe(self, extra: Sequence[TenantChoice] = ()) -> Timeframe | None:
        """The tenant's upgrade as planned with the recorded choices (and ``extra``)."""
        plan = self.plan_of(with_choices(self.written, [*self.choices, *extra]))
        return plan.timeframes().get(self.tenant.id)


def _when(timeframe: Timeframe | None) -> str:
    if timeframe is None:
        return "not yet scheduled: we will agree a date with you"
    return describe_timeframe(timeframe)


def _option(subject: ChoiceSubject, window: Window, planned: Timeframe | None) -> WindowOption:
    trial = TenantChoice(tenant=subject.tenant.id, release=subject.notes.version,
                         action="window", window=str(window), at=subject.now,
                         source="preview", nonce="preview")
    when = subject.timeframe([trial])
    label = f"{window} ({subject.tenant.timezone}): no slot found yet"
    if when is not None and when.local is not None:
        label = f"{window}: {when.local.describe()}"
    slot = planned.slot if planned is not None else None
    current = slot is not None and contains(
        WindowProfile(subject.tenant.timezone, (window,)), slot.start, slot.end)
    return WindowOption(value=str(window), label=label, current=current)


def choice_page(subject: ChoiceSubject, secret: str) -> ChoicePage:
    """The page ``subject.tenant`` sees; ``secret`` goes back with its form."""
    notes, tenant = subject.notes, subject.tenant
    planned = subject.timeframe()
    recorded = subject.recorded
    windows = [] if subject.closed else [_option(subject, w, planned) for w in subject.allowed]
    return ChoicePage(
        tenant=tenant.id, release=notes.version, title=notes.title, changes=list(notes.changes),
        benefits=list(notes.benefits), risks=list(notes.risks),
        rollback_plan=notes.rollback_plan, when=_when(planned), timezone=tenant.timezone,
        windows=windows, opt_out_latest=subject.opt_out_latest,
        opt_out_earliest=subject.today + timedelta(days=1), form_secret=secret,
        open=subject.closed is None, closed_reason=subject.closed,
        recorded=(f"you chose to {recorded.describe()} ({recorded.at:%Y-%m-%d %H:%M} UTC)"
                  if recorded else None))


def _checked_window(subject: ChoiceSubject, text: str | None) -> Window:
    shown = ", ".join(str(w) for w in subject.allowed)
    try:
        window = Window.model_validate((text or "").strip())
    except ValueError:
        raise ChoiceRefused(f"choose one of your upgrade windows: {shown}") from None
    if window not in subject.allowed:
        raise ChoiceRefused(f"{window} is not one of your upgrade windows ({shown}); "
                            "choose one of them")
    return window


def _checked_until(subject: ChoiceSubject, until: date | None) -> date:
    latest = subject.opt_out_latest
    if until is None:
        raise ChoiceRefused("give the date until which you stay on your current version")
    if until <= subject.today:
        raise ChoiceRefused(f"the date must be after today ({subject.today})")
    if until > latest:
        days = subject.written.defaults.max_deferral.days
        raise ChoiceRefused(f"you can stay on your current version for at most {days} days, "
                            f"until {latest} at the latest")
    return until


def check_choice(subject: ChoiceSubject, form: ChoiceForm, nonce: str) -> TenantChoice:
    """The choice ``form`` makes, made with the link named ``nonce``; :class:`ChoiceRefused`
    (nothing to record) when a rule forbids it."""
    if subject.closed is not None:
        raise ChoiceRefused(subject.closed)
    window: str | None = None
    until: date | None = None
    if form.action == "window":
        window = str(_checked_window(subject, form.window))
    elif form.action == "opt_out":
        until = _checked_until(subject, form.until)
    elif form.action != "confirm":
        raise ChoiceRefused("choose a window, a date to stay on your current version, or "
                            "confirm the planned time")
    return TenantChoice(tenant=subject.tenant.id, release=subject.notes.version,
                        action=form.action, window=window, until=until, at=subject.now,
                        source=form.source[:MAX_SOURCE], nonce=nonce)


def outcome(subject: ChoiceSubject, choice: TenantChoice) -> str:
    """What happens now that ``choice`` is recorded, in the tenant's own time."""
    when = _when(subject.timeframe([choice]))
    if choice.action == "window":
        return f"your upgrade moves to {when}"
    if choice.action == "opt_out":
        return (f"you stay on your current version until {choice.until}; your upgrade then "
                f"follows: {when}")
    return f"thank you: your upgrade stays as planned, {when}"
