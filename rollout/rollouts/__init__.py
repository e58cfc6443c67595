"""How a rollout runs, in one place.

Its state and ledger, step plans, the decision rules, preflight, the executor,
assembly from a cohort's setup, the stage gate and the fleet status.
"""
