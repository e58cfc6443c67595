"""The preferences page customers open from the link in their notice (issue 19).

Only the web layer lives here: :mod:`rollout.portal.pages` renders HTML,
:mod:`rollout.portal.app` parses requests and guards them, :mod:`rollout.portal.serving`
serves the app with uvicorn (``rollout portal``) and :mod:`rollout.portal.lambda_handler`
behind a Lambda function URL. What a tenant may choose, and recording it, is a
:class:`~rollout.choices.portal_api.PortalBackend`'s job.
"""
