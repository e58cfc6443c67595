"""The Lambda handler: the app behind Mangum, which turns load balancer events into requests.

The app is made when Lambda imports this module (its init), so a bad setting fails the
function's start-up, loudly, instead of its first request. ``lifespan="off"``: the app
has no start-up or shut-down hooks for Mangum to run per invocation.
"""

from mangum import Mangum

from tenant_app.app import create_app

app = create_app()
handler = Mangum(app, lifespan="off")

__all__ = ["app", "handler"]
