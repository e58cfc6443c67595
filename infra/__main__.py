"""``pulumi up`` entry point (``Pulumi.yaml`` sets ``main: infra/``).

The program itself is :func:`rollout.components.program.main`, installed with the
toolkit; this folder only tells Pulumi where to start.
"""

from rollout.components.program import main

main()
