"""Keep request and response bodies that may hold a secret out of botocore's debug log.

With debug logging on (``logging.basicConfig(level=DEBUG)``, a CI job chasing a
problem), botocore logs every request's parameters and every response body, so a
decrypted ``GetParametersByPath`` page or a ``PutParameter`` of a SecureString
would land in the log in plain text. This filter replaces any such record's
message; everything else botocore logs is left as it is.
"""

from __future__ import annotations

import logging

BODY_LOGGERS = ("botocore.endpoint", "botocore.parsers")
SECRET_MARKERS = ("SecureString", "SecretString", "SecretBinary")
WITHHELD = "(request or response body withheld: it may hold a secret)"


class SecretBodyFilter(logging.Filter):
    """Rewrites a log record that mentions a secret-bearing field."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            text = record.getMessage()
        except (TypeError, ValueError):
            return True
        if any(marker in text for marker in SECRET_MARKERS):
            record.msg = WITHHELD
            record.args = None
        return True


def guard_wire_logs() -> None:
    """Install the filter on botocore's body-logging loggers (once per process)."""
    for name in BODY_LOGGERS:
        logger = logging.getLogger(name)
        if not any(isinstance(f, SecretBodyFilter) for f in logger.filters):
            logger.addFilter(SecretBodyFilter())
