"""Reusable Pulumi ComponentResources, the program that composes them, and its policy pack.

One ComponentResource per module, each with its one pydantic config model:
:class:`~rollout.components.shared_stack.SharedStack` (``SharedStackConfig``),
:class:`~rollout.components.cohort_stack.CohortStack` (``CohortStackConfig``) and
:class:`~rollout.components.colour_slot.ColourSlot` (``ColourSlotConfig``), and the compute
kinds in :mod:`rollout.components.compute` (``LambdaFunction``, ``EcsService``). A user's own
Pulumi program imports these (``examples/pulumi_program``); ``infra/`` is only the
folder ``pulumi up`` runs. They import nothing of the library but the vocabulary and
the stack model, and name every resource through :mod:`rollout.vocabulary.resource_names`.
"""
