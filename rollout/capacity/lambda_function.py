"""``lambda``: a colour's size is its function version's provisioned concurrency, if any."""

from __future__ import annotations

from functools import cached_property
from typing import Any

from rollout.capacity.base import CAPACITIES, TargetGroupCapacity
from rollout.routers.base import IamStatement
from rollout.vocabulary.colours import COLOURS, Colour


@CAPACITIES.register("lambda")
class LambdaCapacity(TargetGroupCapacity):
    """On demand, a function has no size to set; with ``provisionedConcurrency`` configured,
    scaling down removes it from the colour's published version, and scaling up puts it
    back. The function and its version always stay: they are what a rollback runs."""

    kind = "lambda"
    unit = "provisioned executions"

    @cached_property
    def _lambda(self) -> Any:
        return self._clients.client("lambda")

    def _qualified(self, colour: Colour) -> tuple[str, str]:
        running = self.running(colour)
        if not running.function or not running.function_version:
            raise self.nothing_deployed(colour, "function")
        return running.function, running.function_version

    def size(self, colour: Colour) -> int | None:
        if not self.running(colour).provisioned_concurrency:
            return None
        function, version = self._qualified(colour)
        try:
            found = self._lambda.get_provisioned_concurrency_config(
                FunctionName=function, Qualifier=version)
        except self._lambda.exceptions.ProvisionedConcurrencyConfigNotFoundException:
            return 0
        return int(found["RequestedProvisionedConcurrentExecutions"])

    def resize(self, colour: Colour, size: int) -> None:
        """On demand (no ``provisionedConcurrency`` configured) there is nothing to set."""
        if not self.running(colour).provisioned_concurrency:
            return
        function, version = self._qualified(colour)
        if size > 0:
            self._lambda.put_provisioned_concurrency_config(
                FunctionName=function, Qualifier=version,
                ProvisionedConcurrentExecutions=size)
        else:
            self._lambda.delete_provisioned_concurrency_config(
                FunctionName=function, Qualifier=version)

    def iam_statements(self, account: str) -> list[IamStatement]:
        region = self._cohort.region or ""
        functions = sorted({f"arn:aws:lambda:{region}:{account}:function:{running.function}:*"
                            for colour in COLOURS
                            if (running := self.running(colour)).function
                            and running.provisioned_concurrency})
        return [*super().iam_statements(account), *([IamStatement(
            sid="SizeTheColoursProvisionedConcurrency", resources=functions, actions=[
                "lambda:GetProvisionedConcurrencyConfig",
                "lambda:PutProvisionedConcurrencyConfig",
                "lambda:DeleteProvisionedConcurrencyConfig"])] if functions else [])]
