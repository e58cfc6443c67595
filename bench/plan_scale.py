"""How planning grows with the number of tenants: 10,000 and 100,000 tenants in 50 cohorts.

Prints the time to validate the tenants (as ``load_tenants`` does after parsing)
and the time to plan, for both sizes, and the ratio of the planning times next
to the baseline of linear growth (10x the tenants, 10x the time). The target is
100,000 tenants planned in under 5 seconds.

The tenants are generated the way real fleets look: each cohort serves one
region, most tenants keep the default window or pick one of a few common ones,
a few have busy seasons, opt-outs or windows that fit nobody else.

Run: ``.venv/bin/python bench/plan_scale.py``
"""

from __future__ import annotations

import random
import time
from datetime import UTC, date, datetime
from typing import Any

from rollout.model.tenants import TenantsFile
from rollout.schedule.planner import plan_release

COHORTS = 50
TARGET_SECONDS = 5.0
REGIONS: dict[str, list[str]] = {
    "europe": ["Europe/Berlin", "Europe/Paris", "Europe/Madrid", "Europe/Oslo",
               "Europe/Warsaw", "Europe/Rome"],
    "uk": ["Europe/London", "Europe/Dublin", "Europe/Lisbon"],
    "americas": ["America/New_York", "America/Toronto", "America/Detroit"],
    "asia": ["Asia/Tokyo", "Asia/Seoul"],
}
COMMON_WINDOWS = [["Sat 01:00-07:00"], ["Sat,Sun 00:00-08:00"], ["Sat 02:00-06:00"]]
SEASONS = [{"name": "tax-season", "from": "03-01", "to": "04-15"},
           {"name": "holiday-sales", "from": "11-20", "to": "12-31"},
           {"name": "exams", "from": "06-01", "to": "06-30"}]


def generate(tenant_count: int, seed: int = 7) -> dict[str, Any]:
    """A tenants document (as parsed YAML would be) with ``tenant_count`` tenants."""
    rng = random.Random(seed)
    regions = list(REGIONS)
    cohorts = [{"name": f"wave{n:02d}", "order": n, "strategy": "linear:25:15m",
                "min_gap": "1d"} for n in range(COHORTS)]
    tenants: list[dict[str, Any]] = []
    for index in range(tenant_count):
        cohort = index % COHORTS
        region = regions[cohort % len(regions)]
        tenant: dict[str, Any] = {"id": f"t{index:06d}", "cohort": f"wave{cohort:02d}",
                                  "timezone": rng.choice(REGIONS[region]),
                                  "contact": f"ops@t{index:06d}.example"}
        roll = rng.random()
        if roll < 0.6:
            tenant["windows"] = rng.choice(COMMON_WINDOWS)
        elif roll < 0.61:
            tenant["windows"] = ["Wed 12:00-14:00"]
        if rng.random() < 0.03:
            tenant["busy_seasons"] = [rng.choice(SEASONS)]
        if rng.random() < 0.02:
            tenant["opt_out"] = {"until": date(2026, rng.randint(4, 12), 1),
                                 "reason": "asked to wait"}
        tenants.append(tenant)
    return {
        "defaults": {"notice_days": 14, "windows": ["Sat 00:00-08:00"],
                     "timezone": "Europe/Berlin", "max_deferral": "90d",
                     "freezes": [{"name": "year-end", "from": "12-01", "to": "02-28"}]},
        "cohorts": cohorts,
        "tenants": tenants,
    }


def measure(tenant_count: int) -> tuple[float, float, int, int]:
    document = generate(tenant_count)
    started = time.perf_counter()
    tenants = TenantsFile.model_validate(document)
    validated = time.perf_counter()
    plan = plan_release(tenants, "1.5.0", datetime(2026, 1, 12, tzinfo=UTC))
    planned = time.perf_counter()
    included = sum(len(c.included_tenants()) for c in plan.cohorts)
    excluded = sum(len(c.excluded) for c in plan.cohorts)
    return validated - started, planned - validated, included, excluded


def main() -> int:
    results = {}
    for count in (10_000, 100_000):
        results[count] = measure(count)
        load, plan, included, excluded = results[count]
        print(f"{count:>7,} tenants in {COHORTS} cohorts: validate {load:6.2f} s, "
              f"plan {plan:6.2f} s ({included:,} included, {excluded:,} excluded with reasons)")
    ratio = results[100_000][1] / results[10_000][1]
    print(f"plan time ratio 100,000 / 10,000: {ratio:.1f}x "
          f"(baseline, linear growth: 10.0x)")
    verdict = "meets" if results[100_000][1] < TARGET_SECONDS else "MISSES"
    print(f"100,000 tenants planned in {results[100_000][1]:.2f} s: {verdict} the "
          f"{TARGET_SECONDS:.0f} s target")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
