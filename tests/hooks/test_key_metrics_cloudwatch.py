"""key_metric_queries -> CloudWatchMetricsHook.get_metric_data -> key_metric_figures against the
sandbox's CloudWatch (true percentiles of raw samples), in the calls pack_queries plans."""

from __future__ import annotations

import datetime as dt
import random
from decimal import Decimal

import numpy as np
import pytest
from estate_ops.domain.metrics import key_metric_figures
from estate_ops.hooks.cloudwatch import (
    CloudWatchMetricsHook,
    key_metric_queries,
    pack_queries,
)

# Resources of its own: the metrics scenario seeds the estate's for the whole reference month.
LB = "app/metrics-test/0123456789abcdef"
TG = "targetgroup/metrics-api/0123456789abcdef"
START = dt.datetime(2026, 10, 20, 4, tzinfo=dt.UTC)
END = START + dt.timedelta(days=1)


def _put(cloudwatch, namespace, rows):
    for i in range(0, len(rows), 1000):
        cloudwatch.put_metric_data(Namespace=namespace, MetricData=rows[i:i + 1000])


@pytest.mark.slow
def test_a_days_figures_from_raw_samples(sandbox):
    cloudwatch = sandbox.boto3_client("cloudwatch")
    rng = random.Random(44)
    lb_dims = [{"Name": "LoadBalancer", "Value": LB}]
    latencies = [rng.lognormvariate(-2, 0.7) for _ in range(1440)]
    quiet = set(rng.sample(range(1440), 40))  # minutes in which no request flowed: no datapoint
    rows = []
    requests = errors = 0
    for m in range(1440):
        at = START + dt.timedelta(minutes=m)
        rows.append({"MetricName": "TargetResponseTime", "Value": latencies[m], "Dimensions": lb_dims, "Timestamp": at})
        if m in quiet:
            continue
        n, e = rng.randint(50, 150), (rng.randint(0, 5) if 600 <= m < 660 else 0)  # an hour of 5XX
        requests, errors = requests + n, errors + e
        rows += [{"MetricName": "RequestCount", "Value": n, "Dimensions": lb_dims, "Timestamp": at},
                 {"MetricName": "HTTPCode_Target_5XX_Count", "Value": e, "Dimensions": lb_dims, "Timestamp": at}]
    _put(cloudwatch, "AWS/ApplicationELB", rows)
    _put(cloudwatch, "AWS/RDS", [{"MetricName": "DatabaseConnections", "Value": c, "Timestamp": START + dt.timedelta(minutes=i),
                                  "Dimensions": [{"Name": "DBInstanceIdentifier", "Value": "metrics-test-db"}]}
                                 for i, c in enumerate([20, 60, 170, 40])])
    _put(cloudwatch, "AWS/ElastiCache", [{"MetricName": name, "Value": v, "Timestamp": START,
                                          "Dimensions": [{"Name": "CacheClusterId", "Value": "metrics-test-cache"}]}
                                         for name, v in (("CacheHits", 880), ("CacheMisses", 120))])

    queries = key_metric_queries([(LB, [TG])], ["metrics-test-db"], ["metrics-test-cache"], START, END, resolution=60)
    hook = CloudWatchMetricsHook(region_name=sandbox.region)
    results = hook.get_metric_data(queries)
    assert hook.calls == len(pack_queries(queries)) == 1
    rows = key_metric_figures(results, load_balancers=[(LB, [TG])], databases=[("metrics-test-db", 200)],
                              caches=["metrics-test-cache"], period_seconds=86_400, resolution=60)
    by = {(r["resource"], r["metric"]): r for r in rows}
    assert float(by[(LB, "latency_p99")]["value"]) == pytest.approx(np.percentile(latencies, 99))
    assert float(by[(LB, "latency_p50")]["value"]) == pytest.approx(np.percentile(latencies, 50))
    err = by[(LB, "error_rate")]["details"]
    assert (err["errors"], err["requests"], err["no_data_minutes"]) == (errors, requests, 40)
    assert by[(LB, "error_rate")]["value"] == Decimal(errors) * 100 / Decimal(requests)
    assert by[(f"{LB} {TG}", "latency_p99")]["value"] is None  # nothing seeded per target group
    assert by[("metrics-test-db", "db_connections")]["value"] == Decimal(85)  # 170 of 200
    assert by[("metrics-test-cache", "cache_hit_rate")]["value"] == Decimal(88)


@pytest.mark.slow
def test_daily_percentiles_are_each_contract_day_s_own_across_dst(sandbox):
    """Week 2026-W44 ends on Sunday 1 November, 25 hours long in New York: each day's p99 is numpy's
    on that local day's samples, the Sunday's included (86,400 s buckets would be an hour off)."""
    from zoneinfo import ZoneInfo

    from estate_ops.domain.metrics import daily_rows, metrics_period

    et = ZoneInfo("America/New_York")
    week = metrics_period("2026-W44", et)
    lb = "app/metrics-dst/0123456789abcdef"
    dims = [{"Name": "LoadBalancer", "Value": lb}]
    rng = random.Random(45)
    samples: dict[dt.date, list[float]] = {}
    rows = []
    at = week.start
    while at < week.end:
        # latency grows with the hour of the local day: a bucket shifted by an hour has another p99
        value = rng.lognormvariate(-2, 0.3) * (1 + at.astimezone(et).hour)
        samples.setdefault(at.astimezone(et).date(), []).append(value)
        rows.append({"MetricName": "TargetResponseTime", "Value": value, "Dimensions": dims, "Timestamp": at})
        at += dt.timedelta(minutes=10)
    _put(sandbox.boto3_client("cloudwatch"), "AWS/ApplicationELB", rows)

    queries = key_metric_queries([(lb, [])], [], [], week.start, week.end, days=week.day_segments(), resolution=3600)
    results = CloudWatchMetricsHook(region_name=sandbox.region).get_metric_data(queries)
    daily = daily_rows(results, week, load_balancers=[(lb, [])], databases=[], caches=[], resolution=3600)
    p99 = {r["day"]: float(r["value"]) for r in daily if r["metric"] == "latency_p99"}
    assert len(samples[dt.date(2026, 11, 1)]) == 150  # 25 hours of 10-minute samples
    assert p99 == {d: pytest.approx(np.percentile(samples[d], 99)) for d in week.days}


@pytest.mark.slow
def test_a_custom_kpis_statistic_is_cloudwatchs_own_and_its_exact_dimension_set_is_listed(sandbox):
    """A KPI's p90 for the day is numpy's p90 of its raw samples (never a mean of shorter periods);
    ListMetrics `exact` tells the KPI's dimension set from a wider metric of the same name."""
    from estate_ops.config import CustomKpi

    # a dimension value of its own: the sandbox (like moto) matches a metric with dimensions by name and
    # dimensions only, and the metrics scenario seeds the estate's KPIs for the reference month
    namespace, dims = "MetricsTest/Business", {"Service": "metrics-test-checkout"}
    kpi = CustomKpi.model_validate({"name": "metrics-test-checkout", "namespace": namespace, "metric": "CheckoutDuration",
                                    "dimensions": dims, "statistic": "p90", "unit": "Seconds",
                                    "threshold": {"limit": "3", "direction": "at_most", "unit": "Seconds"}})
    rng = random.Random(90)
    samples = [rng.lognormvariate(0, 0.6) for _ in range(1440)]
    cloudwatch = sandbox.boto3_client("cloudwatch")
    _put(cloudwatch, namespace, [{"MetricName": "CheckoutDuration", "Value": v, "Timestamp": START + dt.timedelta(minutes=m),
                                  "Dimensions": [{"Name": "Service", "Value": "metrics-test-checkout"}]} for m, v in enumerate(samples)])
    # the same metric name with one dimension more: another metric, not the KPI's
    _put(cloudwatch, namespace, [{"MetricName": "CheckoutDuration", "Value": 1.0, "Timestamp": START,
                                  "Dimensions": [{"Name": "Service", "Value": "search"}, {"Name": "Region", "Value": "eu"}]}])

    queries = key_metric_queries([], [], [], START, END, resolution=60, custom=[kpi.query()])
    hook = CloudWatchMetricsHook(region_name=sandbox.region)
    rows = key_metric_figures(hook.get_metric_data(queries), load_balancers=[], databases=[], caches=[],
                              period_seconds=86_400, resolution=60, kpis=[kpi])
    assert [r["resource"] for r in rows] == ["metrics-test-checkout"]
    assert float(rows[0]["value"]) == pytest.approx(np.percentile(samples, 90))

    assert hook.metric_dimension_tuples(namespace, "CheckoutDuration", ["Service"], exact=True) == {("metrics-test-checkout",)}
    assert hook.metric_dimension_tuples(namespace, "CheckoutDuration", ["Service"]) == {("metrics-test-checkout",),
                                                                                         ("search",)}
