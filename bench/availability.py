"""availability.*: the monthly computation for 1,000 endpoints x 31 days at 1-minute resolution
(44.64 M samples), and the GetMetricData call count of one day's collection.

- availability.time_ratio: the month's report computation (`build_availability_report`) divided
  by one `numpy.nansum` over the same float64 array, both timed in the same child process
  (median of several runs). Goal <= 5.
- availability.memory_ratio: (the array + the peak memory traced by tracemalloc, which numpy
  reports to, while computing) divided by the array's size; measured in a fresh child process
  after the array is built. Goal <= 3.
- availability.collect_calls: GetMetricData calls to collect one day of 1,000 Route 53 health
  checks (2 metrics each) and 500 ALB target groups (HealthyHostCount), 1-minute period, all in
  us-east-1, as the collection builds them (`operators.availability.health_queries`), against a
  stand-in that enforces AWS's limits (500 queries, 100,800 points per response, NextToken), and
  the minimum max(ceil(q/500), ceil(points/100,800)). Goal: within 5 % of the minimum.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys

from bench.common import record
from devtools.localenv import ROOT

ENDPOINTS = 1000
ALB_ENDPOINTS = 500  # collect_calls: ALB target groups collected with the ENDPOINTS health checks
MONTH = "2026-10"  # 31 days

_CHILD = r'''
import datetime as dt, json, statistics, sys, time, tracemalloc
sys.path[:0] = [ROOT, ROOT + "/plugins"]
import numpy as np, pandas as pd
from estate_ops.config import load_plan
from estate_ops.domain.availability import Endpoint, build_availability_report, minute_index
from estate_ops.domain.maintenance import MaintenanceWindow
from estate_ops.domain.periods import Month

plan = load_plan()
month = Month.parse(MONTH)
index = minute_index(plan.month_bounds(month))  # the contract month (ET by default)
rng = np.random.default_rng(7)
values = np.ones((len(index), ENDPOINTS))
# A realistic month: a few outages per endpoint, some no-data stretches.
for j in range(ENDPOINTS):
    for start in rng.integers(0, len(index) - 60, size=3):
        values[start:start + int(rng.integers(1, 40)), j] = 0.0
    gap = int(rng.integers(0, len(index) - 120))
    values[gap:gap + 120, j] = np.nan
endpoints = [Endpoint(f"hc-{j:04d}", f"endpoint-{j:04d}", j % 2 == 0) for j in range(ENDPOINTS)]
frame = pd.DataFrame(values, index=index, columns=[e.id for e in endpoints], copy=False)
U = dt.timezone.utc
windows = [MaintenanceWindow(f"mw-{d}", dt.datetime(2026, 10, d, 6, tzinfo=U), dt.datetime(2026, 10, d, 10, tzinfo=U),
                             "bench", dt.datetime(2026, 10, d - 3, tzinfo=U), "bench") for d in (5, 12, 19, 26)]

def compute():
    return build_availability_report(frame, windows, plan, month=month, endpoints=endpoints)

if MODE == "memory":
    tracemalloc.start()
    compute()
    _, peak = tracemalloc.get_traced_memory()
    print(json.dumps({"peak": peak, "array": values.nbytes}))
else:
    compute()  # warm up imports and caches
    ratios, comp, base = [], [], []
    for _ in range(RUNS):
        t0 = time.perf_counter(); np.nansum(values); t1 = time.perf_counter()
        compute(); t2 = time.perf_counter()
        base.append(t1 - t0); comp.append(t2 - t1); ratios.append((t2 - t1) / (t1 - t0))
    print(json.dumps({"ratio": statistics.median(ratios), "compute": statistics.median(comp),
                      "nansum": statistics.median(base)}))
'''


def _child(mode: str, runs: int = 5) -> dict:
    code = (f"ROOT = {str(ROOT)!r}\nMONTH = {MONTH!r}\nENDPOINTS = {ENDPOINTS}\nMODE = {mode!r}\nRUNS = {runs}\n"
            + _CHILD)
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True, cwd=ROOT)
    return json.loads(out.stdout.strip().splitlines()[-1])


class _LimitedCloudWatch:
    """Answers GetMetricData like AWS: <= 500 queries, <= 100,800 points per response, NextToken."""

    MAX_POINTS = 100_800

    def __init__(self) -> None:
        self.calls = 0

    def get_metric_data(self, *, MetricDataQueries, StartTime, EndTime, NextToken=None, **_):
        self.calls += 1
        if len(MetricDataQueries) > 500:
            raise ValueError("too many queries")
        points_each = [int((EndTime - StartTime).total_seconds() // q["MetricStat"]["Period"])
                       for q in MetricDataQueries]
        offset = int(NextToken or 0)
        results, budget, position = [], self.MAX_POINTS, 0
        for query, points in zip(MetricDataQueries, points_each, strict=True):
            lo, hi = position, position + points
            position = hi
            take_lo, take_hi = max(lo, offset), min(hi, offset + budget)
            n = max(0, take_hi - take_lo)
            results.append({"Id": query["Id"], "Timestamps": [StartTime] * n, "Values": [1.0] * n,
                            "StatusCode": "PartialData" if n < points else "Complete"})
        end = offset + self.MAX_POINTS
        answer = {"MetricDataResults": results}
        if end < sum(points_each):
            answer["NextToken"] = str(end)
        return answer


def _collect_calls() -> tuple[int, int]:
    import datetime as dt

    sys.path.insert(0, str(ROOT / "plugins"))
    from estate_ops.config import HealthCheck
    from estate_ops.hooks.cloudwatch import fetch_metric_data
    from estate_ops.operators.availability import health_queries

    checks = [HealthCheck(id=f"0b6a7a4e-0000-4000-8000-{j:012x}", name=f"check-{j}") for j in range(ENDPOINTS)]
    checks += [HealthCheck(kind="alb_target_group", name=f"tg-{j}", load_balancer=f"app/lb-{j // 4}/{j:016x}",
                           target_group=f"targetgroup/tg-{j}/{j:016x}") for j in range(ALB_ENDPOINTS)]
    queries = health_queries(checks, dt.date(2026, 10, 20), 60)
    client = _LimitedCloudWatch()
    fetch_metric_data(client, queries)
    points = sum(q.points for q in queries)
    minimum = max(math.ceil(len(queries) / 500), math.ceil(points / 100_800))
    return client.calls, minimum


def run() -> list[dict]:
    timing = _child("time")
    memory = _child("memory")
    calls, minimum = _collect_calls()
    # The array itself counts: peak = the array + the most the computation held on top of it.
    mem_ratio = round((memory["array"] + memory["peak"]) / memory["array"], 3)
    time_ratio = round(timing["ratio"], 3)
    return [
        record("availability.time_ratio", time_ratio, "x nansum", "<= 5", time_ratio <= 5),
        record("availability.compute_seconds", round(timing["compute"], 3), "s"),
        record("availability.nansum_seconds", round(timing["nansum"], 3), "s"),
        record("availability.memory_ratio", mem_ratio, "x array", "<= 3", mem_ratio <= 3),
        record("availability.peak_mib", round((memory["array"] + memory["peak"]) / 2**20, 1), "MiB"),
        record("availability.array_mib", round(memory["array"] / 2**20, 1), "MiB"),
        record("availability.collect_calls", calls, "calls", f"<= {minimum} +5%", calls <= minimum * 1.05),
        record("availability.collect_calls_minimum", minimum, "calls"),
    ]
