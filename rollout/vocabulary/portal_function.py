"""What the preferences page's zip, its function and the shared stack agree on.

The zip (:mod:`rollout.portal.bundle`) puts the tenants file and the notes where these
names say; the stack (:mod:`rollout.components.preferences_portal`) gives the function
this handler and these variables; the handler (:mod:`rollout.portal.lambda_handler`)
reads them. Kept apart so the stack needs none of the page's web packages.
"""

from __future__ import annotations

HANDLER = "rollout.portal.lambda_handler.handler"
TENANTS_IN_ZIP = "portal/tenants.yaml"
NOTES_IN_ZIP = "portal/notes"

APP_ENV = "ROLLOUT_APP"
LEDGER_TABLE_ENV = "ROLLOUT_LEDGER_TABLE"
TENANTS_FILE_ENV = "ROLLOUT_TENANTS_FILE"
NOTES_DIR_ENV = "ROLLOUT_NOTES_DIR"
