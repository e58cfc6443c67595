"""``rollout demo``: the whole story on an embedded moto server."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from rollout.cli import app, context
from rollout.cli.output import JsonFlag, console, print_json
from rollout.errors import BadInput


@app.command()
def demo(
    report: Annotated[Path, typer.Option("--report", help="Where to write the HTML report.")]
    = Path("rollout-report.html"),
    as_json: JsonFlag = False,
) -> None:
    """Deploy, publish, plan, notify and roll a release through three cohorts, locally."""
    from rollout.demo import run_demo

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
