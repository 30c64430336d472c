"""Key-metrics scenario (issue 15): raw ALB, RDS, ElastiCache and custom-KPI samples for the reference month.

Every 5 minutes (the plan's `count_resolution_seconds` default: coarser than a minute keeps a reset
fast) from the first instant of the reference month (UTC) to a day after its end (a contract month
west of UTC ends in the next UTC day), for the estate's first load balancer and its target groups,
every database, every cache and every custom KPI (read from ctx.estate, never hard-coded):

| what | when (relative to the reference month) | expected effect |
|---|---|---|
| slow week | the first target group, from the first Monday on or after day 8, 00:00 UTC, for 7.5 days: latency x8 | that ISO week's p50/p95/p99 breach; the week before meets |
| 5XX spike | day 17, 08:00-14:00 UTC: half the first target group's requests answer 5XX | that week's error rate breaches 1 %; the month's meets |
| connection surge | the first database, day 22, 15:00-16:00 UTC: 185 connections | 92.5 % of 200 max_connections: breached |
| cold cache after a deploy | the first cache, day 26 10:00 to day 27 10:00 UTC: 20 % hits | that week's hit rate below 90 %; the month's meets |
| quiet hour | the second target group, 05:00-06:00 UTC every day: no request, no datapoint | 60 no-data minutes a day, not 0 % errors |
| KPI breach | the first custom KPI, during the slow week: every sample past its threshold (an at_most limit plus 1-3× its size, an at_least limit minus 10-50 %) | that week's and the month's percentile, average or maximum breach (a quarter of the month's samples are past it); the week before meets |
| KPI met | every other custom KPI, all month: samples on the met side of its threshold (a Percent KPI within 0-100) | met every week and month |

Latency: one raw TargetResponseTime sample per target group per 5 minutes, also under the load
balancer alone (its samples are the union of its target groups'), so the sandbox's GetMetricData
computes true percentiles from them. A custom KPI has one raw sample per 5 minutes under its
namespace, metric name and exact dimension set, scaled to its own threshold (whatever its unit). Sentry and Mixpanel are seeded by their own stand-ins.
"""

from __future__ import annotations

import copy
import datetime as dt

import numpy as np

from sandbox.context import SeedContext

STEP = dt.timedelta(minutes=5)
SLOW_FACTOR = 8.0
SPIKE_SHARE = 0.5
SURGE_CONNECTIONS = 185
COLD_HIT_SHARE = 0.20


def slow_week_monday(reference_month: dt.date) -> dt.date:
    """The Monday the slow week starts (UTC midnight): the first Monday on or after day 8."""
    day8 = reference_month.replace(day=8)
    return day8 + dt.timedelta(days=(7 - day8.weekday()) % 7)


def _at(ctx: SeedContext, day: int, hour: int) -> dt.datetime:
    return ctx.start + dt.timedelta(days=day - 1, hours=hour)


def design(ctx: SeedContext) -> dict[str, tuple[dt.datetime, dt.datetime]]:
    """The designed stretches as UTC [start, end) (tests read them from here, not from the report)."""
    monday = dt.datetime.combine(slow_week_monday(ctx.reference_month), dt.time(), tzinfo=dt.UTC)
    return {"slow": (monday, monday + dt.timedelta(days=7, hours=12)),
            "spike": (_at(ctx, 17, 8), _at(ctx, 17, 14)),
            "surge": (_at(ctx, 22, 15), _at(ctx, 22, 16)),
            "cold": (_at(ctx, 26, 10), _at(ctx, 27, 10))}


_CACHE: dict[tuple, list] = {}


def seed(ctx: SeedContext) -> None:
    mon = ctx.estate.monitoring
    key = (ctx.seed, ctx.reference_month, tuple((lb.load_balancer, tuple(lb.target_groups)) for lb in mon.load_balancers),
           tuple(d.id for d in ctx.estate.databases), tuple(mon.caches),
           tuple((k.namespace, k.metric, tuple(sorted(k.dimensions.items())), k.threshold.limit, k.threshold.direction,
                  k.unit) for k in mon.custom_kpis))
    if key not in _CACHE:
        _CACHE.clear()
        _CACHE[key] = _build(ctx)
    ctx.moto_backend("cloudwatch", ctx.estate.aws.region).metric_data.extend(_CACHE[key])


def _build(ctx: SeedContext) -> list:
    from moto.cloudwatch.models import MetricDatum

    mon = ctx.estate.monitoring
    rng = np.random.default_rng(ctx.rng().randrange(2**32))
    start, end = ctx.start, ctx.end + dt.timedelta(days=1)
    n = int((end - start) / STEP)
    stamps = [(start + i * STEP).replace(tzinfo=None) for i in range(n)]  # moto keeps naive UTC
    when = design(ctx)

    def mask(name: str) -> np.ndarray:
        lo, hi = when[name]
        return np.array([lo.replace(tzinfo=None) <= t < hi.replace(tzinfo=None) for t in stamps])

    hours = np.array([t.hour for t in stamps])
    data: list = []

    def put(namespace: str, metric: str, dims: list[dict[str, str]], values: np.ndarray, keep: np.ndarray | None = None):
        # One datum made by moto's constructor, the rest copies of it sharing its Dimension list
        # (nothing mutates it): 130,000 constructors would be most of a reset's first seconds.
        template = MetricDatum(namespace, metric, 0.0, dims, stamps[0])
        for i, value in enumerate(values.tolist()):
            if keep is None or keep[i]:
                md = copy.copy(template)
                md.value, md.timestamp = float(value), stamps[i]
                data.append(md)

    alb = "AWS/ApplicationELB"
    for lb in mon.load_balancers[:1]:
        lb_dims = [{"Name": "LoadBalancer", "Value": lb.load_balancer}]
        lb_requests = np.zeros(n)
        lb_errors = np.zeros(n)
        for j, tg in enumerate(lb.target_groups):
            dims = [{"Name": "LoadBalancer", "Value": lb.load_balancer}, {"Name": "TargetGroup", "Value": tg}]
            requests = rng.integers(2000, 4000, n) if j == 0 else rng.integers(800, 1600, n)
            errors = rng.binomial(requests, 0.0005).astype(float)
            latency = rng.lognormal(np.log(0.12 if j == 0 else 0.08), 0.5, n)
            keep = np.ones(n, dtype=bool)
            if j == 0:
                latency = np.where(mask("slow"), latency * SLOW_FACTOR, latency)
                spike = mask("spike")
                errors = np.where(spike, np.round(requests * SPIKE_SHARE), errors)
            if j == 1:
                keep = hours != 5  # the quiet hour: no request flows, the ALB sends nothing
            put(alb, "RequestCount", dims, requests, keep)
            put(alb, "HTTPCode_Target_5XX_Count", dims, errors, keep)
            put(alb, "TargetResponseTime", dims, latency, keep)
            put(alb, "TargetResponseTime", lb_dims, latency, keep)
            lb_requests += np.where(keep, requests, 0)
            lb_errors += np.where(keep, errors, 0)
        put(alb, "RequestCount", lb_dims, lb_requests)
        put(alb, "HTTPCode_Target_5XX_Count", lb_dims, lb_errors)
        put(alb, "HTTPCode_ELB_5XX_Count", lb_dims, rng.binomial(1, 0.05, n).astype(float))
    for k, db in enumerate(ctx.estate.databases):
        base = (db.max_connections or 100) * 0.3
        connections = np.round(rng.normal(base, base * 0.15, n)).clip(1)
        if k == 0:
            connections = np.where(mask("surge"), SURGE_CONNECTIONS, connections)
        put("AWS/RDS", "DatabaseConnections", [{"Name": "DBInstanceIdentifier", "Value": db.id}], connections)
    for k, cache in enumerate(mon.caches):
        lookups = rng.integers(5000, 9000, n)
        share = np.where(mask("cold"), COLD_HIT_SHARE, 0.97) if k == 0 else np.full(n, 0.97)
        hits = np.round(lookups * share)
        dims = [{"Name": "CacheClusterId", "Value": cache}]
        put("AWS/ElastiCache", "CacheHits", dims, hits)
        put("AWS/ElastiCache", "CacheMisses", dims, lookups - hits)
    for k, kpi in enumerate(mon.custom_kpis):
        values = kpi_samples(rng, kpi, n, mask("slow") if k == 0 else np.zeros(n, dtype=bool))
        put(kpi.namespace, kpi.metric, [{"Name": name, "Value": value} for name, value in kpi.dimensions.items()],
            values)
    return data


def kpi_samples(rng: np.random.Generator, kpi, n: int, bad: np.ndarray) -> np.ndarray:
    """n samples of a KPI on the met side of its threshold, past it where `bad`: scaled to the
    limit (a KPI's unit can be anything), a Percent KPI kept within 0-100."""
    limit = float(kpi.threshold.limit)
    scale = abs(limit) or 1.0
    if kpi.threshold.direction == "at_most":
        good = limit - scale * rng.uniform(0.3, 0.9, n)
        past = limit + scale * rng.uniform(1.0, 3.0, n)
    else:
        room = (100.0 - limit) if kpi.unit == "Percent" else scale
        good = limit + room * rng.uniform(0.2, 1.0, n)
        past = limit - scale * rng.uniform(0.1, 0.5, n)
    values = np.where(bad, past, good)
    return values.clip(0, 100) if kpi.unit == "Percent" else values
