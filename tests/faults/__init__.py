"""Reliability under faults, contention, bad input and secrets: the tools and the proofs.

Tools: :mod:`~tests.faults.injector` (AWS calls that fail), :mod:`~tests.faults.crashes`
(a process that dies at a chosen point), :mod:`~tests.faults.lock_audit` (who held the
lock when each router write happened) and :mod:`~tests.faults.crashing_cli`, the
``rollout`` command with any of them switched on by environment variables. Product
code carries no test hooks: everything here patches from the outside.
"""
