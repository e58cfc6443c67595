"""``rollout config diff|copy|carry-back``: tenant settings between a cohort's colours.

Values are never printed: plain values appear in the table (an operator needs
them to judge a conflict), secrets only as ``(secret, equal)`` or
``(secret, differs)``. Conflicts left alone exit 3 (blocked), a failed
verification exits 1; the report is printed either way, and with ``--json`` it
is the one JSON document on stdout (with ``error`` and ``exit_code`` added).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from types import TracebackType
from typing import TYPE_CHECKING, Annotated, Any

import typer

from rollout.cli import app, context
from rollout.cli.output import JsonFlag, console, emit, err_console
from rollout.errors import RolloutError

if TYPE_CHECKING:
    from rich.progress import Progress
    from rich.table import Table

    from rollout.configcopy import ConfigCopier, ConfigPlan, CopyReport, DiffReport, ItemReport
    from rollout.plans import PlanStep

config_app = typer.Typer(help="Tenant settings between colours: diff, copy + verify, carry back.",
                         no_args_is_help=True)
app.add_typer(config_app, name="config")

PROGRESS_THRESHOLD = 300
ALL_ROWS_UP_TO = 40
VALUE_WIDTH = 40

Cohort = Annotated[str, typer.Option("--cohort", help="Cohort whose colours to compare.")]
FromColour = Annotated[str, typer.Option("--from", help="Colour to copy from (blue or green).")]
ToColour = Annotated[str, typer.Option("--to", help="Colour to copy to (blue or green).")]
TenantOption = Annotated[str | None, typer.Option(
    "--tenant", help="Only this tenant's settings (default: every tenant of the cohort).")]
SecretsManagerFlag = Annotated[bool, typer.Option(
    "--secrets-manager", help="Also the tenant secrets in Secrets Manager "
    "(<app>/<cohort>/<colour>/<tenant>/<key>).")]
DryRunFlag = Annotated[bool, typer.Option(
    "--dry-run", help="Show what would be written; write nothing.")]
ForceFlag = Annotated[bool, typer.Option(
    "--force", help="Overwrite conflicts (target values someone changed there).")]


class ProgressBar:
    """A progress bar on stderr for stages of more than a few hundred items.

    Passed to the copier as its progress callback; stages run in worker threads
    too, hence the lock.
    """

    def __init__(self, enabled: bool) -> None:
        self._enabled = enabled
        self._progress: Progress | None = None
        self._tasks: dict[tuple[str, int], Any] = {}
        self._lock = threading.Lock()

    def __call__(self, stage: str, done: int, total: int) -> None:
        if not self._enabled or total < PROGRESS_THRESHOLD:
            return
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
        )

        with self._lock:
            if self._progress is None:
                self._progress = Progress(
                    TextColumn("{task.description}", markup=False), BarColumn(),
                    MofNCompleteColumn(),
                    TimeElapsedColumn(), console=err_console, transient=True)
                self._progress.start()
            task = self._tasks.get((stage, total))
            if task is None:
                task = self._tasks[(stage, total)] = self._progress.add_task(stage, total=total)
            self._progress.update(task, completed=done)

    def __enter__(self) -> ProgressBar:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        if self._progress is not None:
            self._progress.stop()


def _copier(cohort_name: str, secrets_manager: bool, progress: ProgressBar) -> ConfigCopier:
    from rollout.aws_clients import AwsClients
    from rollout.configcopy import ConfigCopier
    from rollout.rollouts.ledger import Ledger

    cohort = context.current().cohort(cohort_name)
    clients = AwsClients(retry_mode="adaptive")
    ledger = Ledger(clients.for_region(cohort.shared_region), cohort.ledger_table)
    return ConfigCopier(clients.for_region(cohort.region), cohort, ledger,
                        secrets_manager=secrets_manager, progress=progress)


# rendering -------------------------------------------------------------
def _clip(value: str | None) -> str:
    if value is None:
        return "-"
    text = repr(value)
    return text if len(text) <= VALUE_WIDTH else text[:VALUE_WIDTH - 1] + "…"


def _table(report: DiffReport | CopyReport, title: str) -> Table | None:
    from rich.table import Table

    from rollout.configcopy import Difference

    items = report.items
    shown = items if len(items) <= ALL_ROWS_UP_TO else [
        i for i in items if i.status not in (Difference.EQUAL, Difference.UNCHANGED)]
    if not shown:
        return None
    stores = len({i.store for i in items}) > 1
    table = Table(title=title)
    for column in (*(["store"] if stores else []), "tenant", "key", "type", "status",
                   f"on {report.source}", f"on {report.target}", "action"):
        table.add_column(column)
    for item in shown:
        table.add_row(*([item.store.value] if stores else []), item.tenant,
                      item.key.split("/", 1)[-1], item.kind or "-", item.status.value,
                      *_values(item), _action(item, report))
    return table


def _values(item: ItemReport) -> tuple[str, str]:
    """The two value cells; a secret shows only whether it is there and how it compares."""
    from rollout.configcopy import Difference

    if not item.secret:
        return _clip(item.source_value), _clip(item.target_value)
    if item.status == Difference.MISSING:
        return "(secret)", "-"
    if item.status in (Difference.EXTRA, Difference.DELETED):
        return "-", "(secret)"
    return item.secret_value or "(secret)", ""


def _action(item: ItemReport, report: DiffReport | CopyReport) -> str:
    from rollout.configcopy import Difference, DiffReport, WriteKind

    if isinstance(report, DiffReport) or item.action == WriteKind.NONE:
        return "left alone" if item.status == Difference.CONFLICT else ""
    return item.action.value if item.done else f"would {item.action.value}"


def _counts(report: DiffReport | CopyReport) -> str:
    total = len(report.items)
    parts = ", ".join(f"{n} {status}" for status, n in report.counts.items())
    return f"{total} setting{'s' if total != 1 else ''}" + (f": {parts}" if parts else "")


def _show_diff(report: DiffReport) -> None:
    scope = f"tenant {report.tenant}" if report.tenant else "every tenant"
    table = _table(report, f"cohort {report.cohort}: {report.source} → {report.target} "
                           f"({scope})")
    if table is not None:
        console.print(table)
    console.print(_counts(report))


def _show_copy(report: CopyReport) -> None:
    from rollout.configcopy import WriteKind

    verb = "carry back" if report.operation == "carry-back" else "copy"
    table = _table(report, f"cohort {report.cohort}: {verb} {report.source} → {report.target}")
    if table is not None:
        console.print(table)
    console.print(_counts(report))
    planned = sum(1 for i in report.items if i.action != WriteKind.NONE)
    if report.dry_run:
        console.print(f"dry run: would write {planned}; nothing was written")
        return
    console.print(f"wrote {report.written}")
    if report.verification is not None:
        verified = report.verification
        state = "ok" if verified.ok else f"{len(verified.mismatched)} mismatched"
        console.print(f"verified {verified.checked} on {report.target}: {state}")
    if report.snapshot_recorded:
        console.print("snapshot (names, versions, hashes of plain values) recorded in the ledger")


def _show(report: DiffReport | CopyReport) -> None:
    from rollout.configcopy import DiffReport

    if isinstance(report, DiffReport):
        _show_diff(report)
    else:
        _show_copy(report)


def _say_step(dry_run: bool) -> Callable[[PlanStep], None]:
    """Print each step as it is displayed (``would ...``) or about to be applied."""
    def say(step: PlanStep) -> None:
        console.print(f"would {step.describe()}" if dry_run else step.describe())
    return say


def _apply(plan: ConfigPlan, dry_run: bool,
           as_json: bool) -> tuple[CopyReport, RolloutError | None]:
    """Display or apply the plan, saying each step; the report and the error it ends with."""
    from rollout.configcopy import VerificationFailed, conflicts_left_alone

    say = None if as_json else _say_step(dry_run)
    try:
        report = plan.display(say) if dry_run else plan.execute(say)
    except VerificationFailed as failed:
        return failed.report, failed
    return report, conflicts_left_alone(report)


def _finish(report: CopyReport, problem: RolloutError | None, as_json: bool) -> None:
    """Print the report, then raise the problem for the CLI to print and exit with.

    With ``--json`` a problem's report is printed by the CLI, with the error, as one
    document (the error carries it); for people the report comes first, here.
    """
    if problem is None:
        emit(report, as_json, lambda _: _show(report))
        return
    if not as_json:
        _show(report)
    raise problem


# commands --------------------------------------------------------------
@config_app.command("diff")
def diff(cohort: Cohort, source: FromColour, target: ToColour, tenant: TenantOption = None,
         secrets_manager: SecretsManagerFlag = False, as_json: JsonFlag = False) -> None:
    """For every tenant: the settings missing, equal or different on the target colour."""
    from rollout.configcopy import check_colours

    check_colours(source, target)
    with ProgressBar(not as_json) as progress:
        report = _copier(cohort, secrets_manager, progress).diff(source, target, tenant)
    emit(report, as_json, lambda _: _show(report))


@config_app.command("copy")
def copy(cohort: Cohort, source: FromColour, target: ToColour, tenant: TenantOption = None,
         dry_run: DryRunFlag = False, force: ForceFlag = False,
         secrets_manager: SecretsManagerFlag = False, as_json: JsonFlag = False) -> None:
    """Copy every setting of the source colour to the target colour, then verify it.

    Types, KMS keys, descriptions, tiers, allowed patterns, data types and tags are
    preserved. A target value someone changed is a conflict: reported (exit 3) and
    left alone unless --force. A failed verification exits 1. Safe to re-run.
    """
    from rollout.configcopy import check_colours

    check_colours(source, target)
    with ProgressBar(not as_json) as progress:
        plan = _copier(cohort, secrets_manager, progress).plan_copy(source, target, tenant, force)
        report, problem = _apply(plan, dry_run, as_json)
    _finish(report, problem, as_json)


@config_app.command("carry-back")
def carry_back(cohort: Cohort, source: Annotated[str, typer.Option(
                   "--from", help="The new colour, whose changes since the copy to carry back.")],
               target: Annotated[str, typer.Option(
                   "--to", help="The old colour, which receives them.")],
               tenant: TenantOption = None, dry_run: DryRunFlag = False,
               force: ForceFlag = False, secrets_manager: SecretsManagerFlag = False,
               as_json: JsonFlag = False) -> None:
    """After a rollback: carry the settings changed on the new colour since the copy back.

    Exact, from the snapshot the copy recorded. A key changed on both colours is a
    conflict: reported (exit 3) and left alone unless --force. `rollout rollback`
    does this by itself; this command is for doing it by hand.
    """
    from rollout.configcopy import check_colours

    check_colours(source, target)
    with ProgressBar(not as_json) as progress:
        plan = _copier(cohort, secrets_manager, progress).plan_carry_back(source, target, tenant,
                                                                          force)
        report, problem = _apply(plan, dry_run, as_json)
    _finish(report, problem, as_json)
