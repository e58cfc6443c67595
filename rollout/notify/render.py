"""Render a tenant's notice from the release notes and its place in the plan.

A customer reads what changes, what it gains, when (its own slot on its own
wall clock), what could go wrong, how we would undo it, and how to say no or
pick another time. Pure text: the same inputs give the same notice.
"""

from __future__ import annotations

from datetime import timedelta

from rollout.model.release import ReleaseNotes
from rollout.model.tenants import Tenant
from rollout.notify.base import Notice
from rollout.schedule.plan import Timeframe


def _bullets(items: list[str]) -> str:
    return "\n".join(f"  - {item}" for item in items)


def describe_timeframe(timeframe: Timeframe) -> str:
    """The tenant's upgrade time, local first, as one line."""
    if timeframe.slot is None or timeframe.local is None:
        return "not yet scheduled: we will agree a date with you"
    local = timeframe.local.describe()
    if timeframe.local.start.utcoffset() == timedelta(0):
        return local
    return f"{local} ({timeframe.slot.describe()})"


def choose_line(link: str | None, reply_to: str | None) -> str:
    """How the tenant picks another time or stays on its version: its own link (see
    :mod:`rollout.choices.tokens`) when the provider runs the preferences page."""
    write_to = f"write to {reply_to}" if reply_to else "reply to this notice"
    if link is None:
        return (f"Another time, or not now? {write_to.capitalize()} before your upgrade: we "
                f"can move you to another of your upgrade windows, or keep you on the current "
                f"version until a date you choose (opt-out).\n")
    return (f"Choose another window or stay on your current version: {link}\n"
            f"(This link is for you alone: it works once, for 30 days at most and not "
            f"after your upgrade has begun. Questions? {write_to.capitalize()}.)\n")


def render_notice(notes: ReleaseNotes, tenant: Tenant, timeframe: Timeframe,
                  reply_to: str | None, link: str | None = None) -> Notice:
    """The notice ``tenant`` gets for ``notes``, its upgrade at ``timeframe``; ``link`` is
    its preferences page link, when there is one."""
    when = describe_timeframe(timeframe)
    later = (f"\nYou are not upgraded with the rest of your cohort ({timeframe.note}); "
             "the time above is your own slot.\n" if timeframe.note else "")
    body = (
        f"Release {notes.version}: {notes.title}\n"
        f"\n"
        f"Your tenant {tenant.id} will be upgraded to version {notes.version}.\n"
        f"\n"
        f"When (your local time): {when}\n"
        f"{later}"
        f"{notes.timeframe}\n"
        f"\n"
        f"What changes:\n{_bullets(notes.changes)}\n"
        f"\n"
        f"What you gain:\n{_bullets(notes.benefits)}\n"
        f"\n"
        f"Risks:\n{_bullets(notes.risks)}\n"
        f"\n"
        f"If something goes wrong: {notes.rollback_plan}\n"
        f"\n"
        f"{choose_line(link, reply_to)}"
    )
    slot = timeframe.slot
    short = timeframe.local.describe() if timeframe.local else "date to be agreed"
    return Notice(
        tenant=tenant.id, release=notes.version, contact=tenant.contact,
        subject=f"Upgrade to {notes.version} for {tenant.id}: {short}",
        body=body, slot_start=slot.start if slot else None, slot_end=slot.end if slot else None)


def render_confirmation(notes: ReleaseNotes, tenant: Tenant, chosen: str, timeframe: Timeframe,
                        reply_to: str | None, link: str | None = None) -> Notice:
    """What ``tenant`` hears once its choice (``chosen``, in words) is recorded: what it
    chose and when its upgrade is now; ``link`` lets it change its mind."""
    when = describe_timeframe(timeframe)
    again = (f"Changed your mind? Choose again: {link}\n" if link else
             choose_line(None, reply_to))
    body = (
        f"Release {notes.version}: {notes.title}\n"
        f"\n"
        f"We recorded your choice for tenant {tenant.id}: {chosen}.\n"
        f"\n"
        f"Your upgrade to {notes.version} (your local time): {when}\n"
        f"\n"
        f"{again}"
    )
    slot = timeframe.slot
    return Notice(
        tenant=tenant.id, release=notes.version, contact=tenant.contact,
        subject=f"Your choice for {notes.version} is recorded ({tenant.id})",
        body=body, slot_start=slot.start if slot else None, slot_end=slot.end if slot else None)
