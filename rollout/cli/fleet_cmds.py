"""``rollout fleet start``: a release's next cohort, started when its turn and slot come.

Parse, call, render: which cohort is due is :mod:`rollout.rollouts.fleet_start`; starting
it is ``rollout start`` for that cohort, with the same options.
"""

from __future__ import annotations

import contextlib
import io
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from rollout.cli import app, context
from rollout.cli.output import console, emit
from rollout.cli.plan_cmds import ReleaseOption
from rollout.cli.rollout_cmds import (
    Driving,
    Output,
    Overrides,
    TenantsOpt,
    Timing,
    option_groups,
    start_cohort,
)

if TYPE_CHECKING:
    from rollout.rollouts.fleet_start import CohortMove

fleet_app = typer.Typer(help="The whole fleet: start a release's next cohort when its turn "
                        "and slot come.", no_args_is_help=True)
app.add_typer(fleet_app, name="fleet")


@fleet_app.command("start")
@option_groups
def fleet_start(
    release: ReleaseOption,
    tenants: TenantsOpt = None,
    driving: Driving = Driving(),
    overrides: Overrides = Overrides(),
    timing: Timing = Timing(),
    output: Output = Output(),
) -> None:
    """Start the release's next cohort if its turn and slot have come; say what the others
    wait for. Run it on a schedule (hourly, say) to walk the release through the fleet.

    A cohort's turn comes once every cohort before it is promoted and has baked the
    cohort's min_gap; its slot is planned with the notices sent. Each start runs its own
    preflight then (notices, configuration copy, security, the idle colour's health).
    Overrides apply to the cohort it starts, recorded there as `rollout start` records them.
    Exit 3 when a cohort rolled back or was aborted: the fleet waits for a human.
    """
    from rollout.choices.overlay import with_choices
    from rollout.errors import Blocked
    from rollout.model.tenants import load_tenants
    from rollout.rollouts.assembly import tenants_path
    from rollout.rollouts.executor import load_state
    from rollout.rollouts.fleet_start import FleetMove, fleet_moves
    from rollout.schedule.notice import NoticeRecord
    from rollout.vocabulary.clock import utc_now
    from rollout.vocabulary.ledger_keys import NOTICE_TENANT_PREFIX, notice_pk
    from rollout.vocabulary.versions import checked_version

    checked_version(release, "--release")
    driving.checked()
    ctx = context.current()
    path = tenants_path(tenants, ctx.project_dir)
    model = with_choices(load_tenants(path), ctx.choice_book(release).choices())
    states = {cohort.name: load_state(ctx.ledger, cohort.name)
              for cohort in model.ordered_cohorts()}
    notices = {record.tenant: record.sent_at for record in ctx.ledger.query(
        notice_pk(release), NOTICE_TENANT_PREFIX, NoticeRecord) if record.confirmed}
    moves = fleet_moves(model, release, states, notices, utc_now())
    if not output.as_json:
        _show_moves(release, moves)
    due = next((move for move in moves if move.move == FleetMove.START), None)
    started = None if due is None else _start(due.cohort, release, path, driving, overrides,
                                                   timing, output)
    if output.as_json:
        emit({"release": release, "cohorts": moves, "started": started}, True, print)
    stopped = [move for move in moves if move.move == FleetMove.STOPPED]
    if stopped:
        raise Blocked(f"cohort {stopped[0].cohort} {stopped[0].reason}")


def _start(cohort: str, release: str, tenants: Path, driving: Driving, overrides: Overrides,
           timing: Timing, output: Output) -> dict[str, Any] | None:
    """``rollout start`` of the due cohort. With ``--json`` its document becomes the
    ``started`` part of this command's one document rather than a second one."""
    if not output.as_json:
        start_cohort(cohort, release, None, tenants, driving, overrides, timing, output)
        return None
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        start_cohort(cohort, release, None, tenants, driving, overrides, timing, output)
    found: dict[str, Any] = json.loads(printed.getvalue())
    return {"cohort": cohort, **found}


def _show_moves(release: str, moves: list[CohortMove]) -> None:
    console.print(f"fleet start {release}:")
    for move in moves:
        console.print(f"  {move.describe()}")
