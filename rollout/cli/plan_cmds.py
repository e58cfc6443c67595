"""``rollout plan`` and ``rollout notify``: the schedule customers are told about, and telling them.

``plan`` needs no AWS: it includes the customers' recorded choices when the ledger can
be read, and says on stderr when it cannot. ``notify`` reads the notices topic and
ledger of the shared stack. Both check every file they read before touching AWS, and
both plan from ``tenants.yaml`` with the choices laid over it
(:func:`rollout.choices.overlay.with_choices`), as ``start`` pins from it.
"""

from __future__ import annotations

import os
import re
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from rollout.cli import app, context
from rollout.cli.output import JsonFlag, console, emit, shown
from rollout.errors import BadInput
from rollout.vocabulary.clock import as_utc, utc_now

if TYPE_CHECKING:
    from rollout.choices.links import ChoiceLinks
    from rollout.model.tenants import TenantsFile
    from rollout.notify.base import Notifier
    from rollout.notify.campaign import NotifyReport
    from rollout.schedule.plan import CohortPlan, ReleasePlan

LISTED_PER_GROUP = 25
"""Beyond this many tenants at one local time, the table names a few and counts the rest."""

ReleaseOption = Annotated[str, typer.Option("--release", help="Release version, e.g. 1.5.0.")]
TenantsOption = Annotated[Path, typer.Option(
    "--tenants", help="The tenants file (see examples/tenants.yaml).")]
FromOption = Annotated[str | None, typer.Option(
    "--from", help="Plan from this date or time (ISO, UTC unless it has an offset; "
                   "default: now).")]


def parse_from(text: str | None) -> datetime:
    """``--from``: a date (midnight UTC) or an ISO date-time; default now."""
    if text is None:
        return utc_now()
    try:
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text.strip()):
            return as_utc(datetime.combine(date.fromisoformat(text.strip()), datetime.min.time()))
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise BadInput(f"--from {text!r} is not a date like 2026-01-12 or a time like "
                       "2026-01-12T09:00") from None
    return as_utc(moment)


def _slot_text(cohort: CohortPlan) -> str:
    if cohort.slot is None:
        return "no slot"
    return cohort.slot.describe()


def show_plan(plan: ReleasePlan) -> None:
    from rich.table import Table
    from rich.text import Text

    from rollout.schedule.plan import utc_text

    console.print(f"[bold]Plan for release {shown(plan.release)}[/] from "
                  f"{shown(utc_text(plan.planned_from))} (notices not yet sent are assumed "
                  "sent then)", markup=True)
    for cohort in plan.cohorts:
        table = Table(title=f"{cohort.order}. {cohort.cohort}: {_slot_text(cohort)}",
                      title_justify="left")
        for column in ("tenant", "local time", "status"):
            table.add_column(column)
        for group in cohort.included:
            if len(group.tenants) > LISTED_PER_GROUP:
                named = ", ".join(group.tenants[:3])
                table.add_row(f"{named} and {len(group.tenants) - 3:,} more",
                              group.local.describe(), "included")
                continue
            for tenant in group.tenants:
                table.add_row(tenant, group.local.describe(), "included")
        for excluded in cohort.excluded:
            follow = (f"follows {excluded.follow_up_local.describe()}"
                      if excluded.follow_up_local else "no slot of its own")
            status = Text(f"excluded ({excluded.kind}): {excluded.reason}")
            if excluded.flag:
                status.append(f" FLAG: {excluded.flag}", style="bold red")
            table.add_row(excluded.tenant, follow, status)
        console.print(table)
        if cohort.problem:
            console.print(f"  [bold red]problem:[/] {shown(cohort.problem)}", markup=True)
        for delay in cohort.delays:
            console.print(f"  why not earlier: {delay}")
    flags = plan.flags()
    if flags:
        console.print(f"[bold red]{len(flags)} item(s) need a decision:[/]", markup=True)
        for flag in flags:
            console.print(f"  - {flag}")


@app.command("plan")
def plan(release: ReleaseOption, tenants: TenantsOption, start: FromOption = None,
         as_json: JsonFlag = False) -> None:
    """Print when each cohort goes, who is in it, and why anyone is not (no AWS needed;
    customers' recorded choices are included when the ledger can be read)."""
    from rollout.choices.overlay import with_choices
    from rollout.model.tenants import load_tenants
    from rollout.schedule.planner import plan_release
    from rollout.vocabulary.versions import checked_version

    version = checked_version(release, "--release")
    model = load_tenants(tenants)
    planned_from = parse_from(start)
    chosen = with_choices(model, context.current().choices_if_reachable(version))
    emit(plan_release(chosen, version, planned_from), as_json, show_plan)


def webhook_url(url_file: Path | None) -> tuple[str, str]:
    """The webhook URL and where it came from: ``--webhook-url-file``, else the environment.

    Never an argument: a command line is visible to every local user in ``ps``.
    """
    from rollout.notify.webhook import URL_ENV

    if url_file is None:
        url = os.environ.get(URL_ENV, "").strip()
        if not url:
            raise BadInput(f"--channel webhook needs the webhook URL in {URL_ENV} or in a file "
                           "named by --webhook-url-file")
        return url, URL_ENV
    try:
        lines = url_file.read_text(encoding="utf-8").split()
    except (OSError, UnicodeError) as exc:
        raise BadInput(f"--webhook-url-file {url_file}: cannot read it "
                       f"({getattr(exc, 'strerror', None) or type(exc).__name__})") from None
    if len(lines) != 1:
        raise BadInput(f"{url_file}: should hold the webhook URL alone on one line")
    return lines[0], str(url_file)


def allow_hosts() -> list[str]:
    """Hosts that may resolve to internal addresses, from ``ROLLOUT_WEBHOOK_ALLOW_HOSTS``."""
    from rollout.host_allow_list import hosts_named_in
    from rollout.notify.webhook import ALLOW_HOSTS_ENV

    return sorted(hosts_named_in(ALLOW_HOSTS_ENV))


def _notifier(channel: str, url_file: Path | None) -> Notifier:
    from rollout.notify.base import NOTIFIERS

    factory = NOTIFIERS.get(channel)
    ctx = context.current()
    if channel == "webhook":
        url, source = webhook_url(url_file)
        try:
            return factory(ctx.clients, {"url": url, "allow_hosts": allow_hosts()})
        except BadInput as exc:
            raise BadInput(f"{source}: {exc}") from None
    if url_file is not None:
        raise BadInput("--webhook-url-file is only for --channel webhook")
    return factory(ctx.clients_for(ctx.shared), {"topic_arn": ctx.shared.notices_topic_arn})


def show_report(report: NotifyReport) -> None:
    from rich.table import Table

    if report.sent:
        table = Table(title=f"notices for release {report.release}", title_justify="left")
        for column in ("tenant", "timeframe", "channel", "message id"):
            table.add_column(column)
        for sent in report.sent:
            table.add_row(sent.tenant, sent.timeframe, sent.channel, sent.message_id)
        console.print(table)
    console.print(report.summary())


@app.command("notify")
def notify(
    release: ReleaseOption,
    tenants: TenantsOption,
    notes: Annotated[Path, typer.Option("--notes", help="The release notes (release.yaml).")],
    start: FromOption = None,
    channel: Annotated[str, typer.Option(
        "--channel", help="Where notices go: sns (the notices topic) or webhook.")] = "sns",
    url_file: Annotated[Path | None, typer.Option(
        "--webhook-url-file",
        help="A file holding the webhook URL (with --channel webhook; default: "
             "$ROLLOUT_WEBHOOK_URL). Internal hosts must be named in "
             "$ROLLOUT_WEBHOOK_ALLOW_HOSTS.")] = None,
    refused_url: Annotated[str | None, typer.Option("--webhook-url", hidden=True)] = None,
    as_json: JsonFlag = False,
) -> None:
    """Send each tenant its notice for a release, once, and record it in the ledger; confirm
    each choice a tenant made on the preferences page, once."""
    from rollout.choices.overlay import with_choices
    from rollout.model.release import load_release_notes
    from rollout.model.tenants import load_tenants
    from rollout.notify.campaign import send_notices
    from rollout.notify.records import NoticeBook
    from rollout.notify.webhook import URL_ENV
    from rollout.vocabulary.versions import checked_version

    if refused_url is not None:
        raise BadInput(f"--webhook-url is refused: a command line is visible to every local "
                       f"user (ps); put the URL in {URL_ENV} or a file named by "
                       "--webhook-url-file, and rotate its token")
    version = checked_version(release, "--release")
    model: TenantsFile = load_tenants(tenants)
    release_notes = load_release_notes(notes, version, "--release")
    plan_from = parse_from(start)
    notifier = _notifier(channel, url_file)
    ctx = context.current()
    book = NoticeBook(ctx.ledger, version)
    choices = ctx.choice_book(version).choices()
    report = send_notices(release_notes, with_choices(model, choices), book, notifier,
                          plan_from, utc_now(), _choice_links(model), choices)
    emit(report, as_json, show_report)


def _choice_links(model: TenantsFile) -> ChoiceLinks | None:
    """Links to the preferences page when ``defaults.portal_url`` names one."""
    from rollout.choices.links import links_for

    if model.defaults.portal_url is None:
        return None
    ctx = context.current()
    return links_for(model, ctx.clients_for(ctx.shared), ctx.app)
