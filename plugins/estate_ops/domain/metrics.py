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
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Literal, Protocol

from estate_ops.domain.findings import Finding

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
