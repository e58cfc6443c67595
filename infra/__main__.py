"""``pulumi up`` entry point (``Pulumi.yaml`` sets ``main: infra/``)."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from rollout.components.program import main

main()
