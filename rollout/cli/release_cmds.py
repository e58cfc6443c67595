"""``rollout release publish|list|verify|prune``: the artefact store from the command line."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from rollout.cli import app, context
from rollout.cli.output import JsonFlag, console, emit, err_console, shown

if TYPE_CHECKING:
    from rollout.artefacts.manifest import Manifest
    from rollout.artefacts.prune import Prune
    from rollout.artefacts.retention import RetentionPlan
    from rollout.artefacts.store import ArtefactStore, VerifyReport
    from rollout.artefacts.usage import VersionUse
    from rollout.plans import PlanStep

release_app = typer.Typer(help="Publish, list, verify and prune releases in the artefact store.",
                          no_args_is_help=True)
app.add_typer(release_app, name="release")


def _store() -> ArtefactStore:
    from rollout.artefacts.store import ArtefactStore

    ctx = context.current()
    return ArtefactStore.of(ctx.clients_for(ctx.shared), ctx.shared)


def _uses() -> list[VersionUse]:
    """Every use of a version in the fleet; pins as each cohort's own router holds them."""
    from rollout.artefacts.usage import fleet_uses
    from rollout.routers.configured import CohortRouters

    ctx = context.current()
    routers = CohortRouters.in_project(ctx.project_dir)
    return fleet_uses(ctx.discovery, ctx.ledger,
                      lambda cohort: routers.router(ctx.clients, cohort).pins())


def _size(size: int) -> str:
    value = float(size)
    for unit in ("B", "KB", "MB"):
        if value < 1024:
            return f"{size} B" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} GB"


@dataclass(frozen=True)
class ReleaseListing:
    """One release as ``release list`` shows it (a dataclass: help never loads pydantic)."""

    version: str
    created_at: str
    publisher: str
    files: int
    size: int
    in_use: list[str]


@dataclass(frozen=True)
class PruneResult:
    """What ``release prune`` decided and did (in a dry run: would delete)."""

    dry_run: bool
    plan: RetentionPlan
    deleted: list[str]
    deleted_objects: int


@release_app.command("publish")
def publish(
    version: Annotated[str, typer.Option("--version", help="Release version, e.g. 1.5.0.")],
    notes: Annotated[Path, typer.Option("--notes", help="The release notes (release.yaml).")],
    artefacts: Annotated[list[Path], typer.Argument(
        help="Files to publish.", metavar="ARTEFACT...")],
    image: Annotated[str | None, typer.Option(
        "--image", help="The container image an ecs colour runs, pinned by digest: "
                        "repo@sha256:<64 hex>. A tag is refused.")] = None,
    as_json: JsonFlag = False,
) -> None:
    """Upload artefacts and a manifest (sha256 of each file) under releases/<app>/<version>/.

    Published releases are write-once: every object is written with If-None-Match, so
    S3 refuses to replace one. Publishing a version that exists, or over files an
    interrupted publish left with other bytes, is refused (exit 2); losing a race to
    another publisher of the same version exits 3. A lambda colour runs the one .zip
    among the artefacts; an ecs colour runs --image.
    """
    from rollout.artefacts.colour_artefacts import checked_image
    from rollout.artefacts.notes import load_notes
    from rollout.artefacts.progress import RichUploadProgress
    from rollout.artefacts.store import artefact_sources

    pinned = checked_image(image)
    release_notes = load_notes(notes, version)
    artefact_sources(artefacts)
    store = _store()
    with RichUploadProgress(err_console) as progress:
        manifest = store.publish(release_notes, artefacts, progress, image=pinned)
    emit(manifest, as_json, lambda _: _show_manifest(store, manifest))


def _show_manifest(store: ArtefactStore, manifest: Manifest) -> None:
    from rich.table import Table

    console.print(f"published release {manifest.version} of {manifest.app} to "
                  f"{store.url(store.prefix(manifest.version))} as {manifest.publisher.arn}")
    table = Table()
    for column in ("file", "size", "sha256", "upload"):
        table.add_column(column)
    for artefact in manifest.files:
        parts = artefact.multipart_parts
        table.add_row(artefact.name, _size(artefact.size), f"{artefact.sha256[:16]}…",
                      f"multipart, {parts} parts" if parts else "single request")
    console.print(table)
    if manifest.image is not None:
        console.print(f"image (what an ecs colour runs): {manifest.image}")


@release_app.command("list")
def list_releases(as_json: JsonFlag = False) -> None:
    """Every published release, newest first, with where it is in use."""
    from rollout.artefacts.usage import uses_by_version

    store = _store()
    by_version = uses_by_version(_uses())
    listing = [ReleaseListing(
        version=m.version, created_at=f"{m.created_at:%Y-%m-%d %H:%M} UTC",
        publisher=m.publisher.arn, files=len(m.files), size=m.total_size,
        in_use=list(dict.fromkeys(use.describe() for use in by_version.get(m.version, []))),
    ) for m in store.manifests()]
    emit([asdict(entry) for entry in listing], as_json, lambda _: _show_listing(listing))


def _show_listing(listing: list[ReleaseListing]) -> None:
    if not listing:
        console.print("no releases published yet (rollout release publish ...)")
        return
    for entry in listing:
        console.print(f"[bold]{shown(entry.version)}[/]  published {shown(entry.created_at)} "
                      f"by {shown(entry.publisher)}, {entry.files} file(s), {_size(entry.size)}",
                      markup=True)
        for use in entry.in_use or ["not in use"]:
            console.print(f"    {use}")


@release_app.command("verify")
def verify(
    version: Annotated[str, typer.Option("--version", help="Release version to verify.")],
    as_json: JsonFlag = False,
) -> None:
    """Recompute each artefact's sha256 from S3 and compare it with the manifest (exit 1 if not)."""
    report = _store().verify(version)
    if report.ok or not as_json:
        emit(report, as_json, lambda _: _show_report(report))
    report.raise_if_failed()


def _show_report(report: VerifyReport) -> None:
    for check in report.files:
        if check.ok:
            console.print(f"[green]ok[/]       {shown(check.name)}  sha256 "
                          f"{shown(check.expected_sha256)}", markup=True)
        else:
            console.print(f"[bold red]MISMATCH[/] {shown(check.problem)}", markup=True)
    if report.ok:
        console.print(f"release {report.version}: all {len(report.files)} files match "
                      "the manifest")


@release_app.command("prune")
def prune(
    keep: Annotated[int, typer.Option("--keep",
                                      help="How many of the newest releases to keep (>= 1).")],
    dry_run: Annotated[bool, typer.Option("--dry-run",
                                          help="Print what would be deleted; delete nothing.")]
    = False,
    as_json: JsonFlag = False,
) -> None:
    """Delete releases older than the newest N, except any still in use or a rollback target."""
    from rollout.artefacts.prune import plan_prune
    from rollout.plans import display, execute

    pruning = plan_prune(_store(), _uses(), keep)

    def step_line(step: PlanStep) -> None:
        if not as_json:
            console.print(f"{'would ' if dry_run else ''}{step.describe()}")

    if not as_json:
        _show_decisions(pruning, dry_run)
    if dry_run:
        display(pruning.plan, step_line)
    else:
        execute(pruning.plan, step_line)
    result = PruneResult(dry_run=dry_run, plan=pruning.retention,
                         deleted=pruning.retention.deleted,
                         deleted_objects=0 if dry_run else pruning.objects)
    emit({**asdict(result), **pruning.plan.as_json(dry_run=dry_run)}, as_json,
         lambda _: _show_prune(result))


def _show_decisions(pruning: Prune, dry_run: bool) -> None:
    if dry_run:
        console.print(f"dry run of `{pruning.plan.command} --keep "
                      f"{pruning.retention.keep_newest}`: nothing was changed")
    for decision in pruning.retention.decisions:
        if decision.keep:
            console.print(f"keep    {decision.version}: {'; '.join(decision.reasons)}")


def _show_prune(result: PruneResult) -> None:
    """What follows the steps: releases the store lacks, and what the run did."""
    from rollout.artefacts.usage import uses_by_version

    for version, uses in uses_by_version(result.plan.not_in_store).items():
        why = "; ".join(dict.fromkeys(use.describe() for use in uses))
        err_console.print(f"[yellow]warning:[/] {shown(version)} is not in the store "
                          f"({shown(why)}): a rollback to it cannot be restored from the store",
                          markup=True)
    if not result.dry_run and result.deleted:
        console.print(f"{len(result.deleted)} release(s) deleted ({result.deleted_objects} "
                      "objects; their bytes remain as noncurrent S3 versions until the "
                      "bucket's lifecycle rule expires them)")
    elif not result.deleted:
        console.print("nothing to delete")
