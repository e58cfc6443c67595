"""Deploying a cohort's stack with a new version in its idle colour.

One :class:`~rollout.stacks.base.StackDeployer` per engine: the Pulumi Automation
API for real deployments (:mod:`rollout.stacks.automation`), the moto-backed local
engine for rehearsals and tests (:mod:`rollout.stacks.local`).
"""
