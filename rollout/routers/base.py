"""The ``TrafficRouter`` protocol: read, set and verify weights, pin a tenant to a colour.

Weights are per colour. The router validates them itself (moto does not): integers
from 0 to 999 as ALB allows, at least one non-zero. ``set_weights`` is exactly
one write to AWS, which is what makes rollback instant.

Every router also says what it is: whether it can tell tenants apart
(``can_pin``), and which IAM statements it needs on the resources it touches, so
``rollout iam-policy`` asks the cohort's router instead of assuming a listener.
Reads can fail (throttled, denied); :meth:`TrafficRouter.verify_weights` turns
a failed read into an answer rather than an exception, as Argo Rollouts'
``VerifyWeight`` does, so a caller deciding whether traffic has converged
gets "could not tell, because ..." instead of a crash.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import cached_property
from typing import Any, ClassVar, Generic, Protocol, TypeVar

from pydantic import BaseModel, ConfigDict

from rollout.aws_clients import AwsClients
from rollout.aws_errors import AwsErrors
from rollout.discovery import CohortResources
from rollout.errors import BadInput, RolloutError
from rollout.model.stack import TenantRef
from rollout.plugins import Registry
from rollout.userfile import validate
from rollout.vocabulary.colours import COLOURS, Colour
from rollout.vocabulary.test_route import TestRoute

Weights = dict[Colour, int]
SettingsT = TypeVar("SettingsT", bound=BaseModel)
MAX_WEIGHT = 999
DEFAULT_ROUTER = "alb"
"""The router of a cohort whose ``tenants.yaml`` entry names none."""


def validate_weights(weights: Mapping[str, int] | Weights) -> Weights:
    """Check ``weights`` before any write; :class:`BadInput` says what is wrong."""
    unknown = set(weights) - set(COLOURS)
    if unknown:
        raise BadInput(f"unknown colour {sorted(unknown)[0]!r} (colours: blue, green)")
    checked: Weights = {}
    for colour in COLOURS:
        value = weights.get(colour, 0)
        if isinstance(value, bool) or not isinstance(value, int):
            raise BadInput(f"weight of {colour} must be a whole number, got {value!r}")
        if not 0 <= value <= MAX_WEIGHT:
            raise BadInput(f"weight of {colour} must be between 0 and {MAX_WEIGHT}, got {value}")
        checked[colour] = value
    if not any(checked.values()):
        raise BadInput("at least one colour needs a non-zero weight")
    return checked


def percentages(weights: Mapping[Colour, int]) -> Weights:
    """Weights as whole percentages of the total (for display, and to compare routings)."""
    total = sum(weights.values()) or 1
    return {colour: round(100 * weights.get(colour, 0) / total) for colour in COLOURS}


def partition_and_region(cohort: CohortResources) -> tuple[str, str]:
    """Partition and region of the cohort's own resources, from its listener ARN
    (so GovCloud and China ARNs come out right)."""
    parts = cohort.listener_arn.split(":")
    return parts[1], parts[3]


class IamStatement(BaseModel):
    """One ``Allow`` statement of an IAM policy: named actions on exact resources."""

    model_config = ConfigDict(frozen=True)

    sid: str
    actions: list[str]
    resources: list[str]
    condition: dict[str, dict[str, list[str]]] | None = None

    def as_aws(self) -> dict[str, Any]:
        statement: dict[str, Any] = {"Sid": self.sid, "Effect": "Allow",
                                     "Action": sorted(self.actions),
                                     "Resource": self.resources}
        if self.condition:
            statement["Condition"] = self.condition
        return statement


@dataclass(frozen=True)
class WeightCheck:
    """Whether AWS routes as ``expected``: ``actual`` as read, or ``problem`` if it could not be.

    Routings compare as shares, so ``1:3`` verifies ``25:75`` (Lambda keeps
    fractions, not weights).
    """

    expected: Weights
    actual: Weights | None = None
    problem: str | None = None

    @property
    def verified(self) -> bool:
        return self.actual is not None and percentages(self.actual) == percentages(
            self.expected)

    def describe(self) -> str:
        if self.actual is None:
            return f"could not read the weights: {self.problem}"
        shown = ", ".join(f"{colour} {self.actual[colour]}" for colour in COLOURS)
        return f"routes {shown}" + ("" if self.verified else ", not as expected")


class TrafficRouter(Protocol):
    """Moves a cohort's traffic between its colours and pins tenants to one colour."""

    @property
    def can_pin(self) -> bool:
        """Whether :meth:`pin` can hold single tenants on a colour (else it refuses)."""
        ...

    def read_weights(self) -> Weights:
        """The weights AWS currently routes by."""
        ...

    def set_weights(self, weights: Weights) -> None:
        """Validate, then route by ``weights`` in exactly one AWS write."""
        ...

    def verify_weights(self, expected: Weights) -> WeightCheck:
        """Whether AWS routes by ``expected``; a failed read is reported, never raised."""
        ...

    def pin(self, tenants: list[TenantRef], colour: Colour) -> None:
        """Send these tenants' requests to ``colour`` whatever the weights say."""
        ...

    def unpin(self, tenant_ids: list[str]) -> None:
        """Remove pins; the tenants follow the weights again."""
        ...

    def pins(self) -> dict[str, Colour]:
        """Tenant id → pinned colour, as AWS currently routes them."""
        ...

    def test_route(self) -> TestRoute | None:
        """The test route as AWS routes it now, token included; None when there is none."""
        ...

    def open_test_route(self, colour: Colour, token: str) -> TestRoute | None:
        """Send requests carrying ``token`` to ``colour`` ahead of every pin and weight (one
        rule, replaced if there is one); None when this router cannot tell requests apart."""
        ...

    def close_test_route(self) -> None:
        """Remove the test route; nothing to do when there is none."""
        ...

    def iam_statements(self, account: str) -> list[IamStatement]:
        """What a role needs, in ``account``, to do all of the above and nothing more."""
        ...


class WeightReader:
    """What every router shares: verifying weights is reading them and comparing."""

    def read_weights(self) -> Weights:
        raise NotImplementedError

    def verify_weights(self, expected: Weights) -> WeightCheck:
        try:
            actual = self.read_weights()
        except RolloutError as exc:
            return WeightCheck(dict(expected), problem=str(exc))
        return WeightCheck(dict(expected), actual)


class ServiceRouter(WeightReader, Generic[SettingsT]):
    """What every router shares: one cohort, its checked settings, one AWS service's
    client (made on first use), and how that service's refusals read."""

    service: ClassVar[str]
    """The boto3 client the router talks through."""

    def __init__(self, clients: AwsClients, cohort: CohortResources,
                 settings: SettingsT) -> None:
        self._clients = clients
        self._cohort = cohort
        self._settings = settings
        self._errors = self._refusals()

    def _refusals(self) -> AwsErrors:
        """Which of the service's error codes mean the settings are wrong, and the fix."""
        raise NotImplementedError

    @cached_property
    def _client(self) -> Any:
        return self._clients.client(self.service)


def checked_settings(model: type[SettingsT], kind: str,
                     settings: Mapping[str, Any]) -> SettingsT:
    """A router's settings as ``tenants.yaml`` gives them, checked by ``model``;
    :class:`BadInput` names the field."""
    return validate(model, dict(settings), f"{kind} router settings", {})


class CannotPin(WeightReader):
    """A router that splits traffic without seeing tenants (DNS, a Lambda alias)."""

    can_pin = False
    kind = "this"

    def pin(self, tenants: list[TenantRef], colour: Colour) -> None:
        raise BadInput(f"the {self.kind} router cannot pin tenants; use the alb router")

    def unpin(self, tenant_ids: list[str]) -> None:
        """Nothing is ever pinned here, so there is nothing to remove."""

    def pins(self) -> dict[str, Colour]:
        return {}

    def test_route(self) -> TestRoute | None:
        return None

    def open_test_route(self, colour: Colour, token: str) -> TestRoute | None:
        """A split that cannot see requests has no test route: the hooks get none."""
        return None

    def close_test_route(self) -> None:
        """There is never a test route to remove."""


RouterFactory = Callable[[AwsClients, CohortResources, Mapping[str, Any]], TrafficRouter]
"""``factory(clients, cohort resources, router settings)``; settings as ``tenants.yaml``
gives them, without ``kind``; a bad setting raises :class:`BadInput` naming it."""

ROUTERS: Registry[RouterFactory] = Registry("router", "rollout.routers")
