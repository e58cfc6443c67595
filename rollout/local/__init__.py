"""The local stand-ins: an embedded moto server, the local deployer, the demo, the test fleets.

All test doubles, like moto itself (installed with the ``[local]`` extra): real
deployments use ``pulumi up``. No product module imports this package; it registers
its commands, its deployer and its stack-outputs source by name when the command line
loads :mod:`rollout.local.commands` through the ``tenant_rollout.commands`` entry point.
"""
