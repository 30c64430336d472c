"""metrics.*: GetMetricData calls of one month's key-metrics queries (`key_metric_queries`) for
50 ALBs x 4 target groups, 20 databases, 10 caches and 20 custom KPIs, at 1-hour and at 1-minute
resolution of the counts, as `pack_queries` plans them, against the minimum AWS's limits allow:
max(ceil(queries / 500), ceil(points / 100,800)). Goal: at most 1.05x the minimum
(2026-12-02: 5 calls = the minimum at 1 h; 261 against 253, 1.032x, at 1 min).

The count is the plan `fetch_metric_data` follows (one request per packed call; NextToken is not
needed when a call holds at most 100,800 points), not a measurement against a server: the
sandbox's GetMetricData with true percentiles does not exist yet (issue 15 §4).
Sentry and Mixpanel calls against their minimum pages are not measured yet.
"""

from __future__ import annotations

import sys

from bench.common import record
from devtools.localenv import ROOT

ALBS, TARGET_GROUPS, DATABASES, CACHES, KPIS = 50, 4, 20, 10, 20


def run() -> list[dict]:
    sys.path[:0] = [str(ROOT), str(ROOT / "plugins")]
    from estate_ops.config import load_plan
    from estate_ops.domain.periods import Month
    from estate_ops.hooks.cloudwatch import (
        key_metric_queries,
        minimum_calls,
        pack_queries,
    )

    bounds = load_plan().month_bounds(Month(2026, 10))
    lbs = [(f"app/lb{i}/{i:016x}", [f"targetgroup/tg{i}-{j}/{j:016x}" for j in range(TARGET_GROUPS)])
           for i in range(ALBS)]
    custom = [("Legacy/Business", f"kpi_{k}", {"Service": "api"}, "Sum" if k % 2 else "p90") for k in range(KPIS)]
    records = []
    for label, resolution in (("1h", 3600), ("1m", 60)):
        queries = key_metric_queries(lbs, [f"db-{d}" for d in range(DATABASES)], [f"cache-{c}" for c in range(CACHES)],
                                     bounds.start, bounds.end, resolution=resolution, custom=custom)
        calls, minimum = len(pack_queries(queries)), minimum_calls(queries)
        ratio = round(calls / minimum, 3)
        records.append(record(f"metrics.get_metric_data_calls_{label}", calls, "calls",
                              f"<= 1.05 x {minimum} (queries {len(queries)}, points "
                              f"{sum(q.points for q in queries):,})", ratio <= 1.05))
        records.append(record(f"metrics.calls_vs_minimum_{label}", ratio, "x", "<= 1.05", ratio <= 1.05))
    return records
