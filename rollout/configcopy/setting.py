"""One tenant setting as a store holds it, independent of which colour it lives in.

A :class:`Setting` is keyed by its path below the colour (``<tenant>/<key>``), so
the same key names "the same setting" on blue and on green, and in SSM Parameter
Store and Secrets Manager alike. Pure data: no AWS calls here.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from enum import StrEnum

from rollout.configcopy.sealed import Sealed


class StoreName(StrEnum):
    """Where a setting lives."""

    SSM = "ssm"
    SECRETS_MANAGER = "secretsmanager"


class Kind(StrEnum):
    """The type a setting keeps across the copy."""

    STRING = "String"
    STRING_LIST = "StringList"
    SECURE_STRING = "SecureString"
    SECRET_STRING = "SecretString"
    SECRET_BINARY = "SecretBinary"

    @property
    def secret(self) -> bool:
        return self in (Kind.SECURE_STRING, Kind.SECRET_STRING, Kind.SECRET_BINARY)


Tags = tuple[tuple[str, str], ...]


def tags_from(pairs: Mapping[str, str]) -> Tags:
    """Tags in a canonical order, so two equal tag sets compare equal."""
    return tuple(sorted(pairs.items()))


def tenant_of(key: str) -> str:
    """The tenant a key (``<tenant>/<key>``) belongs to."""
    return key.split("/", 1)[0]


@dataclass(frozen=True)
class SettingMeta:
    """Everything about a setting except its value and type that the copy preserves."""

    description: str | None = None
    tier: str | None = None
    allowed_pattern: str | None = None
    data_type: str | None = None
    key_id: str | None = None
    tags: Tags = ()

    def differences(self, other: SettingMeta) -> list[str]:
        """Names of the fields where ``other`` (the target) differs, as a person would say them.

        A Standard parameter held as Advanced is not a difference: SSM cannot move a
        parameter back to Standard, so insisting would rewrite it on every copy.
        """
        found = [_LABELS[f.name] for f in fields(self)
                 if getattr(self, f.name) != getattr(other, f.name)]
        if self.tier == "Standard" and other.tier == "Advanced":
            found.remove("tier")
        return found


_LABELS = {"description": "description", "tier": "tier", "allowed_pattern": "allowed pattern",
           "data_type": "data type", "key_id": "kms key", "tags": "tags"}


@dataclass(frozen=True)
class Setting:
    """A setting's value, type, version and metadata; the value is sealed."""

    key: str
    kind: Kind
    value: Sealed
    version: str
    modified: str = ""
    meta: SettingMeta = field(default_factory=SettingMeta)

    @property
    def secret(self) -> bool:
        return self.kind.secret

    @property
    def tenant(self) -> str:
        return tenant_of(self.key)

    @property
    def stamp(self) -> str:
        """Identifies this exact write: any later write (or delete and re-create) changes it."""
        return f"{self.version}@{self.modified}"

    def differences(self, other: Setting) -> list[str]:
        """What differs from ``other``: ``type``, ``value`` and metadata field names."""
        found = []
        if self.kind != other.kind:
            found.append("type")
        if self.value != other.value:
            found.append("value")
        return found + self.meta.differences(other.meta)

    def with_tags(self, tags: Tags) -> Setting:
        return replace(self, meta=replace(self.meta, tags=tags))

    def with_key(self, key_map: Mapping[str, str]) -> Setting:
        """This setting as it should land where ``key_map`` names the KMS keys to use."""
        key_id = self.meta.key_id
        if key_id is None or key_id not in key_map:
            return self
        return replace(self, meta=replace(self.meta, key_id=key_map[key_id]))


def holds_secret(wanted: Setting | None, current: Setting | None) -> bool:
    """Whether a change between two versions of a setting touches a secret: its values
    are then never shown, nor AWS's messages about it."""
    return any(s is not None and s.secret for s in (wanted, current))


VALUE_FIELDS = ("type", "value")


def value_differs(differences: list[str]) -> bool:
    """Whether a list from :meth:`Setting.differences` touches the value or the type."""
    return any(name in VALUE_FIELDS for name in differences)
