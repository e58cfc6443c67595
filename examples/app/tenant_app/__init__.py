"""The example tenant-aware app: one deployment per colour, serving every tenant of a cohort.

It names the tenant of each request (``X-Tenant-Id``, else the Host), answers with the
version and colour it runs and the settings that tenant customised in its colour's own
parameter namespace, and never shows a secret's value. ``settings`` reads its
environment at start-up, ``app`` is the ASGI app, ``handler`` its Lambda handler.
"""
