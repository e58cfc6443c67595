"""Tenant secrets in Secrets Manager, named ``<app>/<cohort>/<colour>/<tenant>/<key>``.

Optional per cohort (``--secrets-manager``). ``ListSecrets`` returns names,
descriptions, KMS keys and tags in one paginated chain; values come from
``BatchGetSecretValue``, 20 secrets a call, in parallel. Every value here is a
secret: it is compared by hash and never shown.

``BatchGetSecretValue`` reports a secret it cannot return in ``Errors`` (a
``DecryptionFailure``, a KMS key the role may not use, ...). For a secret
``ListSecrets`` listed, any such entry is a read failure. On a re-read, a
secret counts as absent only when AWS says it is gone (:data:`GONE`: not found,
or marked for deletion); any other error is a read failure.
"""

from __future__ import annotations

import base64
from collections.abc import Collection, Mapping, Sequence
from typing import Any

from rollout.configcopy.sealed import Sealed
from rollout.configcopy.setting import Kind, Setting, SettingMeta, StoreName, tags_from
from rollout.configcopy.store import CohortStore, stamp_time
from rollout.configcopy.writes import Write, WriteKind
from rollout.vocabulary import resource_names

BATCH_GET_LIMIT = 20
GONE = frozenset({"ResourceNotFoundException", "InvalidRequestException"})
"""Error codes of a secret that is gone: not found, or marked for deletion (what a
delete leaves for its recovery window)."""
NOT_RETURNED = "not returned by BatchGetSecretValue"


class SecretsManagerSecrets(CohortStore):
    """One cohort's tenant secrets, read and written through one Secrets Manager client."""

    name = StoreName.SECRETS_MANAGER
    service = "secretsmanager"
    only_secrets = True

    def location(self, colour: str) -> str:
        return resource_names.colour_secrets(self._cohort.param_prefix, colour)

    # reading -----------------------------------------------------------
    def read(self, colour: str, tenant: str | None) -> dict[str, Setting]:
        prefix = self.location(colour) + "/" + (f"{tenant}/" if tenant else "")
        pages = self._client.get_paginator("list_secrets").paginate(
            Filters=[{"Key": "name", "Values": [prefix]}])
        listed = {s["Name"]: s for page in pages for s in page.get("SecretList", [])
                  if s["Name"].startswith(prefix)}
        values, errors = self._values(sorted(listed), "reading secrets")
        unreadable = {name: errors.get(name, NOT_RETURNED) for name in listed
                      if name not in values}
        return self._by_key(colour, values, unreadable,
                            lambda key, name, raw: self._setting(key, raw, listed[name]))

    def _values(self, names: Sequence[str],
                stage: str) -> tuple[dict[str, dict[str, Any]], dict[str, str]]:
        """Values of ``names`` by name, and the error code of each one AWS would not return."""

        def fetch(batch: list[str]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
            found = self._client.batch_get_secret_value(SecretIdList=batch)
            return list(found.get("SecretValues", [])), list(found.get("Errors", []))

        pages = self._in_batches(stage, BATCH_GET_LIMIT, fetch, names)
        return ({raw["Name"]: raw for page, _ in pages for raw in page},
                {str(error.get("SecretId")): str(error.get("ErrorCode") or "error")
                 for _, errors in pages for error in errors})

    @staticmethod
    def _setting(key: str, raw: dict[str, Any], listed: dict[str, Any]) -> Setting:
        if "SecretBinary" in raw:
            kind, value = Kind.SECRET_BINARY, base64.b64encode(raw["SecretBinary"]).decode()
        else:
            kind, value = Kind.SECRET_STRING, raw.get("SecretString", "")
        meta = SettingMeta(
            description=listed.get("Description"), key_id=listed.get("KmsKeyId"),
            tags=tags_from({t["Key"]: t["Value"] for t in listed.get("Tags", [])}))
        return Setting(key=key, kind=kind, value=Sealed(value), version=raw["VersionId"],
                       modified=stamp_time(raw.get("CreatedDate")), meta=meta)

    def with_tags(self, colour: str, settings: Mapping[str, Setting],
                  keys: Collection[str]) -> dict[str, Setting]:
        return dict(settings)

    def reread(self, colour: str, keys: Sequence[str]) -> dict[str, Setting]:
        names = [self._name(colour, key) for key in keys]
        values, errors = self._values(names, "verifying")
        unreadable = {name: errors.get(name, NOT_RETURNED) for name in names
                      if name not in values and errors.get(name) not in GONE}
        return self._by_key(colour, values, unreadable,
                            lambda key, name, raw: self._setting(key, raw, {}))

    # writing -----------------------------------------------------------
    def _apply(self, name: str, write: Write) -> None:
        """One write; a changed KMS key applies to new versions only, so the value is put again.

        A deleted secret keeps Secrets Manager's recovery window: it can be restored.
        """
        if write.action == WriteKind.DELETE:
            self._client.delete_secret(SecretId=name)
            return
        wanted = write.wanted
        assert wanted is not None
        value = _value_argument(wanted)
        if write.action == WriteKind.CREATE:
            arguments: dict[str, Any] = {"Name": name, **value}
            if wanted.meta.description:
                arguments["Description"] = wanted.meta.description
            if wanted.meta.key_id:
                arguments["KmsKeyId"] = wanted.meta.key_id
            if wanted.meta.tags:
                arguments["Tags"] = [{"Key": k, "Value": v} for k, v in wanted.meta.tags]
            self._client.create_secret(**arguments)
            return
        current = write.current
        assert current is not None
        differs = wanted.differences(current)
        if "description" in differs or "kms key" in differs:
            update: dict[str, Any] = {"SecretId": name,
                                      "Description": wanted.meta.description or ""}
            if wanted.meta.key_id:
                update["KmsKeyId"] = wanted.meta.key_id
            self._client.update_secret(**update)
        if {"value", "type", "kms key"} & set(differs):
            self._client.put_secret_value(SecretId=name, **value)
        if write.tags_to_set:
            self._client.tag_resource(SecretId=name, Tags=[{"Key": k, "Value": v}
                                                           for k, v in write.tags_to_set])
        if write.tags_to_remove:
            self._client.untag_resource(SecretId=name, TagKeys=list(write.tags_to_remove))


def _value_argument(setting: Setting) -> dict[str, Any]:
    if setting.kind == Kind.SECRET_BINARY:
        return {"SecretBinary": base64.b64decode(setting.value.reveal())}
    return {"SecretString": setting.value.reveal()}
