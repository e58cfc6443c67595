"""Copy throughput of tenant parameters: ours against a sequential boto3 loop and the aws CLI.

One embedded moto server (``rollout.local.server.embedded_moto``) serves every
run. It runs in a child process, like the service it stands in for: a server
in the benchmark's own process would share its interpreter lock, and every
call's server-side work would stall the client threads that concurrency exists
to keep busy.

The store holds 2,000 parameters under ``/bench/wave1/blue`` (100 tenants x 20
keys; String, StringList, 5% SecureString; descriptions, tags, a few Advanced
tier). Every run copies blue → green from an empty green, so each sees the same
server state:

* **ours**: :meth:`ConfigCopier.copy` (names and metadata by
  ``DescribeParameters``, values by ``GetParameters`` 10 names a call, tags and
  writes, all with 16 calls in flight, a verification re-read, the ledger
  snapshot);
* **sequential boto3**: the loop a script would write to get the same result:
  page through ``DescribeParameters``, then per parameter ``GetParameter``,
  ``ListTagsForResource`` and ``PutParameter``;
* **aws CLI**: a shell loop of ``aws ssm get-parameter`` / ``put-parameter``
  (value and type only: less work than the others).

Both boto3 runs go twice: with no added latency, and with 20 ms added before
every request (a botocore ``before-send`` hook), which models an in-region
round trip that a loopback moto server hides. Ours always copies all 2,000.
A sequential loop costs the same per parameter whatever the count, so to keep
the run short it copies 1,000 at 0 ms and 200 at 20 ms (3 round trips a
parameter), and the aws CLI (half a second or more per process) 10; throughput
is per parameter, so these compare like for like (a smaller green even makes
moto's store scans cheaper for the baselines). ``--full`` runs the issue's
sizes (2,000 for both sequential runs, 200 for the CLI), several minutes more.

Run: ``make bench``, or ``PATH=.venv-awscli/bin:$PATH .venv/bin/python bench/config_copy.py
[--params 2000] [--full]``
"""

from __future__ import annotations

import argparse
import math
import os
import shutil
import subprocess
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

from rollout.aws_clients import AwsClients
from rollout.configcopy import ConfigCopier
from rollout.discovery import CohortResources
from rollout.local.server import moto_in_child_process
from rollout.rollouts.ledger import Ledger

APP, COHORT = "bench", "wave1"
KEYS_PER_TENANT = 20
LEDGER_TABLE = "bench-rollout-ledger"
TARGETS = {"sequential boto3, 20 ms": 5.0, "sequential boto3, 0 ms": 1.5, "aws CLI loop": 50.0}


# the data -----------------------------------------------------------------------
def cohort_resources(kms_key_arn: str) -> CohortResources:
    return CohortResources(
        app=APP, cohort=COHORT, artefact_bucket="unused", ledger_table=LEDGER_TABLE,
        notices_topic_arn="unused", listener_arn="unused", load_balancer_arn="unused",
        target_group_arns={"blue": "unused", "green": "unused"},
        versions={"blue": "1.0.0", "green": "1.0.0"}, param_prefix=f"/{APP}/{COHORT}",
        kms_key_arn=kms_key_arn)


def parameter(index: int, prefix: str, key_arn: str) -> dict[str, Any]:
    """The ``index``-th parameter: 5% SecureString, a quarter StringList, the rest String."""
    tenant, key = divmod(index, KEYS_PER_TENANT)
    arguments: dict[str, Any] = {"Name": f"{prefix}/tenant{tenant:04d}/setting{key:02d}",
                                 "Value": f"value-{index}", "Type": "String"}
    if index % 20 == 0:
        arguments.update(Type="SecureString", KeyId=key_arn, Value=f"secret-{index:06d}")
    elif index % 4 == 1:
        arguments.update(Type="StringList", Value=f"a{index},b{index},c{index}")
    if index % 2 == 0:
        arguments["Description"] = f"setting {key} of tenant {tenant}"
    if index % 3 == 0:
        arguments["Tags"] = [{"Key": "tenant", "Value": f"tenant{tenant:04d}"},
                             {"Key": "class", "Value": str(index % 7)}]
    if index % 100 == 7:
        arguments["Tier"] = "Advanced"
    return arguments


def seed(clients: AwsClients, count: int) -> CohortResources:
    kms_key = clients.client("kms").create_key(Description="bench config")["KeyMetadata"]["Arn"]
    clients.client("dynamodb").create_table(
        TableName=LEDGER_TABLE, BillingMode="PAY_PER_REQUEST",
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"},
                   {"AttributeName": "sk", "KeyType": "RANGE"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"},
                              {"AttributeName": "sk", "AttributeType": "S"}])
    cohort = cohort_resources(kms_key)
    ssm = clients.client("ssm")
    blue = cohort.colour_prefix("blue")
    with ThreadPoolExecutor(16) as pool:
        list(pool.map(lambda i: ssm.put_parameter(**parameter(i, blue, kms_key)), range(count)))
    return cohort


def clear(clients: AwsClients, prefix: str) -> None:
    """Delete every parameter under ``prefix`` (between runs)."""
    ssm = clients.client("ssm")
    pages = ssm.get_paginator("get_parameters_by_path").paginate(Path=prefix, Recursive=True)
    names = [p["Name"] for page in pages for p in page["Parameters"]]
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda i: ssm.delete_parameters(Names=names[i:i + 10]),
                      range(0, len(names), 10)))


def count_under(clients: AwsClients, prefix: str) -> int:
    pages = clients.client("ssm").get_paginator("get_parameters_by_path").paginate(
        Path=prefix, Recursive=True)
    return sum(len(page["Parameters"]) for page in pages)


# instrumentation ------------------------------------------------------------------
@dataclass
class Calls:
    """API calls by operation name, counted by a ``before-call`` hook."""

    counts: Counter[str] = field(default_factory=Counter)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def __call__(self, model: Any, **_: Any) -> None:
        with self.lock:
            self.counts[model.name] += 1

    def summary(self) -> str:
        return ", ".join(f"{name} {n}" for name, n in sorted(self.counts.items()))


def instrumented(latency_ms: float, services: tuple[str, ...] = ("ssm", "dynamodb")) -> tuple[
        AwsClients, Calls]:
    """Adaptive-retry clients that count calls and wait ``latency_ms`` before each request."""
    clients = AwsClients(retry_mode="adaptive")
    calls = Calls()
    for service in services:
        events = clients.client(service).meta.events
        events.register(f"before-call.{service}", calls)
        if latency_ms:
            events.register(f"before-send.{service}",
                            lambda **_: time.sleep(latency_ms / 1000))
    return clients, calls


# the contenders ------------------------------------------------------------------
def ours(clients: AwsClients, cohort: CohortResources, workers: int) -> int:
    copier = ConfigCopier(clients, cohort, Ledger(clients, cohort.ledger_table), workers=workers)
    report = copier.copy("blue", "green")
    if report.verification is None or not report.verification.ok:
        raise RuntimeError("our copy did not verify")
    return report.written


def sequential(clients: AwsClients, cohort: CohortResources, limit: int) -> int:
    """What a script does to copy the same things: one parameter at a time."""
    ssm = clients.client("ssm")
    source, target = cohort.colour_prefix("blue"), cohort.colour_prefix("green")
    copied = 0
    pages = ssm.get_paginator("describe_parameters").paginate(
        ParameterFilters=[{"Key": "Path", "Option": "Recursive", "Values": [source]}])
    for page in pages:
        for meta in page["Parameters"]:
            if copied == limit:
                return copied
            name = meta["Name"]
            value = ssm.get_parameter(Name=name, WithDecryption=True)["Parameter"]
            tags = ssm.list_tags_for_resource(ResourceType="Parameter",
                                              ResourceId=name)["TagList"]
            arguments: dict[str, Any] = {
                "Name": target + name[len(source):], "Value": value["Value"],
                "Type": value["Type"], "Tier": meta.get("Tier", "Standard"),
                "DataType": meta.get("DataType", "text")}
            for field_name in ("Description", "AllowedPattern", "KeyId"):
                if meta.get(field_name):
                    arguments[field_name] = meta[field_name]
            if tags:
                arguments["Tags"] = tags
            ssm.put_parameter(**arguments)
            copied += 1
    return copied


CLI_LOOP = """
while IFS=$'\\t' read -r source target kind; do
  value=$(aws ssm get-parameter --name "$source" --with-decryption \\
          --query Parameter.Value --output text)
  aws ssm put-parameter --name "$target" --type "$kind" --value "$value" --overwrite >/dev/null
done < "$1"
"""


def cli_loop(clients: AwsClients, cohort: CohortResources, limit: int) -> int:
    ssm = clients.client("ssm")
    source, target = cohort.colour_prefix("blue"), cohort.colour_prefix("green")
    pages = ssm.get_paginator("get_parameters_by_path").paginate(Path=source, Recursive=True)
    found = [p for page in pages for p in page["Parameters"]][:limit]
    with tempfile.TemporaryDirectory() as folder:
        listing = Path(folder) / "parameters.tsv"
        listing.write_text("".join(f"{p['Name']}\t{target}{p['Name'][len(source):]}\t"
                                   f"{p['Type']}\n" for p in found))
        subprocess.run(["bash", "-c", CLI_LOOP, "loop", str(listing)], check=True)
    return len(found)


# running -------------------------------------------------------------------------
@dataclass
class Result:
    name: str
    params: int
    seconds: float
    calls: str

    @property
    def rate(self) -> float:
        return self.params / self.seconds


def measure(name: str, clients: AwsClients, cohort: CohortResources, calls: Calls | None,
            run: Callable[[], int], expected: int) -> Result:
    clear(clients, cohort.colour_prefix("green"))
    started = time.perf_counter()
    copied = run()
    seconds = time.perf_counter() - started
    landed = count_under(clients, cohort.colour_prefix("green"))
    if copied != expected or landed != expected:
        raise RuntimeError(f"{name}: copied {copied}, found {landed} on green, "
                           f"expected {expected}")
    print(f"  {name:<26} {expected:>5} params {seconds:7.2f} s {expected / seconds:8.1f}/s")
    return Result(name, expected, seconds, calls.summary() if calls else "")


def parsed_options() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--params", type=int, default=2000)
    parser.add_argument("--latency-ms", type=float, default=20.0)
    parser.add_argument("--fast-subset", type=int, default=1000,
                        help="parameters for the sequential loop without added latency")
    parser.add_argument("--slow-subset", type=int, default=200,
                        help="parameters for the sequential loop at the added latency")
    parser.add_argument("--cli-subset", type=int, default=10,
                        help="parameters for the aws CLI loop")
    parser.add_argument("--workers", type=int, default=16)
    parser.add_argument("--full", action="store_true",
                        help="the issue's sizes: every parameter for both sequential runs, "
                             "200 for the CLI (several minutes more)")
    return parser.parse_args()


def run_all(options: argparse.Namespace) -> tuple[dict[str, Result], Counter[str]]:
    """Every run against one seeded server; the results, and the calls ours made last."""
    count = options.params
    fast_subset = count if options.full else min(options.fast_subset, count)
    slow_subset = count if options.full else min(options.slow_subset, count)
    cli_subset = min(200 if options.full else options.cli_subset, count)
    with moto_in_child_process() as endpoint:
        setup = AwsClients()
        print(f"moto server {endpoint} (child process); {os.cpu_count()} cores, load average "
              f"{os.getloadavg()[0]:.1f}; seeding {count} parameters ...")
        cohort = seed(setup, count)
        results: dict[str, Result] = {}
        print("runs (each copies blue → green into an empty green):")
        for ms in (0.0, options.latency_ms):
            clients, calls = instrumented(ms)
            results[f"ours, {ms:g} ms"] = measure(
                f"ours, {ms:g} ms", setup, cohort, calls,
                partial(ours, clients, cohort, options.workers), count)
            reads = calls.counts
            subset = fast_subset if ms == 0 else slow_subset
            clients, calls = instrumented(ms, ("ssm",))
            results[f"sequential boto3, {ms:g} ms"] = measure(
                f"sequential boto3, {ms:g} ms", setup, cohort, calls,
                partial(sequential, clients, cohort, subset), subset)
        if shutil.which("aws"):
            results["aws CLI loop"] = measure(
                "aws CLI loop", setup, cohort, None,
                partial(cli_loop, setup, cohort, cli_subset), cli_subset)
    return results, reads


def print_comparisons(results: dict[str, Result], latency: float) -> None:
    print(f"{'run':<28}{'params':>7}{'seconds':>9}{'params/s':>10}  calls")
    for result in results.values():
        print(f"{result.name:<28}{result.params:>7}{result.seconds:>9.2f}{result.rate:>10.1f}"
              f"  {result.calls}")
    print()
    comparisons = [("sequential boto3, 0 ms", "ours, 0 ms"),
                   (f"sequential boto3, {latency:g} ms", f"ours, {latency:g} ms"),
                   ("aws CLI loop", "ours, 0 ms")]
    for baseline, mine in comparisons:
        if baseline not in results:
            print(f"{baseline}: skipped: no `aws` command on PATH "
                  "(`make bench` installs it in .venv-awscli)")
            continue
        ratio = results[mine].rate / results[baseline].rate
        target = TARGETS.get(baseline.replace(f"{latency:g} ms", "20 ms"))
        verdict = f"(target >= {target:g}x: {'met' if ratio >= target else 'MISSED'})" if (
            target and latency == 20) else ""
        print(f"{mine} vs {baseline}: {ratio:6.2f}x {verdict}")


def print_reads(reads: Counter[str], count: int, latency: float) -> None:
    pages = math.ceil(count / 10)
    values, described = reads["GetParameters"], reads["DescribeParameters"]
    print()
    print(f"reads of ours at {latency:g} ms: GetParameters {values} = values of the source "
          f"({pages}) + the verification pass ({pages}); bound ceil(N/10) + a verification "
          f"pass = {2 * pages}: {'met' if values <= 2 * pages else 'MISSED'}")
    print(f"also: DescribeParameters {described} (names and metadata of both colours; moto "
          f"pages 10, AWS 50), ListTagsForResource {reads['ListTagsForResource']} (SSM has no "
          "batch tag read), GetParametersByPath "
          f"{reads['GetParametersByPath']}")


def main() -> None:
    options = parsed_options()
    results, reads = run_all(options)
    print(f"load average at the end: {os.getloadavg()[0]:.1f}. What limits ours here is the "
          "moto server's CPU (one interpreter): every call costs it a few ms, and each "
          "DescribeParameters page scans the whole store and returns 10 names (AWS: 50), a "
          "sequential chain of N/10 pages; the sequential loop pays the same per parameter.")
    print()
    print_comparisons(results, options.latency_ms)
    print_reads(reads, options.params, options.latency_ms)


if __name__ == "__main__":
    main()
