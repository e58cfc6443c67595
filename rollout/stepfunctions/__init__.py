"""A rollout's plan compiled into an Amazon States Language definition, so AWS Step Functions
runs it for days or weeks with no process of ours alive: :mod:`spec` is the compiler's input
(the plan, its ledger documents and the cohort's resources, as data), :mod:`definition`
compiles it, and :mod:`templates` turns a ledger document with placeholders into the
intrinsic function that fills them in. The IAM actions a definition needs
(:mod:`rollout.vocabulary.workflow_actions`) and the choices that make one definition mean
the same on AWS and on moto (:mod:`rollout.vocabulary.workflow_paths`) sit in the
vocabulary, since the cohort stack's permissions boundary is built from them. All of it is
pure: no boto3, so a definition is built and checked in microseconds and deployed by
whoever holds the clients.
"""
