"""``rollout report --html FILE``: the fleet's rollouts as one self-contained HTML page."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from rollout.cli import app, context
from rollout.cli.output import JsonFlag, console, emit, shown
from rollout.errors import BadInput

if TYPE_CHECKING:
    from rollout.report.model import ReportSummary


def check_target(path: Path) -> Path:
    """Refuse a path the page cannot be written to before reading anything from AWS."""
    if path.is_dir():
        raise BadInput(f"--html {path}: is a directory; give a file name like report.html")
    parent = path.parent
    if not parent.is_dir():
        raise BadInput(f"--html {path}: directory {parent} does not exist")
    if not os.access(parent, os.W_OK):
        raise BadInput(f"--html {path}: directory {parent} is not writable")
    return path


REPORT_MODE = 0o600
"""The page names tenants, versions and gate evidence: only the user may read it."""


def write_page(path: Path, page: str) -> None:
    """Write through a private temporary file, so a browser never sees half a report.

    The temporary file is created 0600 and renamed over ``path``, so the page is
    never readable by others, not even for a moment, whatever the umask.
    """
    with tempfile.NamedTemporaryFile("w", encoding="utf-8", dir=path.parent,
                                     prefix=f".{path.name}.", delete=False) as handle:
        try:
            os.fchmod(handle.fileno(), REPORT_MODE)
            handle.write(page)
        except BaseException:
            handle.close()
            os.unlink(handle.name)
            raise
    os.replace(handle.name, path)


def _print_summary(summary: ReportSummary) -> None:
    rollbacks = sum(c.rollbacks for c in summary.cohorts)
    events = sum(c.events for c in summary.cohorts)
    console.print(f"report written to [bold]{shown(summary.path)}[/]: {len(summary.cohorts)} "
                  f"cohort(s), {summary.tenants} tenant(s), {events} event(s), "
                  f"{rollbacks} rollback(s)", markup=True)
    for cohort in summary.cohorts:
        console.print(f"  {cohort.cohort}: {cohort.status}"
                      + (f" {cohort.release}" if cohort.release else ""))


@app.command("report")
def report(
    html_file: Annotated[Path, typer.Option(
        "--html", help="Write the report to this HTML file (self-contained, no network).")],
    cohorts: Annotated[list[str] | None, typer.Option(
        "--cohort", help="Only this cohort (repeatable; default: every deployed cohort).")]
    = None,
    as_json: JsonFlag = False,
) -> None:
    """Timeline of traffic weights, gate results and rollbacks, tenants and event history."""
    from rollout.report.data import gather_report
    from rollout.report.html import render_page
    from rollout.report.model import summarize
    from rollout.routers.configured import CohortRouters

    target = check_target(html_file)
    ctx = context.current()
    names = list(dict.fromkeys(cohorts)) if cohorts else ctx.discovery.cohorts()
    if not names:
        raise BadInput(f"app {ctx.app!r} has no deployed cohorts to report on (deploy one "
                       "with `pulumi up`, or `rollout local up --cohort C` against moto)")
    data = gather_report(ctx.clients, ctx.discovery, ctx.ledger, ctx.app, names,
                         routers=CohortRouters.in_project(ctx.project_dir))
    write_page(target, render_page(data))
    emit(summarize(data, str(target.resolve())), as_json, _print_summary)
