"""The words the Pulumi program and the rollout library share.

Colours, versions, hosts, names, tags, durations, the clock, ledger keys and the
security rules. No boto3 and no pulumi here, so ``rollout.components`` and the rest
of the library both import from this package and never from each other.
"""
