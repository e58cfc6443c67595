"""``rollout report``: one self-contained HTML page of a fleet's rollouts.

:mod:`.data` reads AWS and the ledger into :mod:`.model`; :mod:`.timeline`,
:mod:`.svg` and :mod:`.html` turn that into the page without touching AWS.
"""
