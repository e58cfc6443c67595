"""``rollout demo``, ``rollout local server`` and ``rollout local up``: the local stand-ins.

Loaded through the ``tenant_rollout.commands`` entry point, so the core never
imports this package. Importing it registers the stand-ins by name: the ``local``
deployer (``stacks up --local``, ``rollback --to-version V --local``) and the
``local`` stack-outputs source (the local deployer's record, read when the clients
talk to a local endpoint), see :mod:`rollout.stacks.providers`. Everything heavy is
imported when used, so loading this module costs the CLI's start-up next to nothing;
without moto (the ``[local]`` extra), each stand-in says what to install.
"""

from __future__ import annotations

import signal
import time
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from rollout.cli import app, context
from rollout.cli.output import JsonFlag, console, emit, err_console, print_json
from rollout.errors import BadInput
from rollout.stacks.providers import (
    DEPLOYERS,
    LOCAL,
    OUTPUTS_SOURCES,
    DeployerSetup,
)

if TYPE_CHECKING:
    from collections.abc import Callable

    from rollout.aws_clients import AwsClients
    from rollout.cli.live_progress import LiveProgress
    from rollout.discovery import OutputsSource
    from rollout.local.deployer import DeployResult, LocalDeployer
    from rollout.local.traffic import Tally, TrafficSummary
    from rollout.stacks.base import StackDeployer
    from rollout.stacks.stack_file import StackFile

local_app = typer.Typer(help="Local mode: a moto server and the local deployer (a test double).",
                        no_args_is_help=True)
app.add_typer(local_app, name="local")


def _local_deployer(setup: DeployerSetup) -> StackDeployer:
    return _deployer(setup.project_dir, setup.clients)


def _deployer(project_dir: Path, clients: AwsClients | None = None) -> LocalDeployer:
    from rollout.local.deployer import LocalDeployer
    from rollout.local.server import require_local_extra

    require_local_extra()
    return LocalDeployer(project_dir, clients)


def _local_outputs(clients: AwsClients, app_name: str, project_dir: Path) -> OutputsSource | None:
    from rollout.local.record import local_record_outputs

    return local_record_outputs(clients, app_name)


DEPLOYERS.register(LOCAL)(_local_deployer)
OUTPUTS_SOURCES.register(LOCAL)(_local_outputs)


@local_app.command("server")
def server(port: Annotated[int, typer.Option(help="Loopback port to listen on.")] = 5000) -> None:
    """Run a moto server in the foreground (request logging off). Ctrl-C stops it."""
    from rollout.local.server import embedded_moto, require_local_extra

    require_local_extra()
    # Started from a script's background job, SIGINT arrives ignored and Python keeps it
    # so: "Ctrl-C stops it" (or kill -INT) must hold however the server was started.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    with embedded_moto(port) as endpoint:
        console.print(f"moto server listening on {endpoint} (Ctrl-C stops it)")
        console.print(f"in another shell: export AWS_ENDPOINT_URL={endpoint} "
                      "AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing")
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            console.print("stopped")


def _subject(stack_file: StackFile) -> str:
    from rollout.model.stack import CohortStackConfig

    if isinstance(stack_file.config.stack, CohortStackConfig):
        return f"cohort {stack_file.stack}"
    return "the shared stack"


def _show(results: list[DeployResult]) -> None:
    from rich.table import Table

    table = Table(title="local deployer (moto): what was deployed")
    for column in ("stack", "created", "unchanged", "listener / bucket"):
        table.add_column(column)
    for result in results:
        where = result.outputs.get("listenerArn") or result.outputs.get("artefactBucket", "")
        table.add_row(result.stack, str(len(result.created)), str(len(result.reused)), where)
    console.print(table)


@local_app.command("up")
def up(
    cohort: Annotated[str, typer.Option(help="Stack to deploy: a cohort, or 'shared'.")],
    stack_config: Annotated[Path | None, typer.Option(
        "--stack-config", help="Stack config file (default: Pulumi.<cohort>.yaml).")] = None,
    as_json: JsonFlag = False,
) -> None:
    """Deploy the infra program for one stack into moto (AWS_ENDPOINT_URL).

    A test double of `pulumi up`: real deployments use `pulumi up`.
    """
    ctx = context.current()
    deployer = _deployer(ctx.project_dir)
    stack_file = deployer.preflight(cohort, stack_config)
    for deployed in deployer.deployed_with(stack_file):
        ctx.announce_region(_subject(deployed), deployed.region)
    if not as_json:
        err_console.print(f"deploying stack {cohort} into moto with the local deployer ...")
    results = deployer.up(cohort, path=stack_config)
    emit([asdict(result) for result in results], as_json, lambda _: _show(results))


@local_app.command("traffic")
def traffic(
    cohort: Annotated[str, typer.Option(help="The cohort whose tenants send the requests.")],
    rps: Annotated[float, typer.Option(help="Requests per second (at most 2000).")] = 20.0,
    duration: Annotated[str, typer.Option(help="How long to send them (at most 1h).")] = "10s",
    as_json: JsonFlag = False,
) -> None:
    """Send a cohort's tenants' requests through a local stand-in of its load balancer.

    Each colour's code runs as a local process of its artefact (from the moto store, at
    its object version, sha256 checked); the listener follows the weights and pins in
    moto and publishes ALB's metrics there, so the gates judge what tenants really got.
    Loopback only, bounded in count and time.
    """
    from rollout.cli.live_progress import LiveProgress
    from rollout.local.server import require_local_extra
    from rollout.local.traffic import checked_rate, rehearse
    from rollout.vocabulary.durations import parse_duration

    require_local_extra()
    seconds = parse_duration(duration, "--duration")
    checked_rate(rps, seconds)
    ctx = context.current()
    resources = ctx.cohort(cohort)
    with LiveProgress(enabled=not as_json) as live:
        summary = rehearse(ctx.clients_for(resources), resources, rps=rps, duration=seconds,
                           on_request=_tally_line(live))
    emit(summary, as_json, _show_traffic)


def _tally_line(live: LiveProgress) -> Callable[[Tally], None]:
    """The traffic's ``on_request`` hook: a line per colour, a few refreshes a second."""
    shown = [0.0]

    def update(tally: Tally) -> None:
        now = time.monotonic()
        if now - shown[0] >= 0.25:
            shown[0] = now
            live.show(", ".join(f"{colour}: {count}" for colour, count
                                in sorted(tally.per_colour.items())) + " requests")

    return update


def _show_traffic(summary: TrafficSummary) -> None:
    console.print(f"{summary.requests} requests in {summary.seconds:.1f} s: " + ", ".join(
        f"{count} on {colour}" for colour, count in sorted(summary.per_colour.items())))
    console.print("status codes: " + ", ".join(
        f"{status} x{count}" for status, count in sorted(summary.statuses.items()))
        + (f"; {summary.failed} without an answer" if summary.failed else ""))
    for tenant, colours in sorted(summary.per_tenant.items()):
        console.print(f"  {tenant}: " + ", ".join(f"{count} on {colour}" for colour, count
                                                  in sorted(colours.items())))


@app.command()
def demo(
    report: Annotated[Path, typer.Option("--report", help="Where to write the HTML report.")]
    = Path("rollout-report.html"),
    as_json: JsonFlag = False,
) -> None:
    """Deploy, publish, plan, notify and roll a release through three cohorts, locally."""
    from rollout.local.server import require_local_extra

    require_local_extra()
    from rollout.local.demo import run_demo

    project_dir = context.current().project_dir
    if not (project_dir / "Pulumi.shared.yaml").exists() or \
            not (project_dir / "examples" / "tenants.yaml").exists():
        raise BadInput(f"{project_dir.resolve()} is not the project directory (no "
                       "Pulumi.shared.yaml or examples/tenants.yaml); run the demo from the "
                       "repository root or pass --project-dir")
    result = run_demo(project_dir, report, console, quiet=as_json)
    if as_json:
        print_json(result)
    else:
        console.print(f"\nDone in {result.seconds:.0f} s.")
