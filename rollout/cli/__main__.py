"""``python -m rollout.cli``: the same as the ``rollout`` command."""

from rollout.cli import main

main()
