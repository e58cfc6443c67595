"""Your own Pulumi program, built on the toolkit's components instead of ``infra/``.

The components install with the toolkit (``pip install tenant-rollout``) under its own
package name, ``rollout.components``, so nothing here shadows a package of yours.
Point your ``Pulumi.yaml`` at this folder (``main: pulumi_program/``) and keep one
``Pulumi.<stack>.yaml`` per cohort and one for ``shared``, as for ``infra/``
(``tenant-rollout:stack``, see ``Pulumi.canary.yaml``): the same model validates them,
so ``rollout`` finds what you deploy.

:func:`~rollout.components.program.declare` declares the ``SharedStack`` or the
cohort's ``CohortStack`` (use those classes directly to compose them otherwise); what
follows is yours: the compute of each colour, registered in its target group.
"""

import pulumi

from rollout.components.program import declare, read_config
from rollout.model.stack import CohortStackConfig

config = read_config()
outputs = declare(config, pulumi.Config("aws").require("region"))
for key, value in outputs.items():
    pulumi.export(key, value)

if isinstance(config.stack, CohortStackConfig):
    target_groups = pulumi.Output.from_input(outputs["targetGroupArns"])
    for colour, version in config.stack.versions.items():
        # Your compute for `colour` goes here, running `version` (an ECS service, say,
        # with load_balancers=[{"target_group_arn": target_groups.apply(
        # lambda arns, c=colour: arns[c]), ...}]). `rollout stacks up --colour C
        # --version V` changes versions.C, so only that colour is redeployed.
        pulumi.log.info(f"{colour} runs {version}")
