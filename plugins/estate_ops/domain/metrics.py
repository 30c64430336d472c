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
- Custom business KPIs (estate.yaml monitoring.custom_kpis): each KPI's own statistic as
  CloudWatch computed it for the whole period (one datapoint, like the percentiles) and per day,
  judged against the KPI's own threshold in the KPI's own unit; metric `custom_kpi`, resource the
  KPI's name.
- Each figure stands beside the previous period's and its threshold (plan.yaml
  monitoring.key_metrics.thresholds, or the KPI's) and is met / breached / no data; a breach is a
  finding of kind `<metric>_breached` (severity from plan.yaml finding_severities).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Sequence
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

# A custom KPI's figures: judged in the KPI's own unit (estate.yaml), not one of METRIC_UNITS.
CUSTOM_KPI = "custom_kpi"

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


class _KpiLike(Protocol):
    """A custom KPI as estate.yaml gives it (config.CustomKpi)."""

    name: str
    namespace: str
    metric: str
    statistic: str
    unit: str
    threshold: _ThresholdLike


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
          threshold: _ThresholdLike, *, expected_unit: str | None = None) -> Judgement:
    """A figure against its threshold: met, breached, or no data (never met by absence).

    A built-in metric's threshold must be in its METRIC_UNITS unit; any other metric (a custom KPI)
    names the unit its figure is in as `expected_unit`, and its threshold must be in that unit."""
    if metric in METRIC_UNITS:
        if expected_unit not in (None, METRIC_UNITS[metric]):
            raise ValueError(f"{metric} is measured in {METRIC_UNITS[metric]!r}, not {expected_unit!r}")
        expected_unit = METRIC_UNITS[metric]
    elif expected_unit is None:
        raise KeyError(f"unknown metric {metric!r} without an expected unit; known: {sorted(METRIC_UNITS)}")
    if threshold.unit != expected_unit:
        raise ValueError(f"{metric} {resource}: threshold unit {threshold.unit!r}, expected {expected_unit!r}")
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
        what = f"KPI {j.resource}" if j.metric == CUSTOM_KPI else f"{j.metric} of {j.resource}"
        findings.append(Finding.of(
            plan, breach_kind(j.metric), j.resource,
            f"{what} was {j.value} {j.unit} in {period} (threshold: {word} {j.limit})",
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

    def day_segments(self) -> list[tuple[dt.datetime, dt.datetime, int]]:
        """The period as runs of consecutive days of one length, (start, end, seconds per day), UTC.

        A day query's Period is fixed and its buckets start at StartTime, so 86,400 s from the
        period's start is an hour off every contract day after a DST change: a period holding one
        is asked in up to three segments (the days before, the 23- or 25-hour day, the days after)."""
        segments: list[tuple[dt.datetime, dt.datetime, int]] = []
        for day in self.days:
            lo, hi = self.day_start(day), self.day_start(day + dt.timedelta(days=1))
            seconds = int((hi - lo).total_seconds())
            if segments and segments[-1][2] == seconds and segments[-1][1] == lo:
                segments[-1] = (segments[-1][0], hi, seconds)
            else:
                segments.append((lo, hi, seconds))
        return segments

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


def _kpi_details(kpi: _KpiLike) -> dict[str, str]:
    return {"namespace": kpi.namespace, "metric": kpi.metric, "statistic": kpi.statistic, "unit": kpi.unit}


def key_metric_figures(results: dict[str, Series], *, load_balancers: list[tuple[str, list[str]]],
                       databases: list[tuple[str, int | None]], caches: list[str], period_seconds: int,
                       resolution: int, kpis: Sequence[_KpiLike] = ()) -> list[dict[str, Any]]:
    """The period's figures from the answers to hooks/cloudwatch.py `key_metric_queries` (its ids
    `<kind><index>_<figure>`, the resources in the same order): one row per resource and metric,
    `value` None when there was no data. Latency and connections come from the whole-period
    queries only; counts are summed over the buckets, and a bucket without a RequestCount
    datapoint (or with 0) is `resolution` seconds of no data. A custom KPI (`kpis`, in the order
    its queries were made) is its statistic's one whole-period datapoint, as CloudWatch computed it."""
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
    for i, kpi in enumerate(kpis):
        rows.append({"resource": kpi.name, "metric": CUSTOM_KPI, "value": _one(results.get(f"kpi{i}_period")),
                     "details": _kpi_details(kpi)})
    return rows


# ------------------------------------------------------------------ the report (key_metrics_report)

RESOLUTIONS = (60, 300, 900, 3600)  # count buckets CloudWatch serves evenly within a day


def report_period(kind: Literal["week", "month"], logical_date: dt.datetime, param: str | None, *,
                  tz: ZoneInfo, now: dt.datetime, scheduled: bool) -> MetricsPeriod | None:
    """The period the `kind` task of key_metrics_report reports on, or None when it has nothing to do.

    With a `period` param (`2026-W44` or `2026-10`): that period when it is of `kind` (the other
    task does nothing), refused when it has not ended by `now`. Without one: a scheduled run
    reports the previous ISO week when its date (in `tz`) is a Monday and the previous month when
    it is the 1st (both on a Monday the 1st); a manual run reports the last ended week and month."""
    if logical_date.tzinfo is None or now.tzinfo is None:
        raise PeriodError("logical_date and now must be timezone-aware")
    if param not in (None, "", "None"):
        period = metrics_period(str(param), tz)
        if period.kind != kind:
            return None
        if period.end > now:
            raise PeriodError(f"period {period.label} has not ended yet: it ends "
                              f"{period.end.astimezone(tz):%Y-%m-%d %H:%M} {tz.key} (now is {now:%Y-%m-%d %H:%M} UTC)")
        return period
    local = logical_date.astimezone(tz).date()
    if kind == "week":
        if scheduled and local.weekday() != 0:
            return None
        monday = local - dt.timedelta(days=local.weekday() + 7)
        year, week, _ = monday.isocalendar()
        return metrics_period(f"{year:04d}-W{week:02d}", tz)
    if scheduled and local.day != 1:
        return None
    return metrics_period(str(Month.of(local).previous()), tz)


def day_series(results: dict[str, Series], base: str,
               segments: list[tuple[dt.datetime, dt.datetime, int]]) -> Series:
    """A day query's answers joined across its segments (`base0`, `base1`, ... as
    hooks/cloudwatch.py `key_metric_queries` names them, one per `MetricsPeriod.day_segments`
    entry), each segment's own buckets only: segment k is asked from its start to the period's end,
    and its buckets past its end are not its days (a 25-hour bucket may even start at a midnight)."""
    stamps: list[dt.datetime] = []
    values: list[float] = []
    for k, (lo, hi, _seconds) in enumerate(segments):
        for stamp, value in zip(*results.get(f"{base}{k}", ([], [])), strict=True):
            if lo <= stamp < hi:
                stamps.append(stamp)
                values.append(value)
    order = sorted(range(len(stamps)), key=stamps.__getitem__)
    return [stamps[i] for i in order], [values[i] for i in order]


def daily_rows(results: dict[str, Series], period: MetricsPeriod, *, load_balancers: list[tuple[str, list[str]]],
               databases: list[tuple[str, int | None]], caches: list[str], resolution: int,
               kpis: Sequence[_KpiLike] = ()) -> list[dict[str, Any]]:
    """Per contract day: each load balancer's (and target group's) p50/p95/p99 as CloudWatch computed
    them for the day (the `_day` queries, one bucket per contract day: `MetricsPeriod.day_segments`), its error rate (sums of
    the day's buckets, never a mean), each database's peak connections against its max, each cache's
    hit rate, each custom KPI's statistic for the day (its `_day` queries). A day with no datapoint
    has value None."""
    index = {d: i for i, d in enumerate(period.days)}

    def day_of(stamp: dt.datetime) -> dt.date | None:
        day = stamp.astimezone(period.tz).date()
        return day if day in index else None

    # a day query's bucket starts at a contract day's midnight (`day_segments`): that day
    midnights = {period.day_start(d): d for d in period.days}
    segments = period.day_segments()
    rows: list[dict[str, Any]] = []

    def per_day(base: str) -> dict[dt.date, float]:
        found: dict[dt.date, float] = {}
        for stamp, value in zip(*day_series(results, base, segments), strict=True):
            day = midnights.get(stamp)
            if day is not None:
                found[day] = value
        return found

    def sums(series: Series | None) -> tuple[dict[dt.date, float], dict[dt.date, int]]:
        total: dict[dt.date, float] = {}
        count: dict[dt.date, int] = {}
        for stamp, value in zip(*(series or ([], [])), strict=True):
            day = day_of(stamp)
            if day is not None:
                total[day] = total.get(day, 0.0) + value
                count[day] = count.get(day, 0) + 1
        return total, count

    def latency(prefix: str, resource: str) -> None:
        for stat in ("p50", "p95", "p99"):
            values = per_day(f"{prefix}_{stat}_day")
            for day in period.days:
                v = values.get(day)
                rows.append({"day": day, "resource": resource, "metric": f"latency_{stat}",
                             "value": None if v is None else Decimal(str(v))})

    def errors(prefix: str, resource: str, elb: bool) -> None:
        requests, present = sums(results.get(f"{prefix}_requests"))
        target, _ = sums(results.get(f"{prefix}_target5xx"))
        elb_5xx, _ = sums(results.get(f"{prefix}_elb5xx")) if elb else ({}, {})
        for day in period.days:
            minutes = int((period.day_start(day + dt.timedelta(days=1)) - period.day_start(day)).total_seconds()) // 60
            rate = ErrorRate(int(target.get(day, 0) + elb_5xx.get(day, 0)) if requests.get(day) else 0,
                             int(requests.get(day, 0)),
                             max(minutes - present.get(day, 0) * (resolution // 60), 0))
            rows.append({"day": day, "resource": resource, "metric": "error_rate", "value": rate.percent,
                         "details": rate.as_dict()})

    tg_index = 0
    for i, (lb, target_groups) in enumerate(load_balancers):
        latency(f"lb{i}", lb)
        errors(f"lb{i}", lb, elb=True)
        for tg in target_groups:
            latency(f"tg{tg_index}", f"{lb} {tg}")
            errors(f"tg{tg_index}", f"{lb} {tg}", elb=False)
            tg_index += 1
    for i, (db, max_connections) in enumerate(databases):
        peaks = per_day(f"db{i}_max_day")
        for day in period.days:
            peak = peaks.get(day)
            head = connection_headroom(peak, max_connections) if (max_connections and peak is not None) else None
            rows.append({"day": day, "resource": db, "metric": "db_connections",
                         "value": head.used_percent if head else None,
                         "details": {"peak": None if peak is None else int(peak), "max_connections": max_connections}})
    for i, cache in enumerate(caches):
        hits, _ = sums(results.get(f"cc{i}_hits"))
        misses, _ = sums(results.get(f"cc{i}_misses"))
        for day in period.days:
            has = day in hits or day in misses
            rows.append({"day": day, "resource": cache, "metric": "cache_hit_rate",
                         "value": cache_hit_rate(int(hits.get(day, 0)), int(misses.get(day, 0))) if has else None})
    for i, kpi in enumerate(kpis):
        values = per_day(f"kpi{i}_day")
        for day in period.days:
            v = values.get(day)
            rows.append({"day": day, "resource": kpi.name, "metric": CUSTOM_KPI,
                         "value": None if v is None else Decimal(str(v))})
    return rows


def _users_headline(period: MetricsPeriod, wau: dict[str, int], mau: dict[str, int]) -> tuple[str, int | None]:
    """A week's WAU (its Monday's point) or a month's MAU (its 1st's point)."""
    if period.kind == "week":
        return "weekly_active_users", wau.get(period.days[0].isoformat())
    return "monthly_active_users", mau.get(period.days[0].isoformat())


def build_metrics_report(*, plan: Any, period: MetricsPeriod, figures: list[dict[str, Any]],
                         previous: list[dict[str, Any]], daily: list[dict[str, Any]],
                         missing: list[tuple[str, str, str]], sentry: dict[str, Any] | None,
                         users: dict[str, Any] | None, estate_name: str, inputs: dict[str, int],
                         resolution: int, kpis: Sequence[_KpiLike] = ()) -> tuple[dict[str, Any], list[Finding]]:
    """The key-metrics report and its findings, from what the hooks read.

    `figures`/`previous`: `key_metric_figures` rows of the period and of the previous period.
    `missing`: (kind, resource, what) for a load balancer, target group, database or cache CloudWatch
    has no metric for: each is a `metric_source_missing` finding naming it. `sentry`: {"totals",
    "previous_totals", "issues" (unresolved, seen in the period), "projects"}. `users`: {"dau", "wau",
    "mau": saved-report series as read}. `kpis`: the custom KPIs (estate.yaml), whose `custom_kpi`
    rows are judged against each KPI's own threshold, in its own unit."""
    thresholds = plan.monitoring.key_metrics.thresholds
    by_name = {k.name: k for k in kpis}
    before = {(r["resource"], r["metric"]): r["value"] for r in previous}

    def judged(r: dict[str, Any]) -> Judgement:
        was = before.get((r["resource"], r["metric"]))
        if r["metric"] == CUSTOM_KPI:
            kpi = by_name[r["resource"]]
            return judge(CUSTOM_KPI, kpi.name, r["value"], was, kpi.threshold, expected_unit=kpi.unit)
        return judge(r["metric"], r["resource"], r["value"], was, thresholds[r["metric"]])

    judgements = [judged(r) for r in figures]
    findings = breach_findings(plan, judgements, period.label)
    for kind, resource, what in missing:
        figures_of = "its figures" if kind == "custom KPI" else "its key metrics"
        findings.append(Finding.of(plan, "metric_source_missing", resource,
                                   f"CloudWatch has no {what} for {kind} {resource} (estate.yaml names it): "
                                   f"{figures_of} for {period.label} are no data", period.label, source_kind=kind))
    details = {(r["resource"], r["metric"]): r.get("details") for r in figures}
    rows = []
    for j in judgements:
        row = j.as_dict()
        extra = details.get((j.resource, j.metric)) or {}
        row["details"] = extra
        rows.append(row)

    lb_names = [r["resource"] for r in figures if r["metric"] == "error_rate" and " " not in r["resource"]]
    rates = [ErrorRate(int(r["details"]["errors"]), int(r["details"]["requests"]), int(r["details"]["no_data_minutes"]))
             for r in figures if r["metric"] == "error_rate" and r["resource"] in lb_names]
    all_lbs = combine_error_rates(rates)
    p99s = [r["value"] for r in figures if r["metric"] == "latency_p99" and r["resource"] in lb_names
            and r["value"] is not None]
    used = [r["value"] for r in figures if r["metric"] == "db_connections" and r["value"] is not None]
    caches = [r for r in figures if r["metric"] == "cache_hit_rate" and r["value"] is not None]
    hit_rate = cache_hit_rate(sum(r["details"]["hits"] for r in caches), sum(r["details"]["misses"] for r in caches))

    items: dict[str, list[dict[str, Any]]] = {
        "figures": rows,
        "missing_sources": [{"kind": k, "resource": r, "what": w} for k, r, w in missing],
        "daily": [{"day": r["day"], "resource": r["resource"], "metric": r["metric"], "value": r["value"]}
                  for r in daily],
    }
    headline: dict[str, Any] = {
        "figures_breached": {"value": sum(j.status == "breached" for j in judgements), "unit": "figures"},
        "figures_no_data": {"value": sum(j.status == "no_data" for j in judgements), "unit": "figures"},
        "error_rate": {"value": all_lbs.percent, "unit": "percent"},
        "slowest_latency_p99": {"value": max(p99s) if p99s else None, "unit": "seconds"},
        "peak_db_connections": {"value": max(used) if used else None, "unit": "percent_of_max_connections"},
        "cache_hit_rate": {"value": hit_rate, "unit": "percent"},
    }
    figures_out: dict[str, Any] = {
        "error_rate_no_data_minutes": {"value": all_lbs.no_data_minutes, "unit": "minutes"},
        "requests": {"value": all_lbs.requests, "unit": "requests"},
        "errors_5xx": {"value": all_lbs.errors, "unit": "requests"},
        "count_resolution": {"value": resolution, "unit": "seconds"},
    }
    if users is not None:
        dau = active_users(users["dau"], period)
        wau = {str(k)[:10]: int(v) for k, v in users["wau"].items()}
        mau = {str(k)[:10]: int(v) for k, v in users["mau"].items()}
        name, value = _users_headline(period, wau, mau)
        previous_name, previous_value = _users_headline(period.previous(), wau, mau)
        headline[name] = {"value": value, "unit": "users"}
        figures_out[f"previous_{previous_name}"] = {"value": previous_value, "unit": "users"}
        figures_out["mean_daily_active_users"] = {
            "value": (Decimal(sum(dau.values())) / len(dau)).quantize(Decimal("0.1")) if dau else None, "unit": "users"}
        items["active_users"] = [{"day": d, "users": u} for d, u in dau.items()]
    if sentry is not None:
        totals, prev = sentry["totals"], sentry["previous_totals"]
        items["sentry_events"] = [{"category": c, "outcome": o, "events": n, "previous": prev.get(c, {}).get(o)}
                                  for c in sorted(totals) for o, n in sorted(totals[c].items())]
        issues = [i for i in sentry["issues"] if i.get("project", {}).get("slug") in set(sentry["projects"])]
        fresh = new_issues(issues, period.start, period.end, sentry["projects"])
        items["new_issues"] = fresh
        headline["sentry_errors"] = {"value": totals.get("error", {}).get("accepted", 0), "unit": "events"}
        headline["new_issues"] = {"value": len(fresh), "unit": "issues"}
        figures_out["unresolved_issues_seen"] = {"value": len(issues), "unit": "issues"}
        figures_out["previous_sentry_errors"] = {"value": prev.get("error", {}).get("accepted", 0), "unit": "events"}
    period_dict: dict[str, Any] = {"label": period.label, "kind": period.kind, "timezone": period.tz.key,
                                   "start": period.start, "end": period.end,
                                   "start_local": period.start.astimezone(period.tz).isoformat(),
                                   "end_local": period.end.astimezone(period.tz).isoformat(),
                                   "previous": period.previous().label}
    if period.kind == "month":
        period_dict["month"] = period.label
    report = {
        "kind": "metrics",
        "title": f"Key metrics {period.label} — {estate_name}",
        "period": period_dict,
        "plan_version": plan.plan.version,
        "headline": headline,
        "inputs": dict(inputs),
        "figures": figures_out,
        "items": items,
        "findings": [f.as_dict() for f in findings],
        "warnings": [f"{k} {r}: no {w} in CloudWatch" for k, r, w in missing],
    }
    return report, findings


def slack_summary(report: dict[str, Any], url: str | None = None) -> str:
    """One Slack message for the period: the headline and each breached figure (outside text escaped)."""
    from estate_ops.domain.slacktext import slack_escape as e

    h = report["headline"]

    def show(name: str, digits: str = "0.01") -> str:
        value = (h.get(name) or {}).get("value")
        if value is None:
            return "no data"
        return str(Decimal(str(value)).quantize(Decimal(digits))) if isinstance(value, (Decimal, float)) else str(value)

    lines = [(f"*Key metrics {e(report['period']['label'])}*: {h['figures_breached']['value']} breached, "
             f"{h['figures_no_data']['value']} no data; 5XX error rate {show('error_rate', '0.001')} %, "
             f"slowest p99 {show('slowest_latency_p99', '0.001')} s, peak DB connections "
             f"{show('peak_db_connections', '0.1')} % of max, cache hit rate {show('cache_hit_rate', '0.1')} %")]
    extra = [f"{name.replace('_', ' ')} {show(name)}" for name in
             ("weekly_active_users", "monthly_active_users", "sentry_errors", "new_issues") if name in h]
    if extra:
        lines.append("; ".join(extra))
    breached = [r for r in report["items"]["figures"] if r["status"] == "breached"]
    for r in breached[:10]:
        # A KPI's name and unit come from estate.yaml, not from us: escaped like every outside text.
        what = "KPI" if r["metric"] == CUSTOM_KPI else r["metric"]
        lines.append(f"• {e(what)} {e(r['resource'])}: {Decimal(str(r['value'])).quantize(Decimal('0.001'))} "
                     f"{e(r['threshold']['unit'])} (threshold {e(r['threshold']['limit'])})")
    if len(breached) > 10:
        lines.append(f"… and {len(breached) - 10} more in the report")
    for m in report["items"]["missing_sources"][:10]:
        lines.append(f":warning: no CloudWatch data for {e(m['kind'])} {e(m['resource'])}")
    if url:
        lines.append(f"<{url}|Report>")
    return "\n".join(lines)
