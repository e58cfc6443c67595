"""Pure scheduling: upgrade windows, freezes, notices and opt-outs → a rollout plan.

Nothing here talks to AWS; the CLI and the engine bring the data in and out.
"""
