"""How a rollout runs, in one place.

Its state (:mod:`.state`) and ledger (:mod:`.ledger`, with the in-memory model of it in
:mod:`.memory_ledger`), step plans (:mod:`.strategy`), the decision rules
(:mod:`.progression`), preflight (:mod:`.preflight`), the executor (:mod:`.executor`),
the plans of the rollout commands (:mod:`.command_plans`), assembly from a cohort's
setup (:mod:`.assembly`), the stage gate (:mod:`.stage_gate`) and the fleet status.
"""
