"""``rollout report``: one self-contained HTML page of a fleet's rollouts.

:mod:`.data` reads AWS and the ledger into :mod:`.model` (what each colour served
through :mod:`.served`, the one CloudWatch reader here); :mod:`.timeline`, :mod:`.svg`,
:mod:`.served_window`, :mod:`.served_svg` and :mod:`.html` turn that into the page
without touching AWS.
"""
