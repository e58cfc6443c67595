"""Local mode: an embedded moto server and a local engine that runs the infra program into it.

Both are test doubles, like moto itself: real deployments use ``pulumi up``.
"""
