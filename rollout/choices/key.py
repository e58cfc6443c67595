"""The key that signs notice links, kept in SSM Parameter Store as a SecureString.

It lives at :func:`~rollout.vocabulary.resource_names.link_key_parameter` in the shared
stack's region, encrypted with the account's default SSM key (the shared stack has no
key of its own). ``notify`` and the preferences page both need it; whichever needs it
first creates it, with ``Overwrite=False``, so of two racing creators the loser reads
the winner's key and every link stays valid. The key is only ever returned: never
printed, logged or stored anywhere else.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import secrets
from typing import Any

from rollout.aws_clients import AwsClients
from rollout.choices.tokens import MIN_KEY_BYTES
from rollout.errors import RolloutFailed
from rollout.vocabulary.resource_names import link_key_parameter

KEY_BYTES = 32


def _read(ssm: Any, name: str) -> bytes | None:
    try:
        found = ssm.get_parameter(Name=name, WithDecryption=True)
    except ssm.exceptions.ParameterNotFound:
        return None
    try:
        key = base64.b64decode(found["Parameter"]["Value"], validate=True)
    except (binascii.Error, ValueError):
        key = b""
    if len(key) < MIN_KEY_BYTES:
        raise RolloutFailed(f"the link key in SSM parameter {name} is not a base64 key of at "
                            f"least {MIN_KEY_BYTES} bytes; delete the parameter to have a new "
                            "one made (links already sent then stop working)")
    return key


def link_key(clients: AwsClients, app: str) -> bytes:
    """The app's link key, made on first need; ``clients`` in the shared stack's region."""
    ssm = clients.client("ssm")
    name = link_key_parameter(app)
    found = _read(ssm, name)
    if found is not None:
        return found
    value = base64.b64encode(secrets.token_bytes(KEY_BYTES)).decode("ascii")
    with contextlib.suppress(ssm.exceptions.ParameterAlreadyExists):  # the winner's stays
        ssm.put_parameter(Name=name, Value=value, Type="SecureString", Overwrite=False,
                          Description="signs the links in tenants' notices (rollout)")
    made = _read(ssm, name)
    if made is None:
        raise RolloutFailed(f"the link key {name} was written but cannot be read back")
    return made
