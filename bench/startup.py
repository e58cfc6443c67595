"""Start-up: how long ``rollout --help`` and ``rollout status --help`` take, as a whole process.

A person typing ``rollout`` or a CI job calling it pays for every module the CLI
imports before it can print a line, so help must not import boto3, pulumi or the
stack config model. Timed side by side, alternating in each round, against two
floors measured in the same run:

* ``python -c pass``: the interpreter alone;
* ``python -c "import typer"``: the command-line library the CLI is built on.

Prints the median and the slowest wall time of each over the rounds, and whether
the two help commands are within the target (0.3 s).

    .venv/bin/python bench/startup.py [ROUNDS]
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import time
from pathlib import Path

TARGET_SECONDS = 0.3
ROLLOUT = str(Path(sys.executable).with_name("rollout"))
COMMANDS: dict[str, list[str]] = {
    "python -c pass": [sys.executable, "-c", "pass"],
    "python -c 'import typer'": [sys.executable, "-c", "import typer"],
    "rollout --help": [ROLLOUT, "--help"],
    "rollout status --help": [ROLLOUT, "status", "--help"],
}
MEASURED = ("rollout --help", "rollout status --help")
PACKAGE = Path(__file__).resolve().parents[1] / "rollout"


def wall_seconds(argv: list[str]) -> float:
    """One run of ``argv`` to completion, output discarded."""
    started = time.perf_counter()
    subprocess.run(argv, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - started


def main(rounds: int) -> int:
    # Compiled once up front: with PYTHONDONTWRITEBYTECODE set, every run would compile
    # each edited module again, which no installed copy ever does.
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(PACKAGE)], check=True,
                   stdout=subprocess.DEVNULL)
    for argv in COMMANDS.values():  # warm the file cache once, untimed
        wall_seconds(argv)
    times: dict[str, list[float]] = {name: [] for name in COMMANDS}
    for _ in range(rounds):
        for name, argv in COMMANDS.items():
            times[name].append(wall_seconds(argv))
    print(f"{'command':<28} {'median':>8} {'slowest':>8}   ({rounds} rounds, alternating)")
    for name, samples in times.items():
        print(f"{name:<28} {statistics.median(samples):>7.3f}s {max(samples):>7.3f}s")
    slow = [name for name in MEASURED if statistics.median(times[name]) > TARGET_SECONDS]
    verdict = (f"over the {TARGET_SECONDS} s target: {', '.join(slow)}" if slow
               else f"both help commands within the {TARGET_SECONDS} s target")
    print(verdict)
    return 1 if slow else 0


if __name__ == "__main__":
    sys.exit(main(int(sys.argv[1]) if len(sys.argv) > 1 else 10))
