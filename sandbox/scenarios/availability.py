"""Availability scenario: a month of 1-minute Route 53 health data, ALB target-group health and
maintenance windows.

The reference month, for the estate's health checks (the first is `api`, the second `web`, the
third `documents`, as in estate.yaml, then the `alb_target_group` endpoints; read from ctx.estate,
never hard-coded):

| what | when (reference month 2026-10) | expected effect |
|---|---|---|
| 30-minute outage of the first check | day 7, 14:00-14:30 UTC | 30 down minutes, counted |
| flapping hour of the second check | day 14, 18:00-19:00 UTC, down/up every 1-4 minutes | about half the hour down |
| qualifying window, announced 3 days ahead | day 21, 02:00-06:00 ET; first check down 45 min inside | excluded |
| window announced 47 h ahead | day 9 (10 if day 9 is the DST change day), 02:00-04:00 ET; first check down 20 min inside | counts (1 h short of notice) |
| window 05:00-07:00 ET | day 16, announced 4 days ahead; first check down 06:30-06:50 ET | 05-06 excluded, the rest counts |
| cancelled window | day 28, 02:00-06:00 ET; first check down 10 min inside | counts (cancelled) |
| 2-hour data gap | day 24, 13:00-15:00 UTC, every check | no data, reported |
| ALB target group with no healthy host | day 24, 09:00-09:12 UTC (HealthyHostCount 0), then 1 of 2 hosts healthy until 09:30 | 12 down minutes, counted; the 1-host minutes are up |
| DST change day (when the month has one) | a qualifying 02:00-06:00 ET window on it | excluded (3 h in spring) |

Where the data lives, as a month of real operation would leave it: the daily collection ran on
every day except day 24 (the gap day) and the last day of the month, so their parquet is in the
reports bucket (`health/date=.../health.parquet`); CloudWatch (moto) holds 1-minute datapoints
for the days the jobs still fetch — day 24, the last two days of the month and the day after;
`HealthCheckStatus`/`HealthCheckPercentageHealthy` per Route 53 check, `HealthyHostCount` per ALB
target group (dimensions LoadBalancer and TargetGroup, 2 healthy hosts when all is well) — kept few so a reset stays fast (moto scans every datapoint per query period). Window records are
in `maintenance/windows/`, and PagerDuty holds a maintenance window for each scheduled one.
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import numpy as np

from sandbox.context import SeedContext

NAMESPACE = "AWS/Route53"
ALB_NAMESPACE = "AWS/ApplicationELB"
ALB_HOSTS = 2  # healthy targets in each ALB target group when all is well
ALB_OUTAGE_MINUTES = 12  # day 24 from 09:00 UTC: no healthy host
ALB_DEGRADED_MINUTES = 18  # then one of the two hosts healthy: up


def _alb_columns(ctx: SeedContext) -> list[int]:
    return [j for j, h in enumerate(ctx.estate.health_checks) if h.kind == "alb_target_group"]


def alb_outage(ctx: SeedContext) -> tuple[dt.datetime, dt.datetime, dt.datetime]:
    """(start, end of no healthy host, end of one healthy host) of the ALB outage."""
    start = ctx.start + dt.timedelta(days=23, hours=9)
    end = start + dt.timedelta(minutes=ALB_OUTAGE_MINUTES)
    return start, end, end + dt.timedelta(minutes=ALB_DEGRADED_MINUTES)


def _month_days(ctx: SeedContext) -> int:
    return (ctx.end - ctx.start).days


def _dst_days(ctx: SeedContext, tz: ZoneInfo) -> list[int]:
    days = []
    for d in range(_month_days(ctx)):
        day = ctx.reference_month + dt.timedelta(days=d)
        lo = dt.datetime.combine(day, dt.time(), tzinfo=tz)
        hi = dt.datetime.combine(day + dt.timedelta(days=1), dt.time(), tzinfo=tz)
        if lo.utcoffset() != hi.utcoffset():
            days.append(d + 1)
    return days


def _local(ctx: SeedContext, tz: ZoneInfo, day: int, hhmm: str) -> dt.datetime:
    date = ctx.reference_month.replace(day=day)
    return dt.datetime.combine(date, dt.time.fromisoformat(hhmm), tzinfo=tz).astimezone(dt.UTC)


def build_month(ctx: SeedContext):
    """(status, percent, windows): (minutes, checks) arrays and the window records."""
    tz = ctx.plan.timezone
    rng = ctx.rng()
    minutes = _month_days(ctx) * 1440
    n = len(ctx.estate.health_checks)
    status = np.ones((minutes, n))
    percent = np.full((minutes, n), 100.0)

    def idx(when: dt.datetime) -> int:
        return int((when - ctx.start).total_seconds() // 60)

    def down(check: int, lo: dt.datetime, hi: dt.datetime) -> None:
        status[idx(lo):idx(hi), check] = 0.0
        percent[idx(lo):idx(hi), check] = 0.0

    day = dt.timedelta(days=1)
    # 30-minute outage
    down(0, ctx.start + 6 * day + dt.timedelta(hours=14), ctx.start + 6 * day + dt.timedelta(hours=14, minutes=30))
    # flapping hour: alternating runs of 1-4 minutes, partial health while up
    t = idx(ctx.start + 13 * day + dt.timedelta(hours=18))
    end = t + 60
    state = 0.0
    while t < end:
        run = rng.randint(1, 4)
        status[t:min(t + run, end), 1 % n] = state
        percent[t:min(t + run, end), 1 % n] = 0.0 if state == 0.0 else 66.7
        t += run
        state = 1.0 - state

    windows = []

    def window(wid: str, start: dt.datetime, end_: dt.datetime, notice: dt.timedelta, reason: str,
               status_: str = "scheduled") -> None:
        windows.append({"id": wid, "start": start, "end": end_, "reason": reason,
                        "announced_at": start - notice, "announced_by": "avery.chen@legacy.example",
                        "status": status_})

    # qualifying window, 3 days' notice, downtime inside
    w = _local(ctx, tz, 21, "02:00")
    window("mw-sbx-qualifying", w, _local(ctx, tz, 21, "06:00"), dt.timedelta(days=3), "database upgrade")
    down(0, w + dt.timedelta(minutes=60), w + dt.timedelta(minutes=105))
    # 47 h notice: does not qualify. Never on the DST day, whose own qualifying window would hide it.
    short = 10 if 9 in _dst_days(ctx, tz) else 9
    w = _local(ctx, tz, short, "02:00")
    window("mw-sbx-short-notice", w, _local(ctx, tz, short, "04:00"), dt.timedelta(hours=47), "certificate rotation")
    down(0, w + dt.timedelta(minutes=30), w + dt.timedelta(minutes=50))
    # 05:00-07:00 ET: only 05:00-06:00 is excluded
    window("mw-sbx-overrun", _local(ctx, tz, 16, "05:00"), _local(ctx, tz, 16, "07:00"), dt.timedelta(days=4),
           "storage migration")
    down(0, _local(ctx, tz, 16, "06:30"), _local(ctx, tz, 16, "06:50"))
    # cancelled window: downtime in it counts
    w = _local(ctx, tz, 28, "02:00")
    window("mw-sbx-cancelled", w, _local(ctx, tz, 28, "06:00"), dt.timedelta(days=5), "OS patching", "cancelled")
    down(0, w + dt.timedelta(minutes=90), w + dt.timedelta(minutes=100))
    # DST change day
    for d in _dst_days(ctx, tz):
        window(f"mw-sbx-dst-{d:02d}", _local(ctx, tz, d, "02:00"), _local(ctx, tz, d, "06:00"),
               dt.timedelta(days=3), "DST-day maintenance")
    # ALB target groups: no healthy host for a few minutes; they have no percent-healthy metric
    lo, hi, _degraded_until = alb_outage(ctx)
    for j in _alb_columns(ctx):
        down(j, lo, hi)
        percent[:, j] = np.nan
    # 2-hour data gap on day 24, every check
    gap = ctx.start + 23 * day + dt.timedelta(hours=13)
    status[idx(gap):idx(gap) + 120, :] = np.nan
    percent[idx(gap):idx(gap) + 120, :] = np.nan
    return status, percent, windows


def _metric_data(ctx: SeedContext, status: np.ndarray, percent: np.ndarray, rows: range) -> list:
    """moto datapoints for minutes `rows` of the month (beyond it: healthy), one per minute with data."""
    from moto.cloudwatch.models import MetricDatum

    hosts = np.where(status == 1.0, float(ALB_HOSTS), status)  # NaN stays no data, 0 stays 0 hosts
    _lo, hi, degraded_until = alb_outage(ctx)
    first, last = (int((t - ctx.start).total_seconds() // 60) for t in (hi, degraded_until))
    hosts[first:last, :] = np.where(np.isnan(hosts[first:last, :]), np.nan, 1.0)
    data = []
    for row in rows:
        when = (ctx.start + dt.timedelta(minutes=row)).replace(tzinfo=None)  # moto keeps naive UTC
        inside = row < len(status)
        for j, check in enumerate(ctx.estate.health_checks):
            if inside and np.isnan(status[row, j]):
                continue
            if check.kind == "alb_target_group":
                dims = [{"Name": "LoadBalancer", "Value": check.load_balancer},
                        {"Name": "TargetGroup", "Value": check.target_group}]
                value = float(hosts[row, j]) if inside else float(ALB_HOSTS)
                data.append(MetricDatum(ALB_NAMESPACE, "HealthyHostCount", value, dims, when))
                continue
            dims = [{"Name": "HealthCheckId", "Value": check.id}]
            data.append(MetricDatum(NAMESPACE, "HealthCheckStatus", float(status[row, j]) if inside else 1.0,
                                    dims, when))
            data.append(MetricDatum(NAMESPACE, "HealthCheckPercentageHealthy",
                                    float(percent[row, j]) if inside else 100.0, dims, when))
    return data


# Built once per (seed, month, estate): a reset then only re-inserts them (keeps resets fast).
# moto never mutates stored datapoints, so the same objects can be handed back after a reset.
_CACHE: dict[tuple, tuple] = {}


def seed(ctx: SeedContext) -> None:
    key = (ctx.seed, ctx.reference_month, tuple(h.id for h in ctx.estate.health_checks), ctx.estate.reports_bucket)
    if key not in _CACHE:
        _CACHE.clear()
        _CACHE[key] = _build(ctx)
    parquets, records, data = _CACHE[key]
    s3 = ctx.moto_backend("s3")
    bucket = ctx.estate.reports_bucket
    for name, body in parquets + records:
        s3.put_object(bucket, name, body)
    for record in windows_of(records):
        if record["status"] == "scheduled":
            ctx.pagerduty.add_maintenance_window(_time(record["start"]), _time(record["end"]),
                                                 [s.id for s in ctx.estate.pagerduty.services],
                                                 description=f"{record['reason']} [estate-ops {record['id']}]")
    ctx.moto_backend("cloudwatch").metric_data.extend(data)


def _time(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text)


def windows_of(records: list[tuple[str, bytes]]) -> list[dict]:
    import json

    return [json.loads(body) for _name, body in records]


def _build(ctx: SeedContext) -> tuple[list, list, list]:
    from estate_ops.domain.availability import HealthDay, health_parquet_bytes
    from estate_ops.domain.serialize import canonical_json

    status, percent, windows = build_month(ctx)
    ids = [h.id for h in ctx.estate.health_checks]
    n_days = _month_days(ctx)
    fetched_days = {24, n_days - 1, n_days}  # 1-based days of the month CloudWatch holds
    collected_days = [d for d in range(1, n_days + 1) if d not in (24, n_days)]

    parquets = []
    for d in collected_days:
        rows = slice((d - 1) * 1440, d * 1440)
        health = HealthDay(ctx.reference_month.replace(day=d), tuple(ids), status[rows].T.copy(),
                           percent[rows].T.copy(), np.full(len(ids), 60, dtype=np.int32))
        parquets.append((f"health/date={health.day.isoformat()}/health.parquet", health_parquet_bytes(health)))
    records = [(f"maintenance/windows/{r['id']}.json", canonical_json(r)) for r in windows]
    data = []
    for d in sorted(fetched_days):
        data += _metric_data(ctx, status, percent, range((d - 1) * 1440, d * 1440))
    # the day after the month (what a scheduled collection at `now` fetches): healthy
    data += _metric_data(ctx, status, percent, range(n_days * 1440, (n_days + 1) * 1440))
    return parquets, records, data
