"""Lambda's entry at the zip's root: ``app.handler``, a lambda cohort's default handler.

``LambdaCompute.handler`` defaults to ``app.handler``, so the zip's top level holds this
module and the ``tenant_app`` package beside it: the default works without a word of
stack config, and the app stays one importable package for tests and ``uvicorn``.
"""

from tenant_app.handler import handler

__all__ = ["handler"]
