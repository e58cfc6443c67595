"""Tenant settings in SSM Parameter Store, under ``/<app>/<cohort>/<colour>/<tenant>/<key>``.

Reads are batched. ``DescribeParameters`` (recursive on the colour's path, 50
a page on AWS) lists every name with the metadata no other read returns (KMS
key, description, tier, allowed pattern); the values then come from
``GetParameters``, 10 names a call, decrypted, all batches in parallel. That is
ceil(N/10) value reads, as many as ``GetParametersByPath`` needs, without its
chain of N/10 sequential round trips; the description chain is 5x shorter on
AWS. (On moto both list calls scan the whole store, so the copy makes one of
them, not both.) Tags have no batch read in SSM: one call a parameter, in
parallel, and only for keys that need them. Verification re-reads with
``GetParameters`` too.

A name ``GetParameters`` does not return (it lists it in ``InvalidParameters``)
is a read failure when ``DescribeParameters`` listed it; on a re-read it counts
as absent only once ``DescribeParameters`` no longer lists it either.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from typing import Any

from botocore.exceptions import ClientError

from rollout.configcopy.sealed import Sealed
from rollout.configcopy.setting import (
    Kind,
    Setting,
    SettingMeta,
    StoreName,
    tags_from,
    value_differs,
)
from rollout.configcopy.store import CohortStore, stamp_time
from rollout.configcopy.writes import Write, WriteKind
from rollout.vocabulary import resource_names

GET_PARAMETERS_BATCH = 10
DESCRIBE_PAGE = 50
DESCRIBE_NAMES = 50
INVALID = "InvalidParameters"
NOT_RETURNED = "not returned by GetParameters"
NON_TAG_FIELDS_WRITTEN_BY_PUT = ("type", "value", "description", "tier", "allowed pattern",
                                 "data type", "kms key")


class SsmParameters(CohortStore):
    """One cohort's parameters, read and written through one SSM client."""

    name = StoreName.SSM
    service = "ssm"

    def location(self, colour: str) -> str:
        return resource_names.colour_parameters(self._cohort.param_prefix, colour)

    # reading -----------------------------------------------------------
    def read(self, colour: str, tenant: str | None) -> dict[str, Setting]:
        path = self.location(colour) + (f"/{tenant}" if tenant else "")
        described = self._described(path)
        values, invalid = self._values(sorted(described), "reading values")
        unreadable = {name: INVALID if name in invalid else NOT_RETURNED
                      for name in described if name not in values}
        return self._by_key(colour, values, unreadable,
                            lambda key, name, raw: self._setting(key, raw, described[name]))

    def _described(self, path: str) -> dict[str, dict[str, Any]]:
        pages = self._client.get_paginator("describe_parameters").paginate(
            ParameterFilters=[{"Key": "Path", "Option": "Recursive", "Values": [path]}],
            PaginationConfig={"PageSize": DESCRIBE_PAGE})
        return {p["Name"]: p for page in pages for p in page.get("Parameters", [])
                if p["Name"].startswith(path + "/")}

    def _values(self, names: Sequence[str],
                stage: str) -> tuple[dict[str, dict[str, Any]], set[str]]:
        """Decrypted values of ``names``, 10 a call, every call in flight at once.

        Also the names SSM listed in ``InvalidParameters``.
        """

        def fetch(batch: list[str]) -> tuple[list[dict[str, Any]], list[str]]:
            found = self._client.get_parameters(Names=batch, WithDecryption=True)
            return list(found.get("Parameters", [])), list(found.get("InvalidParameters", []))

        pages = self._in_batches(stage, GET_PARAMETERS_BATCH, fetch, names)
        return ({raw["Name"]: raw for page, _ in pages for raw in page},
                {name for _, invalid in pages for name in invalid})

    def _still_listed(self, names: Sequence[str]) -> set[str]:
        """Which of ``names`` ``DescribeParameters`` lists: they exist, readable or not."""

        def listed(batch: list[str]) -> list[str]:
            pages = self._client.get_paginator("describe_parameters").paginate(
                ParameterFilters=[{"Key": "Name", "Option": "Equals", "Values": batch}],
                PaginationConfig={"PageSize": DESCRIBE_PAGE})
            return [p["Name"] for page in pages for p in page.get("Parameters", [])]

        return {name for found in self._in_batches("verifying", DESCRIBE_NAMES, listed, names)
                for name in found}

    @staticmethod
    def _setting(key: str, raw: dict[str, Any], described: dict[str, Any]) -> Setting:
        kind = Kind(raw["Type"])
        meta = SettingMeta(
            description=described.get("Description"),
            tier=described.get("Tier"),
            allowed_pattern=described.get("AllowedPattern"),
            data_type=raw.get("DataType") or described.get("DataType"),
            key_id=described.get("KeyId") if kind == Kind.SECURE_STRING else None)
        return Setting(key=key, kind=kind, value=Sealed(raw["Value"]), version=str(raw["Version"]),
                       modified=stamp_time(raw.get("LastModifiedDate")), meta=meta)

    def with_tags(self, colour: str, settings: Mapping[str, Setting],
                  keys: Collection[str]) -> dict[str, Setting]:
        wanted = sorted(k for k in keys if k in settings)

        def tags_of(key: str) -> dict[str, str]:
            found = self._client.list_tags_for_resource(
                ResourceType="Parameter", ResourceId=self._name(colour, key))
            return {t["Key"]: t["Value"] for t in found.get("TagList", [])}

        tags = self._runner.map("reading tags", tags_of, wanted)
        tagged = dict(settings)
        for key, pairs in zip(wanted, tags, strict=True):
            tagged[key] = settings[key].with_tags(tags_from(pairs))
        return tagged

    def reread(self, colour: str, keys: Sequence[str]) -> dict[str, Setting]:
        names = [self._name(colour, key) for key in keys]
        values, invalid = self._values(names, "verifying")
        missing = [name for name in names if name not in values]
        unreadable = {name: INVALID if name in invalid else NOT_RETURNED
                      for name in sorted(self._still_listed(missing))} if missing else {}
        return self._by_key(colour, values, unreadable,
                            lambda key, name, raw: self._setting(key, raw, {}))

    # writing -----------------------------------------------------------
    def _apply(self, name: str, write: Write) -> None:
        if write.action == WriteKind.DELETE:
            self._client.delete_parameter(Name=name)
            return
        wanted = write.wanted
        assert wanted is not None
        if write.action == WriteKind.CREATE:
            self._create(name, wanted)
            return
        current = write.current
        assert current is not None
        if write.action == WriteKind.OVERWRITE and any(
                d in NON_TAG_FIELDS_WRITTEN_BY_PUT for d in wanted.differences(current)):
            self._client.put_parameter(**self._put_arguments(name, wanted, current), Overwrite=True)
        if write.tags_to_set:
            self._client.add_tags_to_resource(
                ResourceType="Parameter", ResourceId=name,
                Tags=[{"Key": k, "Value": v} for k, v in write.tags_to_set])
        if write.tags_to_remove:
            self._client.remove_tags_from_resource(
                ResourceType="Parameter", ResourceId=name, TagKeys=list(write.tags_to_remove))

    def _create(self, name: str, wanted: Setting) -> None:
        """Create ``name``; a retry whose first attempt landed (its answer lost) is a success.

        SSM's create is not idempotent: when a timed-out attempt had been applied,
        botocore's retry meets ``ParameterAlreadyExists``. If the parameter holds
        exactly the wanted type and value, that attempt was ours (or someone wrote the
        same thing): its tags are made sure of and the write counts as done.
        """
        tags = [{"Key": k, "Value": v} for k, v in wanted.meta.tags]
        try:
            self._client.put_parameter(**self._put_arguments(name, wanted, None),
                                       **({"Tags": tags} if tags else {}))
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") != "ParameterAlreadyExists":
                raise
            found = self._client.get_parameters(Names=[name], WithDecryption=True)["Parameters"]
            if not found or value_differs(
                    wanted.differences(self._setting(wanted.key, found[0], {}))):
                raise
            if tags:
                self._client.add_tags_to_resource(ResourceType="Parameter", ResourceId=name,
                                                  Tags=tags)

    @staticmethod
    def _put_arguments(name: str, wanted: Setting, current: Setting | None) -> dict[str, Any]:
        """PutParameter's arguments; on an overwrite, metadata the source lacks is cleared.

        SSM cannot move an Advanced parameter back to Standard; such a target keeps its tier.
        """
        meta = wanted.meta
        arguments: dict[str, Any] = {"Name": name, "Value": wanted.value.reveal(),
                                     "Type": wanted.kind.value}
        if meta.description is not None or (current and current.meta.description):
            arguments["Description"] = meta.description or ""
        if meta.allowed_pattern is not None or (current and current.meta.allowed_pattern):
            arguments["AllowedPattern"] = meta.allowed_pattern or ""
        downgrade = meta.tier == "Standard" and current and current.meta.tier == "Advanced"
        if meta.tier and not downgrade:
            arguments["Tier"] = meta.tier
        if meta.data_type:
            arguments["DataType"] = meta.data_type
        if wanted.kind == Kind.SECURE_STRING and meta.key_id:
            arguments["KeyId"] = meta.key_id
        return arguments

