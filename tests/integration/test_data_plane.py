"""The local data plane against a moto server: real HTTP through the cohort's listener.

One ``external`` cohort; each colour's stand-in target (``STAND_IN_TARGET``, the same
id in both colours' target groups) is played by a small uvicorn app on loopback that
answers with its colour's name. Weights and pins are written by the real
:class:`AlbRouter`, so the listener routes what the router wrote, and the metrics are
read back with the gates' own reader.
"""

from __future__ import annotations

import math
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import ExitStack
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from rollout.aws_clients import AwsClients
from rollout.discovery import CohortResources
from rollout.gates.cloudwatch_stats import (
    ELB_ERRORS_5XX,
    ERRORS_5XX,
    NAMESPACE,
    REQUESTS,
    RESPONSE_TIME,
    LoadBalancerMetrics,
    MetricWindow,
    TargetGroupMetrics,
    elb_dimensions,
    load_balancer_dimensions,
)
from rollout.local.data_plane.alb_metrics import AlbMetrics
from rollout.local.data_plane.lambda_host import ELB_ERROR_HEADER
from rollout.local.data_plane.proxy import COLOUR_HEADER
from rollout.local.data_plane.routing import Forward, Rule
from rollout.local.data_plane.serving import serve_cohort, serving_app
from rollout.local.data_plane.watcher import ListenerWatcher
from rollout.local.deployer import STAND_IN_TARGET
from rollout.local.fleets import Fleet, deploy_fleet
from rollout.model.stack import TenantRef
from rollout.routers.alb import AlbRouter, AlbSettings
from rollout.vocabulary.colours import Colour

pytestmark = pytest.mark.integration

Z_999 = 3.2905
"""Two-sided 99.9% quantile of the standard normal distribution."""
TIMEOUT = httpx.Timeout(5.0)


def colour_app(colour: str) -> Starlette:
    """A colour's stand-in target: says who it is and what it was sent; /fail answers 500."""
    async def answer(request: Request) -> Response:
        if request.url.path == "/fail":
            return Response("failed", status_code=500)
        if request.url.path == "/invocation-failed":
            return Response("traceback", status_code=502,
                            headers={ELB_ERROR_HEADER: "the handler raised"})
        return JSONResponse({
            "colour": colour, "method": request.method, "path": request.url.path,
            "query": request.url.query, "host": request.headers.get("host"),
            "forwarded_for": request.headers.get("x-forwarded-for"),
            "body": (await request.body()).decode()})
    return Starlette(routes=[Route("/{path:path}", answer, methods=["GET", "POST"])])


@pytest.fixture(scope="module")
def data_fleet(moto_endpoint: str, tmp_path_factory: pytest.TempPathFactory) -> Fleet:
    return deploy_fleet(tmp_path_factory.mktemp("data-plane"), {"c": ["aurora", "birch"]})


@pytest.fixture(scope="module")
def cohort(data_fleet: Fleet) -> CohortResources:
    return data_fleet.cohorts["c"]


@pytest.fixture(scope="module")
def colour_servers() -> Iterator[dict[Colour, str]]:
    """Each colour's stand-in target, running for the whole module: colour → host:port."""
    with ExitStack() as stack:
        urls = {colour: stack.enter_context(serving_app(colour_app(colour)))
                for colour in ("blue", "green")}
        yield {colour: url.removeprefix("http://") for colour, url in urls.items()}


@pytest.fixture
def router(data_fleet: Fleet, cohort: CohortResources) -> Iterator[AlbRouter]:
    """The cohort's router at 100% blue; pins and weights are put back afterwards."""
    alb = AlbRouter(data_fleet.clients, cohort)
    alb.set_weights({"blue": 100, "green": 0})
    yield alb
    alb.unpin(list(alb.pins()))
    alb.set_weights({"blue": 100, "green": 0})


class Targets:
    """The ``addresses`` of a listener: each colour's stand-in target, changeable by a test."""

    def __init__(self, cohort: CohortResources, servers: dict[Colour, str]) -> None:
        self.cohort = cohort
        self.by_colour: dict[Colour, str | None] = dict(servers)
        self.asked: set[tuple[str, str]] = set()

    def __call__(self, target_group_arn: str, target_id: str) -> str | None:
        self.asked.add((target_group_arn, target_id))
        if target_id != STAND_IN_TARGET:
            return None
        return self.by_colour[self.cohort.colour_of(target_group_arn)]


@pytest.fixture
def targets(cohort: CohortResources, colour_servers: dict[Colour, str]) -> Targets:
    return Targets(cohort, colour_servers)


@pytest.fixture
def listener(data_fleet: Fleet, cohort: CohortResources, targets: Targets,
             router: AlbRouter) -> Iterator[str]:
    """The cohort's local listener (base URL), started after the router's reset."""
    with serve_cohort(data_fleet.clients, cohort, targets) as url:
        yield url


def send(url: str, count: int, *, host: str = "birch.example", path: str = "/",
         headers: dict[str, str] | None = None) -> Counter[tuple[str, int]]:
    """``count`` GETs, one after another (faster than concurrent ones when the client, the
    listener and the targets share one interpreter): how many each (colour, status) got."""
    answers: Counter[tuple[str, int]] = Counter()
    with httpx.Client(base_url=url, timeout=TIMEOUT, trust_env=False) as client:
        for _ in range(count):
            answer = client.get(path, headers={"Host": host, **(headers or {})})
            answers[(answer.headers.get(COLOUR_HEADER, "none"), answer.status_code)] += 1
    return answers


def binomial_bounds(n: int, p: float) -> tuple[float, float]:
    """The 99.9% interval of a Binomial(n, p) count, by the normal approximation."""
    spread = Z_999 * math.sqrt(n * p * (1 - p))
    return n * p - spread, n * p + spread


def test_weights_set_by_the_router_split_traffic_in_proportion(
        router: AlbRouter, data_fleet: Fleet, cohort: CohortResources,
        targets: Targets) -> None:
    router.set_weights({"blue": 25, "green": 75})
    # Weights set before the listener starts are in its first reading; polling slowly
    # leaves the interpreter to the 2,000 requests (how fast it follows is tested below).
    with serve_cohort(data_fleet.clients, cohort, targets, every=0.5) as url:
        answers = send(url, 2000)
    low, high = binomial_bounds(2000, 0.25)
    assert answers[("blue", 200)] + answers[("green", 200)] == 2000, answers
    assert low <= answers[("blue", 200)] <= high, answers


def test_a_pinned_tenant_stays_on_its_colour_whatever_the_weights(
        router: AlbRouter, listener: str, data_fleet: Fleet) -> None:
    aurora = f"aurora.{data_fleet.app}.example"
    router.pin([TenantRef(id="aurora", host=aurora)], "blue")
    router.set_weights({"blue": 0, "green": 100})
    time.sleep(0.2)
    assert send(listener, 200, host=f"{aurora.upper()}:80") == Counter({("blue", 200): 200})
    assert send(listener, 50, host=f"birch.{data_fleet.app}.example") == Counter(
        {("green", 200): 50})


def first_answer_from(url: str, colour: str, deadline: float) -> float:
    """Poll ``url`` until ``colour`` answers; when that was (``time.perf_counter``)."""
    with httpx.Client(base_url=url, timeout=TIMEOUT, trust_env=False) as client:
        while time.perf_counter() < deadline:
            if client.get("/").headers.get(COLOUR_HEADER) == colour:
                return time.perf_counter()
    raise AssertionError(f"{colour} never answered")


def test_a_weight_change_takes_effect_promptly(router: AlbRouter, listener: str) -> None:
    first_answer_from(listener, "blue", time.perf_counter() + 5)
    router.set_weights({"blue": 0, "green": 100})
    written = time.perf_counter()
    # The promise is 100 ms (bench/data_plane.py measures it); this bound only catches a
    # listener that does not follow the router at all.
    assert first_answer_from(listener, "green", written + 5) - written < 0.5


def test_the_listener_forwards_the_request_as_sent(listener: str) -> None:
    with httpx.Client(base_url=listener, timeout=TIMEOUT, trust_env=False) as client:
        answer = client.post("/orders/7?sort=new&page=2", content=b"hello",
                             headers={"Host": "birch.example"})
    assert answer.status_code == 200
    assert answer.json() == {"colour": "blue", "method": "POST", "path": "/orders/7",
                             "query": "sort=new&page=2", "host": "birch.example",
                             "forwarded_for": "127.0.0.1", "body": "hello"}


def next_whole_second() -> datetime:
    """Wait for the next second to begin and return it: metrics are bucketed by second, so
    what a test sends after this is all it reads back from then on."""
    now = time.time()
    time.sleep(math.ceil(now) - now + 0.01)
    return datetime.fromtimestamp(math.ceil(now), UTC)


def metric_sum(clients: AwsClients, cohort: CohortResources, colour: Colour, name: str,
               since: datetime) -> float:
    answer = clients.client("cloudwatch").get_metric_statistics(
        Namespace=NAMESPACE, MetricName=name, Dimensions=elb_dimensions(cohort, colour),
        StartTime=since, EndTime=datetime.now(UTC) + timedelta(seconds=2), Period=60,
        Statistics=["Sum"])
    return sum(point["Sum"] for point in answer["Datapoints"])


def load_balancer_sum(clients: AwsClients, cohort: CohortResources, name: str,
                      since: datetime) -> float:
    """The metric's sum since ``since`` under the ``LoadBalancer`` dimension alone.

    Through ``GetMetricData``: like CloudWatch it matches dimensions exactly, while moto's
    ``GetMetricStatistics`` also matches every datum that has more dimensions (each
    target group's), which would hide whether the load balancer's own totals exist."""
    answer = clients.client("cloudwatch").get_metric_data(
        MetricDataQueries=[{"Id": "m", "MetricStat": {"Metric": {
            "Namespace": NAMESPACE, "MetricName": name,
            "Dimensions": load_balancer_dimensions(cohort)}, "Period": 60, "Stat": "Sum"}}],
        StartTime=since, EndTime=datetime.now(UTC) + timedelta(seconds=2))
    return float(sum(answer["MetricDataResults"][0]["Values"]))


def test_a_colour_whose_server_is_down_answers_502_counted_as_elb_5xx(
        router: AlbRouter, data_fleet: Fleet, cohort: CohortResources,
        targets: Targets) -> None:
    with serving_app(colour_app("green")) as doomed:
        targets.by_colour["green"] = doomed.removeprefix("http://")
    router.set_weights({"blue": 0, "green": 100})
    since = next_whole_second()
    with serve_cohort(data_fleet.clients, cohort, targets) as url:
        answers = send(url, 40)
    assert answers == Counter({("green", 502): 40})
    assert metric_sum(data_fleet.clients, cohort, "green", ELB_ERRORS_5XX, since) == 40


def test_the_load_balancer_publishes_its_own_totals_under_its_dimension_alone(
        router: AlbRouter, data_fleet: Fleet, cohort: CohortResources,
        targets: Targets) -> None:
    targets.by_colour["green"] = None  # nothing answers for green: the listener's own 502
    router.set_weights({"blue": 50, "green": 50})
    since = next_whole_second()
    with serve_cohort(data_fleet.clients, cohort, targets) as url:
        answers = send(url, 60) + send(url, 6, path="/fail")
    own_502 = answers[("green", 502)]
    assert own_502 > 0 and answers[("blue", 200)] > 0, answers
    assert sum(answers.values()) == 66
    total = load_balancer_sum(data_fleet.clients, cohort, REQUESTS, since)
    own_5xx = load_balancer_sum(data_fleet.clients, cohort, ELB_ERRORS_5XX, since)
    assert (total, own_5xx) == (66, own_502)
    assert load_balancer_sum(data_fleet.clients, cohort, ERRORS_5XX, since) == 0, \
        "only RequestCount and HTTPCode_ELB_5XX_Count are published per load balancer"
    window = MetricWindow.between(since, datetime.now(UTC))
    seen = LoadBalancerMetrics(data_fleet.clients, cohort).traffic(window)
    assert (seen.requests, seen.errors_5xx) == (66, own_502)
    per_colour = TargetGroupMetrics(data_fleet.clients, cohort).traffic(["blue", "green"],
                                                                        window)
    assert per_colour["blue"].requests + per_colour["green"].requests == 66


def test_a_target_group_with_no_targets_answers_503(
        router: AlbRouter, data_fleet: Fleet, cohort: CohortResources,
        listener: str) -> None:
    elbv2 = data_fleet.clients.client("elbv2")
    green = cohort.target_group_arns["green"]
    stand_in = [{"Id": STAND_IN_TARGET, "Port": 8080}]
    elbv2.deregister_targets(TargetGroupArn=green, Targets=stand_in)
    try:
        router.set_weights({"blue": 0, "green": 100})
        time.sleep(0.2)
        since = next_whole_second()
        assert send(listener, 20) == Counter({("green", 503): 20})
        time.sleep(1.2)  # the listener's flusher publishes every second
        # ALB counts a request once it chose a target: a 503 for no target is its own
        # 5xx, but no request of RequestCount
        assert load_balancer_sum(data_fleet.clients, cohort, ELB_ERRORS_5XX, since) == 20
        assert load_balancer_sum(data_fleet.clients, cohort, REQUESTS, since) == 0
    finally:
        elbv2.register_targets(TargetGroupArn=green, Targets=stand_in)


def test_what_was_served_reaches_the_gates_metrics(
        router: AlbRouter, data_fleet: Fleet, cohort: CohortResources,
        targets: Targets) -> None:
    since = next_whole_second()
    with serve_cohort(data_fleet.clients, cohort, targets) as url:
        served = send(url, 54) + send(url, 6, path="/fail")
    assert served == Counter({("blue", 200): 54, ("blue", 500): 6})
    window = MetricWindow.between(since, datetime.now(UTC))
    stats = TargetGroupMetrics(data_fleet.clients, cohort).traffic(
        ["blue", "green"], window, latency=True)
    assert (stats["blue"].requests, stats["blue"].errors_5xx) == (60, 6)
    assert stats["blue"].p99_ms is not None and 0 < stats["blue"].p99_ms < 1000
    assert stats["green"].requests == 0


def test_a_lambda_target_s_failed_invocation_is_albs_own_502(
        router: AlbRouter, data_fleet: Fleet, cohort: CohortResources,
        targets: Targets) -> None:
    since = next_whole_second()
    with serve_cohort(data_fleet.clients, cohort, targets) as url, \
            httpx.Client(base_url=url, timeout=TIMEOUT) as client:
        answers = [client.get("/invocation-failed", headers={"Host": "birch.example"})
                   for _ in range(5)]
    assert {answer.status_code for answer in answers} == {502}
    assert all(ELB_ERROR_HEADER not in answer.headers and "traceback" not in answer.text
               for answer in answers)
    assert metric_sum(data_fleet.clients, cohort, "blue", ELB_ERRORS_5XX, since) == 5
    assert metric_sum(data_fleet.clients, cohort, "blue", ERRORS_5XX, since) == 0


def test_the_watcher_reads_the_rules_the_router_writes(
        data_fleet: Fleet, cohort: CohortResources, router: AlbRouter) -> None:
    header_router = AlbRouter(data_fleet.clients, cohort, AlbSettings(header_too=True))
    aurora = f"aurora.{data_fleet.app}.example"
    header_router.pin([TenantRef(id="aurora", host=aurora)], "green")
    header_router.pin([TenantRef(id="zed")], "blue")
    header_router.set_weights({"blue": 30, "green": 70})
    blue, green = cohort.target_group_arns["blue"], cohort.target_group_arns["green"]
    table = ListenerWatcher(data_fleet.clients, cohort).read().table
    assert table.default == Forward(((blue, 30), (green, 70)))
    assert [rule.priority for rule in table.rules] == sorted(
        rule.priority for rule in table.rules)
    assert routes_of(table.rules) == {("host-header", aurora): green,
                                      ("http-header", "aurora"): green,
                                      ("http-header", "zed"): blue}
    assert table.route("AURORA." + aurora.split(".", 1)[1], {}, 0.0) == green
    assert table.route("x.example", {"x-tenant-id": "zed"}, 0.9) == blue
    assert table.route("x.example", {}, 0.1) == blue
    assert table.route("x.example", {}, 0.5) == green


def routes_of(rules: tuple[Rule, ...]) -> dict[tuple[str, str], str]:
    """(condition field, value) → the one target group its rule forwards to."""
    found: dict[tuple[str, str], str] = {}
    for rule in rules:
        (condition,) = rule.conditions
        ((arn, _),) = rule.forward.groups
        assert condition.header in (None, "X-Tenant-Id")
        found.update({(condition.field, value): arn for value in condition.values})
    return found



def test_response_times_go_out_as_distributions_cloudwatch_accepts(
        data_fleet: Fleet, cohort: CohortResources) -> None:
    sent: list[dict[str, Any]] = []
    cloudwatch = data_fleet.clients.client("cloudwatch")

    def keep(params: dict[str, Any], **_: Any) -> None:
        sent.extend(params["MetricData"])

    cloudwatch.meta.events.register("provide-client-params.cloudwatch.PutMetricData", keep)
    blue = cohort.target_group_arns["blue"]
    since = next_whole_second()
    metrics = AlbMetrics(data_fleet.clients, cohort)
    try:
        for millis in range(400):
            metrics.record(blue, 200, False, millis / 1000)
        metrics.record(blue, 503, True, 0.0)
        metrics.flush()
    finally:
        cloudwatch.meta.events.unregister("provide-client-params.cloudwatch.PutMetricData", keep)
    distributions = [d for d in sent if d["MetricName"] == RESPONSE_TIME]
    assert sum(len(d["Values"]) for d in distributions) == 400
    assert all(len(d["Values"]) <= 150 and d["StorageResolution"] == 1 for d in distributions)
    window = MetricWindow.between(since, datetime.now(UTC))
    stats = TargetGroupMetrics(data_fleet.clients, cohort).traffic(["blue"], window, latency=True)
    assert stats["blue"].requests == 400
    assert stats["blue"].p99_ms == pytest.approx(395.0)
    assert metric_sum(data_fleet.clients, cohort, "blue", ELB_ERRORS_5XX, since) == 1
