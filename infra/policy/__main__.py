"""Policy pack entry point: Pulumi runs this file; it serves the policies until stopped.

The policies are :data:`rollout.components.policies.POLICIES`, installed with the toolkit.
"""

from pulumi_policy import EnforcementLevel, PolicyPack

from rollout.components.policies import PACK_NAME, POLICIES

PolicyPack(name=PACK_NAME, policies=POLICIES, enforcement_level=EnforcementLevel.MANDATORY)
