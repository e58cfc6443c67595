"""Deploying a cohort's stack with a new version in its idle colour.

One :class:`~rollout.stacks.base.StackDeployer` per kind, found by name
(:mod:`rollout.stacks.providers`): the Pulumi Automation API for real deployments
(:mod:`rollout.stacks.automation`), the local deployer into moto for rehearsals and
tests (registered by the local stand-ins). :mod:`rollout.stacks.deploy` holds the
rules every deploy follows, whichever deployer runs it.
"""
