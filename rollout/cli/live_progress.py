"""The live display of ``rollout start --wait``: steps, weights, bake time left, gates."""

from __future__ import annotations

from types import TracebackType
from typing import TYPE_CHECKING

from rich.console import Group
from rich.live import Live
from rich.table import Table
from rich.text import Text

from rollout.cli.output import console
from rollout.gates.base import Verdict
from rollout.rollouts.state import Status
from rollout.vocabulary.durations import format_duration, human_duration

if TYPE_CHECKING:
    from rollout.capacity.base import TargetStates
    from rollout.rollouts.executor import TickReport

VERDICT_STYLE = {Verdict.PASS: "green", Verdict.FAIL: "bold red",
                 Verdict.INCONCLUSIVE: "yellow"}


def render(progress: TickReport) -> Group:
    """One frame: the step list with the current step marked, then the gate results."""
    state = progress.state
    steps = Table(title=Text(f"{state.cohort}: {state.old_version} ({state.old_colour}) → "
                             f"{state.release} ({state.new_colour})"), title_justify="left")
    for column in ("step", f"% to {state.new_colour}", "bake", "status"):
        steps.add_column(column)
    finished = state.status == Status.PROMOTED
    for index, step in enumerate(state.steps):
        if index < state.step_index or finished:
            status = Text("done", style="green")
        elif index == state.step_index:
            left = f", {progress.bake_left:.0f}s of bake left" if progress.bake_left else ""
            status = Text(f"current{left}", style="bold cyan")
        else:
            status = Text("waiting", style="dim")
        steps.add_row(str(index + 1), f"{step.weight}%", format_duration(step.bake_seconds),
                      status)
    weights = ", ".join(f"{colour} {weight}" for colour, weight in state.weights.items())
    lines: list[Text | Table] = [steps, Text(f"weights on the listener: {weights}")]
    for result in progress.results:
        dry_run = " (dry run)" if result.dry_run else ""
        lines.append(Text(f"  gate {result.gate}{dry_run}: {result.verdict.value}: "
                          f"{result.reason}",
                          style=VERDICT_STYLE[result.verdict]))
    if state.reason:
        lines.append(Text(state.reason, style="yellow"))
    return Group(*lines)


class LiveProgress:
    """A context manager whose ``update`` is the executor's ``on_progress`` hook."""

    def __init__(self, enabled: bool = True) -> None:
        self._live = Live(console=console, refresh_per_second=4, transient=False) \
            if enabled else None

    def __enter__(self) -> LiveProgress:
        if self._live is not None:
            self._live.__enter__()
        return self

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None,
                 traceback: TracebackType | None) -> None:
        if self._live is not None:
            self._live.__exit__(kind, value, traceback)

    def update(self, progress: TickReport) -> None:
        if self._live is not None:
            self._live.update(render(progress))

    def waiting(self, states: TargetStates, waited: float) -> None:
        """The executor's ``on_waiting`` hook: a colour's targets while it is awaited."""
        if self._live is not None:
            self._live.update(Text(f"waiting {human_duration(waited)} for {states.describe()}",
                                   style="green" if states.serves else "yellow"))

    def show(self, line: str) -> None:
        """Any one line of progress (a rehearsal's tally, say) in place of the last."""
        if self._live is not None:
            self._live.update(Text(line))
