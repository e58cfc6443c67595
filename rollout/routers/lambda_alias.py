"""Blue/green for a Lambda function: an alias split between two published versions.

Each colour is a published version number. The alias's ``FunctionVersion`` takes
the larger share and ``RoutingConfig.AdditionalVersionWeights`` gives the other
version its fraction, so :meth:`LambdaAliasRouter.set_weights` is one
``UpdateAlias`` call, and 100% on one colour clears the routing config entirely.
Lambda picks a version per invocation, not per tenant, so this router cannot pin.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from rollout.aws_clients import AwsClients
from rollout.aws_errors import AwsErrors
from rollout.discovery import CohortResources
from rollout.errors import BadInput
from rollout.routers.base import (
    ROUTERS,
    CannotPin,
    IamStatement,
    ServiceRouter,
    Weights,
    checked_settings,
    partition_and_region,
    validate_weights,
)
from rollout.vocabulary.colours import COLOURS, Colour, other_colour

PUBLISHED_VERSION = re.compile(r"^[1-9][0-9]*$")


class LambdaAliasSettings(BaseModel):
    """Which alias to split, and the published version of each colour."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    function_name: str = Field(min_length=1, max_length=170)
    alias: str = Field(pattern=r"^[A-Za-z0-9_-]{1,128}$")
    versions: dict[Colour, str]

    @field_validator("versions", mode="before")
    @classmethod
    def _numbers_as_text(cls, value: Any) -> Any:
        if isinstance(value, dict):
            return {k: str(v) if isinstance(v, int) and not isinstance(v, bool) else v
                    for k, v in value.items()}
        return value

    @field_validator("alias")
    @classmethod
    def _not_a_version(cls, value: str) -> str:
        if value.isdigit():
            raise ValueError("an alias name cannot be all digits (that would be a version)")
        return value

    @model_validator(mode="after")
    def _two_published_versions(self) -> LambdaAliasSettings:
        for colour in COLOURS:
            version = self.versions.get(colour)
            if version is None:
                raise ValueError(f"versions needs a published version number for {colour}")
            if not PUBLISHED_VERSION.match(version):
                raise ValueError(f"version of {colour} must be a published version number "
                                 f"like 7 ($LATEST cannot take weighted traffic), got {version!r}")
        if self.versions["blue"] == self.versions["green"]:
            raise ValueError("blue and green must be different versions")
        return self


class LambdaAliasRouter(CannotPin, ServiceRouter[LambdaAliasSettings]):
    """Weights of one alias between the versions of the two colours."""

    kind = "lambda-alias"
    service = "lambda"

    def _refusals(self) -> AwsErrors:
        settings = self._settings
        return AwsErrors.with_codes(
            "Lambda", f"alias {settings.alias} of {settings.function_name} (cohort "
            f"{self._cohort.cohort})", ("ResourceNotFoundException",
                                        "InvalidParameterValueException"),
            "check the lambda-alias router's settings in tenants.yaml")

    def read_weights(self) -> Weights:
        """Whole percentages per colour (Lambda keeps fractions, not weights)."""
        with self._errors.mapped("reading the alias"):
            alias = self._client.get_alias(FunctionName=self._settings.function_name,
                                           Name=self._settings.alias)
        extra: dict[str, float] = (alias.get("RoutingConfig") or {}).get(
            "AdditionalVersionWeights") or {}
        primary = self._colour_of(alias["FunctionVersion"])
        weights: Weights = dict.fromkeys(COLOURS, 0)
        for version, fraction in extra.items():
            weights[self._colour_of(version)] += round(100 * float(fraction))
        weights[primary] = 100 - sum(weights.values())
        return weights

    def set_weights(self, weights: Weights) -> None:
        checked = validate_weights(weights)
        primary: Colour = "green" if checked["green"] > checked["blue"] else "blue"
        secondary = other_colour(primary)
        fraction = checked[secondary] / sum(checked.values())
        extra = {self._settings.versions[secondary]: round(fraction, 6)} if fraction else {}
        with self._errors.mapped("setting weights"):
            self._client.update_alias(
                FunctionName=self._settings.function_name, Name=self._settings.alias,
                FunctionVersion=self._settings.versions[primary],
                RoutingConfig={"AdditionalVersionWeights": extra})

    def iam_statements(self, account: str) -> list[IamStatement]:
        """Read and update this one alias, nothing else of the function."""
        return [IamStatement(sid="ShiftTrafficOnTheAlias", resources=[self.alias_arn(account)],
                             actions=["lambda:GetAlias", "lambda:UpdateAlias"])]

    def alias_arn(self, account: str) -> str:
        """The alias's ARN; ``function_name`` may itself be a function ARN."""
        name = self._settings.function_name
        if name.startswith("arn:"):
            return f"{name}:{self._settings.alias}"
        partition, region = partition_and_region(self._cohort)
        return f"arn:{partition}:lambda:{region}:{account}:function:{name}:{self._settings.alias}"

    def _colour_of(self, version: str) -> Colour:
        for colour in COLOURS:
            if self._settings.versions[colour] == version:
                return colour
        raise BadInput(
            f"alias {self._settings.alias} of {self._settings.function_name} routes to version "
            f"{version}, which is neither blue ({self._settings.versions['blue']}) nor green "
            f"({self._settings.versions['green']}); fix the router's versions settings")


@ROUTERS.register("lambda-alias")
def lambda_alias_router(clients: AwsClients, cohort: CohortResources,
                        settings: Mapping[str, Any]) -> LambdaAliasRouter:
    """The ``lambda-alias`` router; ``settings`` checked by :class:`LambdaAliasSettings`."""
    return LambdaAliasRouter(clients, cohort,
                             checked_settings(LambdaAliasSettings, "lambda-alias", settings))
