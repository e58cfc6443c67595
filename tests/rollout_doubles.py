"""Stand-ins for everything a :class:`CohortRollout` talks to, so it runs in microseconds.

The ledger is the product's own :class:`MemoryLedger`; the router keeps weights and pins
in a dict and counts its writes; gates and preflight checks say what a test scripts; the
clock moves only when the code under test sleeps or a test advances it. No AWS client is
ever created: the clients handed to gates refuse to make one.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from rollout.aws_clients import AwsClients
from rollout.capacity.base import TargetState, TargetStates
from rollout.discovery import CohortResources
from rollout.errors import Blocked
from rollout.gates.base import GateContext, GateResult, Verdict
from rollout.hooks.base import LifecycleHook
from rollout.model.stack import TenantRef
from rollout.rollouts.executor import (
    Blocker,
    CarryBack,
    CohortRollout,
    RolloutHooks,
    RolloutSettings,
    TickReport,
)
from rollout.rollouts.memory_ledger import MemoryLedger
from rollout.rollouts.progression import ProgressionSettings
from rollout.rollouts.state import RolloutState
from rollout.rollouts.strategy import Step, StepPlan
from rollout.routers.base import IamStatement, WeightReader, Weights, validate_weights
from rollout.vocabulary.colours import Colour
from rollout.vocabulary.test_route import DEFAULT_TEST_HEADER, TestRoute

START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
BAKE = 60.0
THREE_STEPS = StepPlan(steps=[Step(weight=25, bake_seconds=BAKE),
                              Step(weight=50, bake_seconds=BAKE),
                              Step(weight=100, bake_seconds=BAKE)])
OLD_ONLY: Weights = {"blue": 100, "green": 0}


class FakeClock:
    """Wall and monotonic time that move only when someone sleeps or a test advances them."""

    def __init__(self, start: datetime = START) -> None:
        self.moment = start
        self.ticks = 1000.0
        self.on_sleep: Callable[[], object] | None = None
        """Called after each sleep: what other processes do meanwhile (renew a lease)."""

    def now(self) -> datetime:
        return self.moment

    def monotonic(self) -> float:
        return self.ticks

    def sleep(self, seconds: float) -> None:
        self.advance(seconds)
        if self.on_sleep is not None:
            self.on_sleep()

    def advance(self, seconds: float) -> None:
        self.moment += timedelta(seconds=seconds)
        self.ticks += seconds


class MemoryRouter(WeightReader):
    """Weights and pins in a dict; every write is kept, in order."""

    can_pin = True

    def __init__(self, weights: Weights | None = None,
                 journal: list[str] | None = None) -> None:
        self.weights: Weights = dict(weights or OLD_ONLY)
        self.writes: list[Weights] = []
        self.journal = journal if journal is not None else []
        """Every write, as one line, in a journal a test may share with other doubles."""
        self.pinned: dict[str, Colour] = {}
        self.pin_writes: list[dict[str, Colour]] = []
        self.routed_tests: TestRoute | None = None
        self.test_route_log: list[str] = []
        """What happened to the test route, in order (not in ``journal``: not a weight)."""

    def read_weights(self) -> Weights:
        return dict(self.weights)

    def set_weights(self, weights: Weights) -> None:
        self.weights = validate_weights(dict(weights))
        self.writes.append(dict(self.weights))
        self.journal.append("write " + " ".join(f"{c} {w}" for c, w in self.weights.items()))

    def pin(self, tenants: list[TenantRef], colour: Colour) -> None:
        self.pinned.update({tenant.id: colour for tenant in tenants})
        self.pin_writes.append({tenant.id: colour for tenant in tenants})

    def unpin(self, tenant_ids: list[str]) -> None:
        for tenant in tenant_ids:
            self.pinned.pop(tenant, None)

    def pins(self) -> dict[str, Colour]:
        return dict(self.pinned)

    def test_route(self) -> TestRoute | None:
        return self.routed_tests

    def open_test_route(self, colour: Colour, token: str) -> TestRoute:
        self.routed_tests = TestRoute(DEFAULT_TEST_HEADER, token, colour, "rule/test-route")
        self.test_route_log.append(f"opened to {colour}")
        return self.routed_tests

    def close_test_route(self) -> None:
        if self.routed_tests is not None:
            self.test_route_log.append("closed")
        self.routed_tests = None

    def iam_statements(self, account: str) -> list[IamStatement]:
        return []


class ScriptedGate:
    """Answers each check with the next verdict of its script; the last one repeats."""

    def __init__(self, name: str, *verdicts: Verdict, waits_for_human: bool = False) -> None:
        self.name = name
        self.script = list(verdicts) or [Verdict.PASS]
        self.waits_for_human = waits_for_human
        self.contexts: list[GateContext] = []

    def check(self, context: GateContext) -> GateResult:
        self.contexts.append(context)
        verdict = self.script.pop(0) if len(self.script) > 1 else self.script[0]
        return GateResult(gate=self.name, verdict=verdict, reason=f"scripted {verdict.value}")

    def then(self, *verdicts: Verdict) -> None:
        """From the next check on, answer with ``verdicts``."""
        self.script = list(verdicts)


class MemoryCapacity:
    """Each colour's size in a dict: a colour serves once it has a size, ``warm_up`` health
    checks after its last resize (tasks starting); every call goes into ``journal``."""

    kind = "memory"
    unit = "tasks"

    def __init__(self, journal: list[str], sizes: dict[Colour, int] | None = None, *,
                 warm_up: int = 0) -> None:
        self.journal = journal
        self.sizes: dict[Colour, int] = dict(sizes or {"blue": 3, "green": 3})
        self.warm_up = warm_up
        self._checks_left: dict[Colour, int] = {}

    def size(self, colour: Colour) -> int | None:
        return self.sizes[colour]

    def resize(self, colour: Colour, size: int) -> None:
        self.journal.append(f"resize {colour} {size}")
        self.sizes[colour] = size
        self._checks_left[colour] = self.warm_up

    def health(self, colour: Colour) -> TargetStates:
        self.journal.append(f"health {colour}")
        starting = self._checks_left.get(colour, 0)
        self._checks_left[colour] = max(0, starting - 1)
        state = "initial" if starting else "healthy"
        return TargetStates(colour, tuple(TargetState(f"10.0.0.{n}", state)
                                          for n in range(self.sizes[colour])),
                            self.sizes[colour])

    def iam_statements(self, account: str) -> list[IamStatement]:
        return []


@dataclass
class ScriptedPreflight:
    """A preflight check that passes with ``summary``, or raises ``failure``."""

    name: str
    summary: str = "fine"
    failure: Exception | None = None
    runs: int = 0

    def plan(self, state: RolloutState) -> str:
        return f"check {self.name} for {state.release}"

    def run(self, state: RolloutState) -> str:
        self.runs += 1
        if self.failure is not None:
            raise self.failure
        return self.summary


@dataclass
class Freeze:
    """A company freeze a test switches on and off."""

    reason: str | None = None
    kind: Literal["freeze"] = "freeze"

    def blocked_at(self, moment: datetime, release: str) -> str | None:
        return self.reason


@dataclass
class ScriptedAlarm:
    """An alarm blocker a test fires and clears; counts the checks it answered."""

    reason: str | None = None
    kind: Literal["alarm"] = "alarm"
    checks: int = 0

    def blocked_at(self, moment: datetime, release: str) -> str | None:
        self.checks += 1
        return self.reason


@dataclass
class CarryBackSpy:
    """The rollback hook: counts carry-backs, reports one summary."""

    calls: list[str] = field(default_factory=list)

    def __call__(self, state: RolloutState) -> CarryBack:
        self.calls.append(state.cohort)
        return CarryBack(f"carried back from {state.new_colour}")


def no_clients() -> AwsClients:
    """Clients that refuse to create any AWS client: the executor must never need one."""

    def refuse(service: str, region: str, client: Any) -> None:
        raise AssertionError(f"the executor created a {service} client in {region}")

    return AwsClients(check=refuse)


def cohort_resources(name: str = "canary", tenants: Iterable[str] = ("aurora", "gale"),
                     versions: dict[Colour, str] | None = None) -> CohortResources:
    arn = "arn:aws:elasticloadbalancing:eu-west-1:123456789012"
    return CohortResources(
        app="shop", artefact_bucket="shop-artefacts", ledger_table="shop-ledger",
        notices_topic_arn="arn:aws:sns:eu-west-1:123456789012:shop-notices", cohort=name,
        listener_arn=f"{arn}:listener/app/shop-{name}/1/2",
        load_balancer_arn=f"{arn}:loadbalancer/app/shop-{name}/1",
        target_group_arns={"blue": f"{arn}:targetgroup/{name}-blue/1",
                           "green": f"{arn}:targetgroup/{name}-green/2"},
        versions=versions or {"blue": "1.4.2", "green": "1.5.0"},
        param_prefix=f"/shop/{name}",
        tenants=[TenantRef(id=tenant, host=f"{tenant}.shop.example") for tenant in tenants])


@dataclass
class Bench:
    """One cohort's world: clock, ledger, router, gates, hooks; many processes may share it."""

    clock: FakeClock = field(default_factory=FakeClock)
    router: MemoryRouter = field(default_factory=MemoryRouter)
    gates: list[ScriptedGate] = field(default_factory=list)
    preflight: list[ScriptedPreflight] = field(default_factory=list)
    freeze: Freeze = field(default_factory=Freeze)
    carry_back: CarryBackSpy = field(default_factory=CarryBackSpy)
    pins: list[tuple[TenantRef, str]] = field(default_factory=list)
    reports: list[TickReport] = field(default_factory=list)
    max_inconclusive: int = 3
    ledger: MemoryLedger = field(init=False)
    resources: CohortResources = field(default_factory=cohort_resources)
    clients: AwsClients = field(default_factory=no_clients)
    capacity: MemoryCapacity | None = None
    blockers: list[Blocker] = field(default_factory=list)
    """Blockers besides :attr:`freeze` (a :class:`FleetHalts` on :attr:`ledger`, an alarm)."""
    on_rolled_back: list[Callable[[RolloutState], None]] = field(default_factory=list)
    lifecycle: list[LifecycleHook] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.ledger = MemoryLedger(monotonic=self.clock.monotonic, sleep=self.clock.sleep)

    def rollout(self, actor: str = "ci@runner") -> CohortRollout:
        """An executor as one process (one ``actor``) builds it."""
        hooks = RolloutHooks(preflight=list(self.preflight),
                             blockers=[*self.blockers, self.freeze],
                             on_rolled_back=list(self.on_rolled_back),
                             on_rollback=[self.carry_back], on_progress=self.reports.append,
                             pins=lambda _moment, _length: list(self.pins),
                             capacity=self.capacity, lifecycle=list(self.lifecycle))
        settings = RolloutSettings(check_interval=15, lease_seconds=60, actor=actor,
                                   progression=ProgressionSettings(max_inconclusive=self.max_inconclusive))
        return CohortRollout(clients=self.clients, cohort=self.resources, ledger=self.ledger,
                             router=self.router, gates=list(self.gates), hooks=hooks,
                             settings=settings, clock=self.clock)

    def start(self, actor: str = "ci@runner", *, strategy: str = "linear:25:1m",
              freeze_override: str | None = None) -> None:
        """``rollout start`` of 1.5.0 as one process: under the lease, through step 1."""
        rollout = self.rollout(actor)
        with rollout.lease():
            rollout.start("1.5.0", strategy, THREE_STEPS, freeze_override=freeze_override)

    def tick(self, actor: str = "ci@runner") -> object:
        """``rollout step`` as one process."""
        rollout = self.rollout(actor)
        with rollout.lease():
            return rollout.tick()

    def state(self) -> RolloutState:
        found = self.rollout().state()
        if found is None:
            raise Blocked("no rollout in the bench's ledger")
        return found

    def event_kinds(self) -> list[str]:
        return [event.kind for event in self.ledger.events(self.resources.cohort)]
