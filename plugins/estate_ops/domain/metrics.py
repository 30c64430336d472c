"""Key metrics (plan §2.2-2.3, issue 15): each figure of the key-metrics report as a pure function.

- Error rate of a period = total 5XX (target + ELB) / total requests of the period, never the mean
  of daily rates. A minute with no RequestCount datapoint (an ALB reports nothing when no request
  flows) is a minute of no data, not a minute of 0 % errors; the figure says how many there were.
- Cache hit rate = hits / (hits + misses); no lookups at all is no data.
- Database connections: the period's peak against the instance's max_connections, as a share used
  and the connections left (headroom).
- Latency percentiles are never averaged. A period's p50/p95/p99 are asked of CloudWatch for the
  period directly: one GetMetricData query whose Period is the whole period in seconds
  (`single_period_seconds`: a week is 604,800 s, a month its length in seconds; CloudWatch takes any
  multiple of 60). The domain takes them as given (`Percentiles`) and only judges them.
- Each figure stands beside the previous period's and its threshold (plan.yaml
  monitoring.key_metrics.thresholds) and is met / breached / no data; a breach is a finding of kind
  `<metric>_breached` (severity from plan.yaml finding_severities).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Literal, Protocol
from zoneinfo import ZoneInfo

from estate_ops.domain.findings import Finding
from estate_ops.domain.periods import Month, PeriodError

# Each metric the report judges, with the only unit its threshold may be written in.
METRIC_UNITS: dict[str, str] = {
    "latency_p50": "seconds",
    "latency_p95": "seconds",
    "latency_p99": "seconds",
    "error_rate": "percent",
    "db_connections": "percent_of_max_connections",
    "cache_hit_rate": "percent",
}

Status = Literal["met", "breached", "no_data"]
Direction = Literal["at_most", "at_least"]
HUNDRED = Decimal(100)


def breach_kind(metric: str) -> str:
    """The finding kind (a key of plan.yaml finding_severities) of a breach of `metric`."""
    return f"{metric}_breached"


def _percent(part: int, whole: int) -> Decimal:
    """part/whole in percent at Decimal's 28 digits, unrounded: a rounded 89.99995 % hit rate would
    meet a 90 % threshold it misses (a report rounds for show only)."""
    return Decimal(part) * HUNDRED / Decimal(whole)


@dataclass(frozen=True)
class RequestCounts:
    """One minute (or any bucket) of an ALB: RequestCount and the two 5XX sums; None = no datapoint."""

    requests: int | None
    target_5xx: int | None = None
    elb_5xx: int | None = None


@dataclass(frozen=True)
class ErrorRate:
    errors: int
    requests: int
    no_data_minutes: int

    @property
    def percent(self) -> Decimal | None:
        return None if self.requests == 0 else _percent(self.errors, self.requests)

    def __add__(self, other: ErrorRate) -> ErrorRate:
        return ErrorRate(self.errors + other.errors, self.requests + other.requests,
                         self.no_data_minutes + other.no_data_minutes)

    def as_dict(self) -> dict[str, Any]:
        return {"errors": self.errors, "requests": self.requests, "no_data_minutes": self.no_data_minutes,
                "percent": self.percent}


def error_rate(minutes: Iterable[RequestCounts]) -> ErrorRate:
    """Total 5XX over total requests. A minute without a RequestCount datapoint (or with 0
    requests) counts as no data; 5XX are counted only where requests were."""
    errors = requests = no_data = 0
    for m in minutes:
        if not m.requests:
            no_data += 1
            continue
        if m.requests < 0 or (m.target_5xx or 0) < 0 or (m.elb_5xx or 0) < 0:
            raise ValueError(f"negative count in {m}")
        requests += m.requests
        errors += (m.target_5xx or 0) + (m.elb_5xx or 0)
    return ErrorRate(errors, requests, no_data)


def combine_error_rates(rates: Iterable[ErrorRate]) -> ErrorRate:
    """The error rate of a union of periods: sums of errors and requests, never a mean of rates."""
    total = ErrorRate(0, 0, 0)
    for r in rates:
        total = total + r
    return total


def cache_hit_rate(hits: int | None, misses: int | None) -> Decimal | None:
    """hits / (hits + misses) in percent; no lookups (or no data) is None."""
    hits, misses = hits or 0, misses or 0
    if hits < 0 or misses < 0:
        raise ValueError(f"negative cache counts: hits={hits}, misses={misses}")
    return None if hits + misses == 0 else _percent(hits, hits + misses)


@dataclass(frozen=True)
class Headroom:
    peak: int | None
    max_connections: int

    @property
    def used_percent(self) -> Decimal | None:
        return None if self.peak is None else _percent(self.peak, self.max_connections)

    @property
    def left(self) -> int | None:
        return None if self.peak is None else self.max_connections - self.peak

    def as_dict(self) -> dict[str, Any]:
        return {"peak": self.peak, "max_connections": self.max_connections,
                "used_percent": self.used_percent, "left": self.left}


def connection_headroom(peak: float | None, max_connections: int) -> Headroom:
    """The period's peak DatabaseConnections (CloudWatch Maximum) against max_connections."""
    if max_connections <= 0:
        raise ValueError(f"max_connections must be positive, got {max_connections}")
    if peak is not None and peak < 0:
        raise ValueError(f"negative connection count {peak}")
    return Headroom(None if peak is None else int(peak), max_connections)


@dataclass(frozen=True)
class Percentiles:
    """A period's latency percentiles in seconds, as CloudWatch computed them for the whole period
    (one query, Period = the period's length): never formed from shorter periods."""

    p50: Decimal | None
    p95: Decimal | None
    p99: Decimal | None

    def by_metric(self) -> dict[str, Decimal | None]:
        return {"latency_p50": self.p50, "latency_p95": self.p95, "latency_p99": self.p99}


def single_period_seconds(start: dt.datetime, end: dt.datetime) -> int:
    """The GetMetricData Period that makes one datapoint of [start, end): its length in seconds.
    A percentile of a week or a month is asked for this way, never averaged from days."""
    if start.tzinfo is None or end.tzinfo is None:
        raise ValueError("period bounds must be aware datetimes")
    seconds = int((end - start).total_seconds())
    if seconds <= 0 or seconds % 60:
        raise ValueError(f"a period must be a positive whole number of minutes, got {start} .. {end}")
    return seconds


class _ThresholdLike(Protocol):
    limit: Decimal
    direction: str
    unit: str


@dataclass(frozen=True)
class Judgement:
    metric: str
    resource: str
    value: Decimal | None
    previous: Decimal | None
    limit: Decimal
    direction: str
    unit: str
    status: Status

    def as_dict(self) -> dict[str, Any]:
        return {"metric": self.metric, "resource": self.resource, "value": self.value, "previous": self.previous,
                "threshold": {"limit": self.limit, "direction": self.direction, "unit": self.unit},
                "status": self.status}


def judge(metric: str, resource: str, value: Decimal | None, previous: Decimal | None,
          threshold: _ThresholdLike) -> Judgement:
    """A figure against its threshold: met, breached, or no data (never met by absence)."""
    if metric not in METRIC_UNITS:
        raise KeyError(f"unknown metric {metric!r}; known: {sorted(METRIC_UNITS)}")
    if threshold.unit != METRIC_UNITS[metric]:
        raise ValueError(f"{metric}: threshold unit {threshold.unit!r}, expected {METRIC_UNITS[metric]!r}")
    if value is None:
        status: Status = "no_data"
    elif threshold.direction == "at_most":
        status = "met" if value <= threshold.limit else "breached"
    else:
        status = "met" if value >= threshold.limit else "breached"
    return Judgement(metric, resource, value, previous, threshold.limit, threshold.direction, threshold.unit, status)


class _PlanLike(Protocol):
    def finding_severity(self, kind: str) -> str: ...


def breach_findings(plan: _PlanLike, judgements: Iterable[Judgement], period: str) -> list[Finding]:
    """One finding per breached figure (resource + metric + period make its dedup key)."""
    findings = []
    for j in judgements:
        if j.status != "breached":
            continue
        word = "at most" if j.direction == "at_most" else "at least"
        findings.append(Finding.of(
            plan, breach_kind(j.metric), j.resource,
            f"{j.metric} of {j.resource} was {j.value} {j.unit} in {period} (threshold: {word} {j.limit})",
            period, metric=j.metric, value=j.value, previous=j.previous, limit=j.limit, unit=j.unit))
    return findings


# ------------------------------------------------------------------ the report's period

_WEEK = re.compile(r"^([0-9]{4})-W([0-9]{2})$")


@dataclass(frozen=True)
class MetricsPeriod:
    """A key-metrics period: an ISO week (Monday 00:00 to Monday 00:00 in the contract's zone) or
    a contract month (`plan.month_bounds`). `start`/`end` are UTC, end exclusive."""

    label: str  # 2026-W44 or 2026-10
    kind: Literal["week", "month"]
    days: tuple[dt.date, ...]  # its calendar days in the contract's zone
    start: dt.datetime
    end: dt.datetime
    tz: ZoneInfo

    def day_start(self, day: dt.date) -> dt.datetime:
        return dt.datetime.combine(day, dt.time(), tzinfo=self.tz).astimezone(dt.UTC)

    def previous(self) -> MetricsPeriod:
        if self.kind == "week":
            monday = self.days[0] - dt.timedelta(days=7)
            year, week, _ = monday.isocalendar()
            return metrics_period(f"{year:04d}-W{week:02d}", self.tz)
        return metrics_period(str(Month.parse(self.label).previous()), self.tz)


def metrics_period(text: str, tz: ZoneInfo) -> MetricsPeriod:
    """`2026-W44` (ISO week) or `2026-10` (month); anything else is PeriodError saying both forms."""
    value = str(text).strip()
    match = _WEEK.match(value)
    if match:
        try:
            monday = dt.date.fromisocalendar(int(match[1]), int(match[2]), 1)
        except ValueError:
            raise PeriodError(f"period: {value!r} is not an ISO week of that year") from None
        days = tuple(monday + dt.timedelta(days=i) for i in range(7))
        kind: Literal["week", "month"] = "week"
    else:
        try:
            month = Month.parse(value)
        except PeriodError:
            raise PeriodError(f"period must be an ISO week like 2026-W44 or a month like 2026-10, got {value!r}") from None
        days, kind = tuple(month.days), "month"
    start = dt.datetime.combine(days[0], dt.time(), tzinfo=tz).astimezone(dt.UTC)
    end = dt.datetime.combine(days[-1] + dt.timedelta(days=1), dt.time(), tzinfo=tz).astimezone(dt.UTC)
    return MetricsPeriod(value, kind, days, start, end, tz)


# ------------------------------------------------------------------ Sentry and Mixpanel figures


def sentry_totals(stats: dict[str, Any]) -> dict[str, dict[str, int]]:
    """stats_v2 (`sum(quantity)` by outcome and category) as {category: {outcome: total}}."""
    totals: dict[str, dict[str, int]] = {}
    for group in stats.get("groups", []):
        by = group.get("by", {})
        quantity = int(group.get("totals", {}).get("sum(quantity)", 0))
        cell = totals.setdefault(str(by.get("category", "")), {})
        cell[str(by.get("outcome", ""))] = cell.get(str(by.get("outcome", "")), 0) + quantity
    return totals


def new_issues(issues: Iterable[dict[str, Any]], start: dt.datetime, end: dt.datetime,
               projects: Iterable[str]) -> list[dict[str, Any]]:
    """The issues of `projects` first seen in [start, end), most events first; title as sent (escape
    it where it goes)."""
    wanted = set(projects)
    rows = []
    for issue in issues:
        first = dt.datetime.fromisoformat(str(issue["firstSeen"]))
        if issue.get("project", {}).get("slug") in wanted and start <= first < end:
            rows.append({"id": str(issue["id"]), "short_id": issue.get("shortId"), "title": str(issue.get("title", "")),
                         "project": issue["project"]["slug"], "events": int(issue.get("count", 0)),
                         "first_seen": first.astimezone(dt.UTC), "link": issue.get("permalink")})
    return sorted(rows, key=lambda r: (-r["events"], r["id"]))


def active_users(series: dict[str, int], period: MetricsPeriod) -> dict[str, int]:
    """A saved report's points ({ISO date or datetime: users}) inside the period, by date."""
    found = {}
    for key, value in series.items():
        day = dt.date.fromisoformat(str(key)[:10])
        if period.days[0] <= day <= period.days[-1]:
            found[day.isoformat()] = int(value)
    return dict(sorted(found.items()))


# ------------------------------------------------------------------ CloudWatch answers as figures

Series = tuple[list[dt.datetime], list[float]]


def _sums(series: Series | None) -> dict[dt.datetime, float]:
    return dict(zip(*series, strict=True)) if series else {}


def _one(series: Series | None) -> Decimal | None:
    """A whole-period query's one datapoint (None: no data)."""
    if not series or not series[1]:
        return None
    return Decimal(str(series[1][0]))


def _error_rate_of(results: dict[str, Series], prefix: str, buckets: int, resolution: int,
                   elb: bool) -> ErrorRate:
    requests = _sums(results.get(f"{prefix}_requests"))
    target = _sums(results.get(f"{prefix}_target5xx"))
    elb_5xx = _sums(results.get(f"{prefix}_elb5xx")) if elb else {}
    counted = error_rate(RequestCounts(int(v), int(target.get(t, 0)), int(elb_5xx.get(t, 0)))
                         for t, v in requests.items())
    # Buckets without a RequestCount datapoint are no data too: the ALB sent nothing.
    missing = max(buckets - len(requests), 0)
    minutes_per_bucket = resolution // 60
    return ErrorRate(counted.errors, counted.requests, (counted.no_data_minutes + missing) * minutes_per_bucket)


def key_metric_figures(results: dict[str, Series], *, load_balancers: list[tuple[str, list[str]]],
                       databases: list[tuple[str, int | None]], caches: list[str], period_seconds: int,
                       resolution: int) -> list[dict[str, Any]]:
    """The period's figures from the answers to hooks/cloudwatch.py `key_metric_queries` (its ids
    `<kind><index>_<figure>`, the resources in the same order): one row per resource and metric,
    `value` None when there was no data. Latency and connections come from the whole-period
    queries only; counts are summed over the buckets, and a bucket without a RequestCount
    datapoint (or with 0) is `resolution` seconds of no data."""
    if period_seconds % resolution:
        raise ValueError(f"the period ({period_seconds} s) is not a whole number of {resolution} s buckets")
    buckets = period_seconds // resolution
    rows: list[dict[str, Any]] = []

    def latency(prefix: str, resource: str) -> None:
        for stat in ("p50", "p95", "p99"):
            rows.append({"resource": resource, "metric": f"latency_{stat}", "value": _one(results.get(f"{prefix}_{stat}_period"))})

    tg_index = 0
    for i, (lb, target_groups) in enumerate(load_balancers):
        latency(f"lb{i}", lb)
        rate = _error_rate_of(results, f"lb{i}", buckets, resolution, elb=True)
        rows.append({"resource": lb, "metric": "error_rate", "value": rate.percent, "details": rate.as_dict()})
        for tg in target_groups:
            resource = f"{lb} {tg}"
            latency(f"tg{tg_index}", resource)
            rate = _error_rate_of(results, f"tg{tg_index}", buckets, resolution, elb=False)
            rows.append({"resource": resource, "metric": "error_rate", "value": rate.percent, "details": rate.as_dict()})
            tg_index += 1
    for i, (db, max_connections) in enumerate(databases):
        peak = _one(results.get(f"db{i}_max_period"))
        headroom = connection_headroom(None if peak is None else int(peak), max_connections) if max_connections else None
        rows.append({"resource": db, "metric": "db_connections",
                     "value": headroom.used_percent if headroom else None,
                     "details": {**(headroom.as_dict() if headroom else {"peak": peak, "max_connections": None}),
                                 "p95": _one(results.get(f"db{i}_p95_period"))}})
    for i, cache in enumerate(caches):
        hits = sum(results.get(f"cc{i}_hits", ([], []))[1])
        misses = sum(results.get(f"cc{i}_misses", ([], []))[1])
        has_data = bool(results.get(f"cc{i}_hits", ([], []))[1] or results.get(f"cc{i}_misses", ([], []))[1])
        rows.append({"resource": cache, "metric": "cache_hit_rate",
                     "value": cache_hit_rate(int(hits), int(misses)) if has_data else None,
                     "details": {"hits": int(hits), "misses": int(misses)}})
    return rows
