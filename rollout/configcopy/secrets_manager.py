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

from botocore.exceptions import BotoCoreError, ClientError

from rollout.aws_clients import AwsClients
from rollout.configcopy.parallel import Parallel
from rollout.configcopy.sealed import Sealed
from rollout.configcopy.setting import Kind, Setting, SettingMeta, StoreName, tags_from
from rollout.configcopy.ssm import stamp_time
from rollout.configcopy.store import ReadFailed, WriteRefused, safe_reason
from rollout.configcopy.wire_log import watch_calls
from rollout.configcopy.writes import Write, WriteKind
from rollout.discovery import CohortResources
from rollout.vocabulary import resource_names

BATCH_GET_LIMIT = 20
GONE = frozenset({"ResourceNotFoundException", "InvalidRequestException"})
"""Error codes of a secret that is gone: not found, or marked for deletion (what a
delete leaves for its recovery window)."""
NOT_RETURNED = "not returned by BatchGetSecretValue"


class SecretsManagerSecrets:
    """One cohort's tenant secrets, read and written through one Secrets Manager client."""

    name = StoreName.SECRETS_MANAGER

    def __init__(self, clients: AwsClients, cohort: CohortResources, runner: Parallel) -> None:
        self._sm = clients.client("secretsmanager")
        watch_calls(self._sm)
        self._cohort = cohort
        self._runner = runner

    def location(self, colour: str) -> str:
        return resource_names.colour_secrets(self._cohort.param_prefix, colour)

    def _name(self, colour: str, key: str) -> str:
        return f"{self.location(colour)}/{key}"

    # reading -----------------------------------------------------------
    def read(self, colour: str, tenant: str | None) -> dict[str, Setting]:
        prefix = self.location(colour) + "/" + (f"{tenant}/" if tenant else "")
        pages = self._sm.get_paginator("list_secrets").paginate(
            Filters=[{"Key": "name", "Values": [prefix]}])
        listed = {s["Name"]: s for page in pages for s in page.get("SecretList", [])
                  if s["Name"].startswith(prefix)}
        values, errors = self._values(sorted(listed), "reading secrets")
        start = len(self.location(colour)) + 1
        unreadable = {name[start:]: errors.get(name, NOT_RETURNED)
                      for name in listed if name not in values}
        if unreadable:
            raise ReadFailed(self.name, self.location(colour), unreadable,
                             self._cohort.cohort)
        return {name[start:]: self._setting(name[start:], raw, listed[name])
                for name, raw in values.items()}

    def _values(self, names: Sequence[str],
                stage: str) -> tuple[dict[str, dict[str, Any]], dict[str, str]]:
        """Values of ``names`` by name, and the error code of each one AWS would not return."""
        batches = [list(names[i:i + BATCH_GET_LIMIT])
                   for i in range(0, len(names), BATCH_GET_LIMIT)]

        def fetch(batch: list[str]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
            found = self._sm.batch_get_secret_value(SecretIdList=batch)
            return list(found.get("SecretValues", [])), list(found.get("Errors", []))

        pages = self._runner.map(stage, fetch, batches)
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
        start = len(self.location(colour)) + 1
        names = [self._name(colour, key) for key in keys]
        values, errors = self._values(names, "verifying")
        unreadable = {name[start:]: errors.get(name, NOT_RETURNED) for name in names
                      if name not in values and errors.get(name) not in GONE}
        if unreadable:
            raise ReadFailed(self.name, self.location(colour), unreadable,
                             self._cohort.cohort)
        return {name[start:]: self._setting(name[start:], raw, {})
                for name, raw in values.items()}

    # writing -----------------------------------------------------------
    def apply(self, colour: str, write: Write) -> None:
        try:
            self._apply(self._name(colour, write.key), write)
        except (BotoCoreError, ClientError) as exc:
            raise WriteRefused(write.key, safe_reason(exc, secret=True)) from None

    def _apply(self, name: str, write: Write) -> None:
        """One write; a changed KMS key applies to new versions only, so the value is put again.

        A deleted secret keeps Secrets Manager's recovery window: it can be restored.
        """
        if write.action == WriteKind.DELETE:
            self._sm.delete_secret(SecretId=name)
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
            self._sm.create_secret(**arguments)
            return
        current = write.current
        assert current is not None
        differs = wanted.differences(current)
        if "description" in differs or "kms key" in differs:
            update: dict[str, Any] = {"SecretId": name,
                                      "Description": wanted.meta.description or ""}
            if wanted.meta.key_id:
                update["KmsKeyId"] = wanted.meta.key_id
            self._sm.update_secret(**update)
        if {"value", "type", "kms key"} & set(differs):
            self._sm.put_secret_value(SecretId=name, **value)
        if write.tags_to_set:
            self._sm.tag_resource(SecretId=name, Tags=[{"Key": k, "Value": v}
                                                       for k, v in write.tags_to_set])
        if write.tags_to_remove:
            self._sm.untag_resource(SecretId=name, TagKeys=list(write.tags_to_remove))


def _value_argument(setting: Setting) -> dict[str, Any]:
    if setting.kind == Kind.SECRET_BINARY:
        return {"SecretBinary": base64.b64decode(setting.value.reveal())}
    return {"SecretString": setting.value.reveal()}
