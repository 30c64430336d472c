"""Availability (plan §1.1): 99.9 % uptime per month, via CloudWatch, excluding announced maintenance.

Recomputing a disputed month
----------------------------
Everything the monthly report says comes from one pure function,
:func:`build_availability_report`. To recompute a month by hand (no Airflow, no AWS access
beyond copying the bucket), from a local copy of the reports bucket
(`aws s3 sync s3://<reports_bucket>/ reports/`), run with `plugins/` on the path::

    import json
    from pathlib import Path

    from estate_ops.config import load_config
    from estate_ops.domain.availability import (Endpoint, build_availability_report,
                                                read_health_parquet, status_frame)
    from estate_ops.domain.maintenance import MaintenanceWindow
    from estate_ops.domain.periods import Month

    root = Path("reports")
    plan, estate = load_config()
    month = Month.parse("2026-10")
    bounds = plan.month_bounds(month)  # the contract month (plan.yaml contract_month_timezone)
    print(bounds.describe())            # which minutes this computes, in both zones
    endpoints = [Endpoint(h.id, h.name, h.critical, h.kind) for h in estate.health_checks]
    # Health files are per UTC day; an ET month takes its minutes from the UTC days it straddles.
    files = {d: root / f"health/date={d}/health.parquet" for d in bounds.utc_days()}
    days = {d: read_health_parquet(f.read_bytes(), d, str(f)) for d, f in files.items() if f.exists()}
    status, percent = status_frame(bounds, endpoints, days)
    windows = [MaintenanceWindow.from_record(json.loads(p.read_text()), str(p))
               for p in sorted((root / "maintenance/windows").glob("*.json"))]
    report, findings = build_availability_report(status, windows, plan, month=month,
                                                 endpoints=endpoints, percent_healthy=percent)
    print(report["headline"]["composite_availability"], report["figures"]["error_budget_used"])

A day absent from the copy counts as no data (the scheduled job would have backfilled it).

`status` is a DataFrame indexed by every minute of the contract month (`plan.month_bounds`, as
UTC instants) with one float64 column per
health check id: 1.0 up, 0.0 down, NaN no data. Any frame of that shape works (a spreadsheet
export, a corrected copy): the function checks the index and values and refuses anything else.
The report carries every figure with its unit, the input counts, each window with why it
qualified or not, the data-gap days and the error budget.

The rules, as the plan and plan.yaml state them
- An endpoint is a Route 53 health check (`HealthCheckStatus` Minimum) or an ALB target group
  (`HealthyHostCount` Minimum, dimensions TargetGroup and LoadBalancer): a minute whose Minimum is
  below 1 (the check failed, or no target was healthy) is down, a minute without a datapoint no data.
- Each minute of each endpoint is up, down, maintenance (excluded) or no data.
- Maintenance: only the part of a window inside 02:00-06:00 ET, announced >= 48 h before its
  start, not cancelled (`domain.maintenance.rule_window`). A minute [t, t+1) is excluded when
  the window covers t. The exclusion applies to every endpoint.
- No data follows `availability.no_data_policy`: `exclude` (default: out of the denominator,
  reported with a completeness figure and a warning below `completeness_warning_percent`),
  `down` or `up` (counted as such).
- Availability = up / (up + down) over the minutes that count; per endpoint and composite. The
  composite is down in a minute when any (`composite_rule: any`) or all (`all`) critical
  endpoints are down; with `any` a minute where no critical endpoint is down but one has no
  data is no data; with `all` a minute where none is up but not all are down is no data.
- Error budget (minutes) = (1 - target) x (month minutes - excluded minutes); used = composite
  down minutes that count; remaining = allowed - used; it ran out at the first minute the
  cumulative used exceeds allowed.
- Data older than 15 days is only available at 5-minute resolution (older than 63 days, 1 hour):
  such a day's bucket value applies to every minute of the bucket (a 5-minute bucket whose
  Minimum is 0 is 5 down minutes: conservative), and the report lists the day and its resolution.

The month is the contract month (`plan.month_bounds`: the calendar month in plan.yaml's
`contract_month_timezone`, ET by default); health data is stored per UTC day (CloudWatch's clock)
and the month takes its minutes from the UTC days it straddles. Daily rows are the month's days in
that zone (a DST day has 1,380 or 1,500 minutes).
Pure: numpy/pandas/pyarrow only, no Airflow, no boto3.
"""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import ROUND_DOWN, Decimal
from itertools import pairwise
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np

from estate_ops.domain.findings import Finding, sort_findings
from estate_ops.domain.maintenance import MaintenanceWindow, WindowRuling, rule_window
from estate_ops.domain.periods import UTC, Month, MonthBounds

MINUTES_PER_DAY = 1440
NAMESPACE = "AWS/Route53"
STATUS_METRIC = ("HealthCheckStatus", "Minimum")
PERCENT_METRIC = ("HealthCheckPercentageHealthy", "Average")
ALB_NAMESPACE = "AWS/ApplicationELB"
ALB_STATUS_METRIC = ("HealthyHostCount", "Minimum")
ROUTE53 = "route53_health_check"
ALB_TARGET_GROUP = "alb_target_group"
# Per endpoint kind: the CloudWatch namespace, the status metric (up when its Minimum is >= 1) and
# the percent-healthy metric, if the kind has one.
ENDPOINT_METRICS: dict[str, tuple[str, tuple[str, str], tuple[str, str] | None]] = {
    ROUTE53: (NAMESPACE, STATUS_METRIC, PERCENT_METRIC),
    ALB_TARGET_GROUP: (ALB_NAMESPACE, ALB_STATUS_METRIC, None),
}
# CloudWatch keeps 1-minute data 15 days, 5-minute data 63 days, 1-hour data 455 days.
RETENTION = ((dt.timedelta(days=15), 60), (dt.timedelta(days=63), 300), (dt.timedelta(days=455), 3600))
PERCENT_PLACES = Decimal("0.0001")
SCHEMA_TAG = b"estate-ops/health/v1"


class HealthDataError(ValueError):
    """A health parquet day or a status frame is not what the contract says."""


# --------------------------------------------------------------------------- resolution


def finest_period(start: dt.datetime, now: dt.datetime) -> int | None:
    """The finest GetMetricData period (s) CloudWatch still accepts for data from `start` on.

    None when the data has expired (older than 455 days): that day is a gap.
    """
    age = now - start
    for limit, period in RETENTION:
        if age < limit:
            return period
    return None


# --------------------------------------------------------------------------- one day of health


@dataclass(frozen=True)
class HealthDay:
    """One UTC day of 1-minute rows for each health check (DESIGN.md §4, health.parquet)."""

    day: dt.date
    check_ids: tuple[str, ...]
    status: np.ndarray  # (checks, 1440) float64: 1 up, 0 down, NaN no data
    percent_healthy: np.ndarray  # (checks, 1440) float64, NaN no data
    resolution_seconds: np.ndarray  # (checks,) int32: the period the values came from
    source: str = "collected"  # collected (daily job) | backfilled (fetched late by the monthly report)
    reason: str = ""  # why a backfilled day was fetched late (kept in the file, so a rerun says the same)

    def __post_init__(self) -> None:
        shape = (len(self.check_ids), MINUTES_PER_DAY)
        if self.status.shape != shape or self.percent_healthy.shape != shape:
            raise HealthDataError(f"health day {self.day}: arrays must be {shape}, got "
                                  f"{self.status.shape} and {self.percent_healthy.shape}")

    @property
    def minutes_with_data(self) -> int:
        return int(np.count_nonzero(~np.isnan(self.status)))


def _minute_slots(day: dt.date, timestamps: Sequence[dt.datetime], period: int) -> np.ndarray:
    start = dt.datetime.combine(day, dt.time(), tzinfo=UTC)
    seconds = np.array([(t.astimezone(UTC) - start).total_seconds() for t in timestamps], dtype=np.int64)
    return seconds // 60


def _spread(day: dt.date, timestamps: Sequence[dt.datetime], values: Sequence[float], period: int) -> np.ndarray:
    """Values per period start -> one value per minute (a bucket's value covers all its minutes)."""
    out = np.full(MINUTES_PER_DAY, np.nan)
    if len(timestamps) == 0:
        return out
    slots = _minute_slots(day, timestamps, period)
    vals = np.asarray(values, dtype=np.float64)
    keep = (slots >= 0) & (slots < MINUTES_PER_DAY)
    slots, vals = slots[keep], vals[keep]
    width = max(period // 60, 1)
    for offset in range(width):
        target = slots + offset
        ok = target < MINUTES_PER_DAY
        out[target[ok]] = vals[ok]
    return out


def health_day_from_series(day: dt.date, check_ids: Sequence[str],
                           series: Mapping[tuple[str, str], tuple[Sequence[dt.datetime], Sequence[float]]],
                           period: int, source: str = "collected", reason: str = "",
                           kinds: Mapping[str, str] | None = None) -> HealthDay:
    """Build a day from GetMetricData series keyed by (check id, metric name).

    `kinds` maps an endpoint id to its kind (ENDPOINT_METRICS; absent: a Route 53 health check),
    which names its status metric. A minute is up when the status Minimum is >= 1 (HealthCheckStatus
    1, or at least one healthy target), down when it is 0; without a datapoint it stays NaN (no
    data), never up or down. A kind without a percent-healthy metric has NaN percent.
    """
    status = np.full((len(check_ids), MINUTES_PER_DAY), np.nan)
    percent = np.full((len(check_ids), MINUTES_PER_DAY), np.nan)
    for i, check_id in enumerate(check_ids):
        _namespace, status_metric, percent_metric = ENDPOINT_METRICS[(kinds or {}).get(check_id, ROUTE53)]
        ts, vals = series.get((check_id, status_metric[0]), ((), ()))
        raw = _spread(day, ts, vals, period)
        # Minimum over the period: up only when healthy the whole period.
        status[i] = np.where(np.isnan(raw), np.nan, (raw >= 1.0).astype(np.float64))
        if percent_metric is not None:
            ts, vals = series.get((check_id, percent_metric[0]), ((), ()))
            percent[i] = _spread(day, ts, vals, period)
    resolution = np.full(len(check_ids), period, dtype=np.int32)
    return HealthDay(day, tuple(check_ids), status, percent, resolution, source, reason)


def _health_schema(source: str = "collected", reason: str = ""):
    import pyarrow as pa

    return pa.schema(
        [
            pa.field("timestamp", pa.timestamp("ms", tz="UTC"), nullable=False),
            pa.field("health_check_id", pa.string(), nullable=False),
            pa.field("status", pa.int8()),  # 1 up, 0 down, null no data
            pa.field("percent_healthy", pa.float64()),
            pa.field("resolution_seconds", pa.int32(), nullable=False),
        ],
        metadata={b"schema": SCHEMA_TAG, b"source": source.encode(), b"reason": reason.encode()},
    )


def health_parquet_bytes(health: HealthDay) -> bytes:
    """The day's parquet, byte-identical for the same data (fixed schema and writer settings)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    n = len(health.check_ids)
    start = np.datetime64(dt.datetime.combine(health.day, dt.time()), "ms")
    minutes = start + np.arange(MINUTES_PER_DAY, dtype="timedelta64[m]").astype("timedelta64[ms]")
    status = health.status.reshape(-1)
    nodata = np.isnan(status)
    percent = health.percent_healthy.reshape(-1)
    table = pa.Table.from_arrays(
        [
            pa.array(np.tile(minutes, n), type=pa.timestamp("ms", tz="UTC")),
            pa.array(np.repeat(np.array(health.check_ids, dtype=object), MINUTES_PER_DAY), type=pa.string()),
            pa.array(np.where(nodata, 0, status).astype(np.int8), mask=nodata, type=pa.int8()),
            pa.array(percent, mask=np.isnan(percent), type=pa.float64()),
            pa.array(np.repeat(health.resolution_seconds.astype(np.int32), MINUTES_PER_DAY), type=pa.int32()),
        ],
        schema=_health_schema(health.source, health.reason),
    )
    buffer = io.BytesIO()
    pq.write_table(table, buffer, compression="zstd", compression_level=3, use_dictionary=True,
                   write_statistics=True, row_group_size=1 << 20, data_page_version="1.0",
                   version="2.6", store_schema=True)
    return buffer.getvalue()


def read_health_parquet(data: bytes, day: dt.date, where: str = "") -> HealthDay:
    """A stored day back as a HealthDay; HealthDataError naming `where` when it is not one."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    where = where or f"health/date={day}/health.parquet"
    try:
        table = pq.read_table(pa.BufferReader(data))
    except Exception as exc:  # noqa: BLE001 -- pyarrow raises several types for a damaged file
        raise HealthDataError(f"{where}: not a readable parquet file ({type(exc).__name__}: {exc})") from None
    expected = _health_schema()
    if table.schema.names != expected.names or table.schema.types != expected.types:
        raise HealthDataError(f"{where}: columns {table.schema.names} with types "
                              f"{[str(t) for t in table.schema.types]} do not match {expected.names}")
    n_rows = table.num_rows
    if n_rows % MINUTES_PER_DAY:
        raise HealthDataError(f"{where}: {n_rows} rows is not a whole number of days of minutes per check")
    n = n_rows // MINUTES_PER_DAY
    ids = table.column("health_check_id").to_numpy(zero_copy_only=False).reshape(n, MINUTES_PER_DAY)
    if not (ids == ids[:, :1]).all():
        raise HealthDataError(f"{where}: rows are not grouped by health check (1440 per check)")
    ts = table.column("timestamp").cast(pa.int64()).to_numpy().reshape(n, MINUTES_PER_DAY)
    start = int(dt.datetime.combine(day, dt.time(), tzinfo=UTC).timestamp()) * 1000
    expected_ts = start + 60_000 * np.arange(MINUTES_PER_DAY, dtype=np.int64)
    if not (ts == expected_ts).all():
        raise HealthDataError(f"{where}: timestamps are not the 1440 minutes of {day} UTC")
    status_col = table.column("status")
    status = status_col.cast(pa.float64()).to_numpy(zero_copy_only=False).reshape(n, MINUTES_PER_DAY)
    bad = ~np.isnan(status) & (status != 0) & (status != 1)
    if bad.any():
        raise HealthDataError(f"{where}: status must be 1, 0 or null, found {sorted(set(status[bad].tolist()))[:5]}")
    percent = table.column("percent_healthy").to_numpy(zero_copy_only=False).astype(np.float64).reshape(n, MINUTES_PER_DAY)
    resolution = table.column("resolution_seconds").to_numpy().reshape(n, MINUTES_PER_DAY)[:, 0].astype(np.int32)
    metadata = table.schema.metadata or {}
    source = metadata.get(b"source", b"collected").decode()
    if source not in ("collected", "backfilled"):
        raise HealthDataError(f"{where}: unknown source {source!r} in the file's metadata")
    return HealthDay(day, tuple(str(i) for i in ids[:, 0]), status, percent, resolution, source,
                     metadata.get(b"reason", b"").decode())


# --------------------------------------------------------------------------- the month


@dataclass(frozen=True)
class Endpoint:
    id: str  # the Route 53 health check id or the ALB target group's derived id: the status frame's column
    name: str
    critical: bool = True
    kind: str = ROUTE53  # a key of ENDPOINT_METRICS


@dataclass(frozen=True)
class DaySource:
    """Where a day's data came from, for the report's data-gap list."""

    day: dt.date
    source: str  # collected | backfilled | missing
    resolution_seconds: int | None
    note: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {"day": self.day, "source": self.source, "resolution_seconds": self.resolution_seconds,
                "resolution": self.note}


def minute_index(bounds: MonthBounds):
    """Every minute of the contract month, as UTC instants."""
    import pandas as pd

    return pd.date_range(bounds.start, bounds.end, freq="1min", inclusive="left", name="minute")


def status_frame(bounds: MonthBounds, endpoints: Sequence[Endpoint], days: Mapping[dt.date, HealthDay | None]):
    """The month's status and percent-healthy frames (minute x endpoint id) from its UTC days.

    Collection is per UTC day; a contract month in another zone takes the part of each UTC day it
    covers (the first and last UTC days only in part). A day absent from `days` (or None) and a
    check absent from a day are no data.
    """
    import pandas as pd

    index = minute_index(bounds)
    ids = [e.id for e in endpoints]
    status = np.full((len(index), len(ids)), np.nan)
    percent = np.full((len(index), len(ids)), np.nan)
    col = {cid: j for j, cid in enumerate(ids)}
    for d, health in days.items():
        if health is None:
            continue
        offset = int((dt.datetime.combine(d, dt.time(), tzinfo=UTC) - bounds.start).total_seconds() // 60)
        lo, hi = max(offset, 0), min(offset + MINUTES_PER_DAY, len(index))
        if lo >= hi:
            continue  # a UTC day outside the month
        for i, cid in enumerate(health.check_ids):
            j = col.get(cid)
            if j is not None:
                status[lo:hi, j] = health.status[i][lo - offset:hi - offset]
                percent[lo:hi, j] = health.percent_healthy[i][lo - offset:hi - offset]
    return pd.DataFrame(status, index=index, columns=ids), pd.DataFrame(percent, index=index, columns=ids)


@dataclass
class MonthCounts:
    """Minute counts per UTC day (rows) and endpoint (columns); composite per day and per minute."""

    up: np.ndarray  # (days, E) raw state minutes outside maintenance
    down: np.ndarray
    no_data: np.ndarray
    excluded: np.ndarray  # (days,) maintenance minutes per day (the same for every endpoint)
    counted_up: np.ndarray  # (days, E) after the no-data policy
    counted_down: np.ndarray
    composite_up: np.ndarray  # (days,)
    composite_down: np.ndarray
    composite_no_data: np.ndarray
    composite_counted_up: np.ndarray
    composite_counted_down: np.ndarray
    composite_down_minutes: np.ndarray  # (minutes,) bool, counted down (for the budget and timeline)
    excluded_up: np.ndarray = field(default_factory=lambda: np.zeros(0))  # (E,) state inside maintenance
    excluded_down: np.ndarray = field(default_factory=lambda: np.zeros(0))
    excluded_no_data: np.ndarray = field(default_factory=lambda: np.zeros(0))


def _per_day(mask: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Sums of `mask` over each day [edges[i], edges[i+1]) along the minute axis (days x ...).

    One sum per day over a view: a month-sized integer copy of the mask (reduceat's cast) would
    double the measurement's peak memory."""
    return np.stack([mask[lo:hi].sum(axis=0, dtype=np.int64) for lo, hi in pairwise(edges)])


def measure(status: np.ndarray, excluded: np.ndarray, critical: np.ndarray, *, no_data_policy: str,
            composite_rule: str, day_edges: Sequence[int] | None = None) -> MonthCounts:
    """The vectorised core: one pass per state over the (minutes x endpoints) float64 array.

    `excluded` is a (minutes,) bool mask of maintenance; `critical` an (E,) bool mask.
    `day_edges`: each day's first minute and the end (`MonthBounds.day_edges()`: a DST day is 23
    or 25 hours); default whole 1440-minute days. Values must be 1.0, 0.0 or NaN (HealthDataError
    otherwise).
    """
    minutes, n = status.shape
    if day_edges is None:
        if minutes % MINUTES_PER_DAY:
            raise HealthDataError(f"status has {minutes} minutes: not whole days")
        day_edges = range(0, minutes + 1, MINUTES_PER_DAY)
    edges = np.asarray(day_edges, dtype=np.int64)
    if edges[0] != 0 or edges[-1] != minutes or (np.diff(edges) <= 0).any():
        raise HealthDataError(f"day edges must rise from 0 to the {minutes} minutes of the status, got "
                              f"{edges[:3].tolist()}...{edges[-2:].tolist()}")
    days = len(edges) - 1
    day_minutes = np.diff(edges)
    if no_data_policy not in ("exclude", "down", "up"):
        raise ValueError(f"no_data_policy must be exclude, down or up, got {no_data_policy!r}")
    if composite_rule not in ("any", "all"):
        raise ValueError(f"composite_rule must be any or all, got {composite_rule!r}")
    down = status == 0.0
    up = status == 1.0
    no_data = np.isnan(status)
    up_d, down_d, nd_d = _per_day(up, edges), _per_day(down, edges), _per_day(no_data, edges)
    per_day_total = up_d + down_d + nd_d
    if (per_day_total != day_minutes[:, None]).any():
        bad = status[~(up | down | no_data)]
        raise HealthDataError(f"status values must be 1.0 (up), 0.0 (down) or NaN (no data); found "
                              f"{np.unique(bad)[:5].tolist()}")

    ex_rows = np.flatnonzero(excluded)
    ex_day = np.searchsorted(edges, ex_rows, side="right") - 1
    excluded_per_day = np.bincount(ex_day, minlength=days).astype(np.int64)
    ex_up_d = np.zeros_like(up_d)
    ex_down_d = np.zeros_like(down_d)
    ex_nd_d = np.zeros_like(nd_d)
    if ex_rows.size:
        # Only the excluded rows are gathered (hours, not the month).
        np.add.at(ex_up_d, ex_day, up[ex_rows])
        np.add.at(ex_down_d, ex_day, down[ex_rows])
        np.add.at(ex_nd_d, ex_day, no_data[ex_rows])
    up_d, down_d, nd_d = up_d - ex_up_d, down_d - ex_down_d, nd_d - ex_nd_d
    counted_up, counted_down = up_d.copy(), down_d.copy()
    if no_data_policy == "down":
        counted_down += nd_d
    elif no_data_policy == "up":
        counted_up += nd_d

    crit = np.flatnonzero(critical)
    if crit.size == 0:
        crit = np.arange(n)  # no endpoint marked critical: the composite is over all of them
    whole = crit.size == n

    def cols(mask: np.ndarray) -> np.ndarray:
        return mask if whole else mask[:, crit]

    c_down_raw = cols(down)
    c_up_raw = cols(up)
    c_nd_raw = cols(no_data)
    if no_data_policy == "down":
        eff_down, eff_up, eff_nd = c_down_raw | c_nd_raw, c_up_raw, None
    elif no_data_policy == "up":
        eff_down, eff_up, eff_nd = c_down_raw, c_up_raw | c_nd_raw, None
    else:
        eff_down, eff_up, eff_nd = c_down_raw, c_up_raw, c_nd_raw
    if composite_rule == "any":
        comp_down = eff_down.any(axis=1)
        comp_nd = (~comp_down & eff_nd.any(axis=1)) if eff_nd is not None else np.zeros(minutes, bool)
    else:
        comp_up_any = eff_up.any(axis=1)
        comp_down = ~comp_up_any & eff_down.all(axis=1)
        comp_nd = ~comp_up_any & ~comp_down
    comp_up = ~comp_down & ~comp_nd
    keep = ~excluded
    comp_down_counted = comp_down & keep

    def day_sum(vec: np.ndarray) -> np.ndarray:
        return _per_day(vec, edges)

    # Raw composite states (before the policy) for the report's state table.
    if composite_rule == "any":
        raw_down = c_down_raw.any(axis=1)
        raw_nd = ~raw_down & c_nd_raw.any(axis=1)
    else:
        raw_up_any = c_up_raw.any(axis=1)
        raw_down = ~raw_up_any & c_down_raw.all(axis=1)
        raw_nd = ~raw_up_any & ~raw_down
    raw_up = ~raw_down & ~raw_nd
    return MonthCounts(
        up=up_d, down=down_d, no_data=nd_d, excluded=excluded_per_day,
        counted_up=counted_up, counted_down=counted_down,
        composite_up=day_sum(raw_up & keep), composite_down=day_sum(raw_down & keep),
        composite_no_data=day_sum(raw_nd & keep),
        composite_counted_up=day_sum(comp_up & keep), composite_counted_down=day_sum(comp_down_counted),
        composite_down_minutes=comp_down_counted,
        excluded_up=ex_up_d.sum(axis=0), excluded_down=ex_down_d.sum(axis=0), excluded_no_data=ex_nd_d.sum(axis=0),
    )


def excluded_mask(index_start: dt.datetime, minutes: int, rulings: Sequence[WindowRuling]) -> np.ndarray:
    """(minutes,) bool: minute t is excluded when a qualifying part covers its start instant."""
    mask = np.zeros(minutes, dtype=bool)
    for ruling in rulings:
        for lo, hi in ruling.excluded_parts:
            # ceil to the minute: [lo, hi) covers minute starts ceil(lo) .. ceil(hi) - 1
            first = -(-int((lo - index_start).total_seconds()) // 60)
            last = -(-int((hi - index_start).total_seconds()) // 60)
            first, last = max(first, 0), min(last, minutes)
            if first < last:
                mask[first:last] = True
    return mask


# --------------------------------------------------------------------------- figures


def percent(numerator: int, denominator: int) -> Decimal | None:
    """numerator/denominator in %, rounded down to 4 places (never overstated); None when 0/0."""
    if denominator == 0:
        return None
    return (Decimal(numerator) * 100 / Decimal(denominator)).quantize(PERCENT_PLACES, rounding=ROUND_DOWN)


def meets(up: int, down: int, target: Decimal) -> bool | None:
    """Exact comparison up/(up+down) >= target% (no rounding can flip it)."""
    if up + down == 0:
        return None
    return Decimal(up) * 100 >= target * Decimal(up + down)


def _fig(value: Any, unit: str) -> dict[str, Any]:
    return {"value": value, "unit": unit}


def _runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """[start, end) index pairs of the True runs of a 1-D bool array."""
    if not mask.any():
        return []
    padded = np.concatenate(([False], mask, [False])).astype(np.int8)
    edges = np.flatnonzero(np.diff(padded))
    return list(zip(edges[0::2].tolist(), edges[1::2].tolist(), strict=True))


def build_availability_report(status, windows: Sequence[MaintenanceWindow], plan: Any, *, month: Month,
                              endpoints: Sequence[Endpoint] | None = None, percent_healthy=None,
                              day_sources: Sequence[DaySource] = (), estate_name: str = "") -> tuple[dict, list[Finding]]:
    """The month's availability report (a dict, DESIGN.md §4) and its findings.

    `status`: DataFrame indexed by every minute of `plan.month_bounds(month)` (UTC instants), one float64 column
    per endpoint id, values 1.0 / 0.0 / NaN. `windows`: every window record touching the month
    (cancelled ones too: they are listed). `plan`: the validated plan (availability terms,
    timezone, severities). `endpoints`: names and critical flags for the columns (default: each
    column critical, named by its id). `day_sources`: where each day came from (data-gap list).
    The order of `windows` does not matter.
    """
    terms = plan.availability
    tz = plan.timezone
    bounds = plan.month_bounds(month)
    index = status.index
    expected = minute_index(bounds)
    if len(index) != len(expected) or not (index == expected).all():
        raise HealthDataError(f"status index must be every minute of {bounds.describe()}, as UTC instants "
                              f"from {expected[0]}; got {len(index)} rows"
                              + (f" from {index[0]}" if len(index) else ""))
    columns = [str(c) for c in status.columns]
    if len(set(columns)) != len(columns):
        raise HealthDataError(f"status columns must be unique endpoint ids, got {columns}")
    if endpoints is None:
        endpoints = [Endpoint(c, c, True) for c in columns]
    by_id = {e.id: e for e in endpoints}
    unknown = [c for c in columns if c not in by_id]
    if unknown:
        raise HealthDataError(f"status columns {unknown} are not among the endpoints {sorted(by_id)}")
    eps = [by_id[c] for c in columns]
    values = status.to_numpy(dtype=np.float64, copy=False)
    minutes = values.shape[0]
    month_start = bounds.start

    windows = sorted(windows, key=lambda w: (w.start, w.end, w.id))
    ids = [w.id for w in windows]
    if len(set(ids)) != len(ids):
        raise HealthDataError(f"window ids must be unique, repeated {sorted({i for i in ids if ids.count(i) > 1})}")
    rulings = [rule_window(w, terms.maintenance, tz) for w in windows
               if w.end > month_start and w.start < bounds.end]
    excl = excluded_mask(month_start, minutes, rulings)
    critical = np.array([e.critical for e in eps], dtype=bool)
    counts = measure(values, excl, critical, no_data_policy=terms.no_data_policy,
                     composite_rule=terms.composite_rule, day_edges=bounds.day_edges())
    target = Decimal(terms.target_percent)
    days = month.days
    excluded_total = int(counts.excluded.sum())
    counted_minutes = minutes - excluded_total

    # ----- per endpoint
    endpoint_rows, findings, warnings = [], [], []
    completeness_floor = Decimal(terms.completeness_warning_percent)
    for j, ep in enumerate(eps):
        up, down = int(counts.counted_up[:, j].sum()), int(counts.counted_down[:, j].sum())
        raw_up, raw_down, nd = int(counts.up[:, j].sum()), int(counts.down[:, j].sum()), int(counts.no_data[:, j].sum())
        completeness = percent(raw_up + raw_down, counted_minutes)
        partial = None
        if (percent_healthy is not None and ep.id in percent_healthy.columns
                and ENDPOINT_METRICS[ep.kind][2] is not None):
            pct = percent_healthy[ep.id].to_numpy(dtype=np.float64, copy=False)
            partial = int(np.count_nonzero((pct < 100.0) & (values[:, j] == 1.0) & ~excl))
        endpoint_rows.append({
            "endpoint": ep.name, "health_check_id": ep.id, "kind": ep.kind, "critical": ep.critical,
            "up_minutes": raw_up, "down_minutes": raw_down, "maintenance_minutes": excluded_total,
            "no_data_minutes": nd, "partial_outage_minutes": partial,
            "availability_percent": percent(up, up + down), "data_completeness_percent": completeness,
            "meets_target": meets(up, down, target),
        })
        if completeness is not None and completeness < completeness_floor:
            warnings.append(f"{ep.name}: data completeness {completeness} % is below "
                            f"{completeness_floor} % ({nd} minutes without data)")
            findings.append(Finding.of(plan, "availability_data_incomplete", ep.name,
                                       f"{ep.name} has data for {completeness} % of {month}'s counted minutes "
                                       f"(< {completeness_floor} %)", str(month), health_check_id=ep.id,
                                       no_data_minutes=nd))

    # ----- composite
    c_up, c_down = int(counts.composite_counted_up.sum()), int(counts.composite_counted_down.sum())
    c_raw_up, c_raw_down = int(counts.composite_up.sum()), int(counts.composite_down.sum())
    c_nd = int(counts.composite_no_data.sum())
    composite = percent(c_up, c_up + c_down)
    composite_met = meets(c_up, c_down, target)
    composite_completeness = percent(c_raw_up + c_raw_down, counted_minutes)

    # ----- error budget
    allowed = ((Decimal(100) - target) / Decimal(100) * Decimal(counted_minutes)).quantize(Decimal("0.01"))
    used = c_down
    remaining = allowed - used
    cumulative = np.cumsum(counts.composite_down_minutes, dtype=np.int64)
    over = np.flatnonzero(cumulative > allowed) if used > allowed else np.array([], dtype=np.int64)
    exhausted_at = month_start + dt.timedelta(minutes=int(over[0])) if over.size else None
    daily_used = np.cumsum(counts.composite_counted_down)
    budget_rows = [{"day": d, "down_minutes": int(counts.composite_counted_down[i]),
                    "used_minutes": int(daily_used[i]), "remaining_minutes": allowed - int(daily_used[i])}
                   for i, d in enumerate(days)]

    # ----- lists behind the figures
    window_rows = []
    for ruling in rulings:
        row = ruling.as_dict()
        row["minutes_in_month"] = _window_minutes(ruling.window, month_start, minutes)
        row["excluded_minutes"] = int(np.count_nonzero(excluded_mask(month_start, minutes, [ruling])))
        row["counted_minutes"] = row["minutes_in_month"] - row["excluded_minutes"]
        window_rows.append(row)
    downtime_rows = []
    for j, ep in enumerate(eps):
        col_down = values[:, j] == 0.0
        for lo, hi in _runs(col_down):
            inside = int(np.count_nonzero(excl[lo:hi]))
            downtime_rows.append({"endpoint": ep.name, "start": month_start + dt.timedelta(minutes=lo),
                                  "end": month_start + dt.timedelta(minutes=hi), "minutes": hi - lo,
                                  "in_maintenance_minutes": inside, "counted_minutes": hi - lo - inside})
    for lo, hi in _runs(counts.composite_down_minutes):
        downtime_rows.append({"endpoint": "composite", "start": month_start + dt.timedelta(minutes=lo),
                              "end": month_start + dt.timedelta(minutes=hi), "minutes": hi - lo,
                              "in_maintenance_minutes": 0, "counted_minutes": hi - lo})
    daily_rows = []
    for i, d in enumerate(days):
        row: dict[str, Any] = {"day": d}
        for j, ep in enumerate(eps):
            row[ep.name] = percent(int(counts.counted_up[i, j]), int(counts.counted_up[i, j] + counts.counted_down[i, j]))
        row["composite"] = percent(int(counts.composite_counted_up[i]),
                                   int(counts.composite_counted_up[i] + counts.composite_counted_down[i]))
        daily_rows.append(row)
    sources = sorted(day_sources, key=lambda s: s.day)
    gap_rows = [s.as_dict() for s in sources if s.source != "collected" or (s.resolution_seconds or 60) != 60]

    # ----- findings and warnings
    if composite is None:
        warnings.append(f"no counted minute of {month} has data: availability cannot be computed "
                        f"(it is not 0 % and not 100 %)")
    if composite_completeness is not None and composite_completeness < completeness_floor:
        warnings.append(f"composite data completeness {composite_completeness} % is below {completeness_floor} %")
    if composite_met is False:
        findings.append(Finding.of(
            plan, "availability_below_target", "composite",
            f"{month} availability {composite} % is below the {target} % target "
            f"({used} down minutes, budget {allowed} minutes)", str(month),
            availability_percent=str(composite), target_percent=str(target), down_minutes=used,
            error_budget_minutes=str(allowed)))
    coarse = [s for s in sources if (s.resolution_seconds or 0) > 60]
    if coarse:
        warnings.append(f"{len(coarse)} day(s) measured at coarser than 1-minute resolution (CloudWatch no longer "
                        f"had 1-minute data): a bucket whose Minimum is 0 counts all its minutes as down")
    missing = [s for s in sources if s.source == "missing"]
    if missing:
        warnings.append(f"{len(missing)} day(s) have no data at all: {', '.join(str(s.day) for s in missing)}")
    for ruling in rulings:
        if ruling.window.status == "scheduled" and ruling.qualifies != "yes":
            warnings.append(f"maintenance window {ruling.window.id} {'only partly qualifies' if ruling.qualifies == 'partly' else 'does not qualify'}: "
                            f"{'; '.join(ruling.reasons)}")
    findings = sort_findings(findings)

    status_text = {True: "met", False: "below target", None: "no data"}[composite_met]
    report = {
        "kind": "availability",
        "title": f"Availability {month}" + (f" — {estate_name}" if estate_name else ""),
        "period": bounds.as_dict(),
        "plan_version": plan.plan.version,
        "headline": {
            "composite_availability": _fig(composite, "%"),
            "target": _fig(target, "%"),
            "status": _fig(status_text, ""),
            "error_budget_remaining": _fig(remaining, "minutes"),
        },
        "inputs": {
            "endpoints": len(eps), "critical_endpoints": int(critical.sum()),
            "month_minutes": minutes, "status_samples": int(values.size),
            "samples_with_data": int(values.size - counts.no_data.sum() - counts.excluded_no_data.sum()),
            "days": len(days), "days_collected": sum(1 for s in sources if s.source == "collected"),
            "days_backfilled": sum(1 for s in sources if s.source == "backfilled"),
            "days_missing": len(missing), "windows_recorded": len(rulings),
            "windows_qualifying": sum(1 for r in rulings if r.qualifies != "no"),
        },
        "figures": {
            "composite_rule": _fig(terms.composite_rule, ""),
            "no_data_policy": _fig(terms.no_data_policy, ""),
            "composite_up_minutes": _fig(c_raw_up, "minutes"),
            "composite_down_minutes": _fig(c_raw_down, "minutes"),
            "composite_no_data_minutes": _fig(c_nd, "minutes"),
            "maintenance_excluded_minutes": _fig(excluded_total, "minutes"),
            "counted_up_minutes": _fig(c_up, "minutes"),
            "counted_down_minutes": _fig(c_down, "minutes"),
            "composite_data_completeness": _fig(composite_completeness, "%"),
            "error_budget_allowed": _fig(allowed, "minutes"),
            "error_budget_used": _fig(used, "minutes"),
            "error_budget_remaining": _fig(remaining, "minutes"),
            "error_budget_exhausted_at": _fig(exhausted_at, "UTC"),
            "error_budget_exhausted_on": _fig(exhausted_at.date() if exhausted_at else None, "UTC date"),
        },
        "items": {
            "endpoints": endpoint_rows,
            "maintenance_windows": window_rows,
            "data_gap_days": gap_rows,
            "downtime": downtime_rows,
            "daily_availability": daily_rows,
            "error_budget_by_day": budget_rows,
        },
        "findings": [f.as_dict() for f in findings],
        "warnings": warnings,
    }
    return report, findings


def _window_minutes(window: MaintenanceWindow, month_start: dt.datetime, minutes: int) -> int:
    first = -(-int((window.start - month_start).total_seconds()) // 60)
    last = -(-int((window.end - month_start).total_seconds()) // 60)
    return max(0, min(last, minutes) - max(first, 0))


# --------------------------------------------------------------------------- error budget, month to date


def budget_forecast(report: Mapping[str, Any], plan: Any, as_of: dt.datetime) -> tuple[dict[str, Any], list[Finding]]:
    """How the month's error budget stands at `as_of`, and whether it will last (issue #18 §3).

    `report` is :func:`build_availability_report` run on the month so far (minutes after `as_of`
    are no data): its budget (allowed over the whole contract month, less announced maintenance),
    what is used and the composite downtime list are the figures, never recomputed another way.
    Burn rate is the share of the allowed rate being spent (1.0 spends exactly the budget by the
    month's end); the projection extends the last 7 days' rate (or the month so far, when shorter).
    Findings (once per month each, by dedup key): half spent before mid-month (P2), projected to
    run out before the month ends (P2), exhausted (P1).
    """
    period = report["period"]
    month = str(period["month"])
    start, end = period["start"], period["end"]
    if as_of.tzinfo is None or not start < as_of <= end:
        raise ValueError(f"as_of must be an aware instant inside {month} ({start} .. {end}], got {as_of}")
    figures = report["figures"]
    allowed = Decimal(figures["error_budget_allowed"]["value"])
    used = int(figures["error_budget_used"]["value"])
    remaining = allowed - used
    month_minutes = int(period["minutes"])
    elapsed = int((as_of - start).total_seconds() // 60)
    composite = [(d["start"], d["end"]) for d in report["items"]["downtime"] if d["endpoint"] == "composite"]
    allowed_per_minute = allowed / month_minutes if month_minutes else Decimal(0)

    def window(days: int) -> dict[str, Any]:
        lo = max(start, as_of - dt.timedelta(days=days))
        minutes = int((as_of - lo).total_seconds() // 60)
        down = sum(max(0, int((min(e, as_of) - max(s, lo)).total_seconds() // 60)) for s, e in composite)
        rate = (Decimal(down) / minutes / allowed_per_minute).quantize(Decimal("0.01")) \
            if minutes and allowed_per_minute else None
        return {"days": days, "from": lo, "minutes": minutes, "down_minutes": down, "burn_rate": rate}

    last_day, last_week = window(1), window(7)
    exhausted_at = figures["error_budget_exhausted_at"]["value"]
    projected_at = None
    if exhausted_at is None and last_week["down_minutes"] and last_week["minutes"]:
        per_minute = Decimal(last_week["down_minutes"]) / last_week["minutes"]
        projected_at = as_of + dt.timedelta(minutes=int(remaining / per_minute))
    tz = ZoneInfo(period["timezone"])
    forecast = {
        "kind": "error_budget",
        "month": month,
        "as_of": as_of,
        "period": dict(period),
        "elapsed_minutes": elapsed,
        "allowed_minutes": allowed,
        "used_minutes": used,
        "remaining_minutes": remaining,
        "used_percent": (Decimal(used) * 100 / allowed).quantize(Decimal("0.01")) if allowed else None,
        "last_1_day": last_day,
        "last_7_days": last_week,
        "exhausted_at": exhausted_at,
        "projected_exhaustion_at": projected_at if projected_at is not None and projected_at < end else None,
        "projected_exhaustion_day": (projected_at.astimezone(tz).date()
                                     if projected_at is not None and projected_at < end else None),
        "lasts_the_month": exhausted_at is None and (projected_at is None or projected_at >= end),
    }
    findings = []
    budget = f"{month} error budget"
    if exhausted_at is not None:
        findings.append(Finding.of(plan, "error_budget_exhausted", "composite",
                                   f"{budget} ran out at {exhausted_at:%Y-%m-%d %H:%M} UTC ({used} of {allowed} minutes "
                                   f"used)", month, used_minutes=used, allowed_minutes=str(allowed)))
    elif forecast["projected_exhaustion_at"] is not None:
        findings.append(Finding.of(plan, "error_budget_projected_exhaustion", "composite",
                                   f"{budget} runs out on {forecast['projected_exhaustion_day']} at the last 7 days' "
                                   f"rate ({used} of {allowed} minutes used, burn rate {last_week['burn_rate']})",
                                   month, projected_exhaustion_at=forecast["projected_exhaustion_at"]))
    if used * 2 >= allowed and elapsed * 2 < month_minutes:
        findings.append(Finding.of(plan, "error_budget_half_spent", "composite",
                                   f"{budget}: {used} of {allowed} minutes used before mid-month", month,
                                   used_minutes=used, allowed_minutes=str(allowed)))
    forecast["findings"] = [f.as_dict() for f in sort_findings(findings)]
    return forecast, sort_findings(findings)
