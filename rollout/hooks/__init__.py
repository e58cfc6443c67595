"""Lifecycle hooks: the cohort's own checks at fixed moments of a rollout (CodeDeploy's).

Each kind of hook is one file registered in :data:`~rollout.hooks.base.HOOKS`: a command
(:mod:`rollout.hooks.command`) or an HTTP callback (:mod:`rollout.hooks.http_callback`).
``tenants.yaml`` says which run where (:mod:`rollout.hooks.settings`), and
:func:`rollout.hooks.load.load_hooks` turns that into hooks, in the order they run.
"""
