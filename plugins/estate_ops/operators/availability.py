"""Availability (plan §1.1): the daily collection of health data and the monthly report.

`CollectHealthMetricsOperator` writes `health/date=YYYY-MM-DD/health.parquet`: one row per minute
per endpoint (a Route 53 health check's status from `HealthCheckStatus` Minimum and
`HealthCheckPercentageHealthy` Average; an ALB target group's from `HealthyHostCount` Minimum, 0
healthy hosts being down), a minute without a datapoint being a row with null status. The period is the finest
CloudWatch still serves for that day (60 s up to 15 days old, 300 s up to 63, 3600 s up to
455) and is recorded per row. Rerunning a day rewrites the same bytes (nothing, in fact: the
store skips identical bytes).

`AvailabilityReportOperator` reads the month's health days and windows, measures, publishes
`availability/YYYY-MM/report.{json,html,pdf}` with charts, routes findings, posts a summary.

A day the daily collection missed (or whose parquet is unreadable) is fetched now at the finest
resolution CloudWatch still serves, written to `health/date=.../health.parquet` marked
"backfilled", and listed in the report with its resolution; a day CloudWatch no longer has is a
reported gap (no data), never a guessed value. All the arithmetic is
`estate_ops.domain.availability.build_availability_report`.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from airflow.sdk import BaseOperator

from estate_ops.links import ReportPublisher
from estate_ops.operators import run_as_of

# --------------------------------------------------------------------------- daily collection

HEALTH_KEY = "health/date={day}/health.parquet"


class UnknownHealthCheckError(RuntimeError):
    pass


def metrics_region(estate: Any, check: Any) -> str:
    """Where CloudWatch keeps an endpoint's metrics: Route 53's in us-east-1, an ALB's in the estate's region."""
    from estate_ops.domain.availability import ROUTE53
    from estate_ops.operators.monitoring import ROUTE53_METRICS_REGION

    return ROUTE53_METRICS_REGION if check.kind == ROUTE53 else estate.aws.region


def endpoint_queries(checks: list, day: dt.date, period: int) -> list[tuple[Any, Any]]:
    """(endpoint, GetMetricData query) for the day, for the endpoints (estate.yaml health_checks): a
    Route 53 health check's status and percent healthy, an ALB target group's HealthyHostCount Minimum."""
    from estate_ops.domain.availability import ENDPOINT_METRICS, ROUTE53
    from estate_ops.hooks.cloudwatch import MetricQuery

    start = dt.datetime.combine(day, dt.time(), tzinfo=dt.UTC)
    end = start + dt.timedelta(days=1)
    pairs = []
    for i, check in enumerate(checks):
        namespace, status_metric, percent_metric = ENDPOINT_METRICS[check.kind]
        dims = ({"HealthCheckId": check.id} if check.kind == ROUTE53
                else {"LoadBalancer": check.load_balancer, "TargetGroup": check.target_group})
        metrics = (status_metric,) if percent_metric is None else (status_metric, percent_metric)
        pairs += [(check, MetricQuery(f"q{i}_{m}", namespace, metric, dims, stat, period, start, end))
                  for m, (metric, stat) in enumerate(metrics)]
    return pairs


def health_queries(checks: list, day: dt.date, period: int) -> list:
    """The day's GetMetricData queries for the endpoints, as `endpoint_queries` makes them."""
    return [q for _check, q in endpoint_queries(checks, day, period)]


class RegionalCloudWatch:
    """One CloudWatchMetricsHook per region, made when first asked for (`hooks` may hold some
    already); `calls` is their GetMetricData requests together."""

    def __init__(self, conn_id: str, hooks: dict[str, Any] | None = None) -> None:
        self.conn_id = conn_id
        self.hooks: dict[str, Any] = dict(hooks or {})

    def __getitem__(self, region: str) -> Any:
        if region not in self.hooks:
            from estate_ops.hooks.cloudwatch import CloudWatchMetricsHook

            self.hooks[region] = CloudWatchMetricsHook(aws_conn_id=self.conn_id, region_name=region)
        return self.hooks[region]

    @property
    def calls(self) -> int:
        return sum(h.calls for h in self.hooks.values())


def check_health_checks_known(estate: Any, cloudwatch: Any, route53: Any) -> None:
    """Fail, naming the estate.yaml entry, when an endpoint is unknown: a Route 53 health check neither
    CloudWatch nor Route 53 knows, an ALB target group CloudWatch has no HealthyHostCount for (an ALB
    reports it every minute a target group is attached, so none in two weeks is a wrong name).

    `cloudwatch` is a RegionalCloudWatch. A check Route 53 knows but CloudWatch has no metrics for
    yet is collected as no data (a reported gap), not an error.
    """
    from estate_ops.domain.availability import (
        ALB_NAMESPACE,
        ALB_STATUS_METRIC,
        NAMESPACE,
        ROUTE53,
        STATUS_METRIC,
    )

    known_checks: set[str] | None = None
    known_targets: dict[str, set[tuple[str, ...]]] = {}
    unknown = []
    for i, check in enumerate(estate.health_checks):
        region = metrics_region(estate, check)
        if check.kind == ROUTE53:
            if known_checks is None:
                known_checks = cloudwatch[region].metric_dimension_values(NAMESPACE, STATUS_METRIC[0], "HealthCheckId")
            if check.id not in known_checks and route53.health_check(check.id) is None:
                unknown.append(f"estate.yaml health_checks[{i}] ({check.name}, id {check.id}): CloudWatch has no "
                               f"{NAMESPACE} {STATUS_METRIC[0]} metric in {region} and Route 53 does not know it")
            continue
        if region not in known_targets:
            known_targets[region] = cloudwatch[region].metric_dimension_tuples(
                ALB_NAMESPACE, ALB_STATUS_METRIC[0], ("LoadBalancer", "TargetGroup"))
        if (check.load_balancer, check.target_group) not in known_targets[region]:
            unknown.append(f"estate.yaml health_checks[{i}] ({check.name}, load_balancer {check.load_balancer}, "
                           f"target_group {check.target_group}): CloudWatch has no {ALB_NAMESPACE} "
                           f"{ALB_STATUS_METRIC[0]} metric for this pair in {region}")
    if unknown:
        raise UnknownHealthCheckError(f"unknown availability endpoint(s): {'; '.join(unknown)}. Fix estate.yaml; "
                                      f"nothing was written.")


def collect_health_day(estate: Any, day: dt.date, now: dt.datetime, *, source: str = "collected",
                       reason: str = "", cloudwatch: Any = None):
    """(HealthDay, GetMetricData calls) for `day`, or (None, 0) when CloudWatch no longer has it.

    Every endpoint's queries go through one `get_metric_data` per region (both kinds together when
    the estate is in us-east-1), so they share requests up to AWS's limits. `cloudwatch` is a
    RegionalCloudWatch (one is made when None).
    """
    from estate_ops.domain.availability import (
        finest_period,
        health_day_from_series,
    )

    period = finest_period(dt.datetime.combine(day, dt.time(), tzinfo=dt.UTC), now)
    if period is None:
        return None, 0
    regional = cloudwatch or RegionalCloudWatch(estate.aws.conn_id)
    checks = list(estate.health_checks)
    pairs = endpoint_queries(checks, day, period)
    by_region: dict[str, list] = {}
    for check, q in pairs:
        by_region.setdefault(metrics_region(estate, check), []).append(q)
    before = regional.calls
    results: dict = {}
    for region, region_queries in sorted(by_region.items()):
        results.update(regional[region].get_metric_data(region_queries))
    series = {(check.id, q.metric): results[q.id] for check, q in pairs}
    health = health_day_from_series(day, [h.id for h in checks], series, period, source=source, reason=reason,
                                    kinds={h.id: h.kind for h in checks})
    return health, regional.calls - before


class CollectHealthMetricsOperator(BaseOperator):
    """Collect the previous UTC day (or the `date` param) of health-check metrics."""

    def __init__(self, *, asset: Any = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.asset = asset

    def execute(self, context: Any) -> dict[str, Any]:
        from estate_ops.config import load_config
        from estate_ops.domain.availability import health_parquet_bytes
        from estate_ops.domain.periods import report_day
        from estate_ops.hooks.artifacts import ArtifactStore
        from estate_ops.hooks.connections import require_connection
        from estate_ops.hooks.route53 import HealthChecksHook
        from estate_ops.reports.publish import write_run_manifest

        _plan, estate = load_config()
        now = dt.datetime.now(dt.UTC)
        day = report_day(run_as_of(context), (context.get("params") or {}).get("date"), now=now)
        require_connection(estate.aws.conn_id, "aws.conn_id")
        cloudwatch = RegionalCloudWatch(estate.aws.conn_id)
        check_health_checks_known(estate, cloudwatch, HealthChecksHook(aws_conn_id=estate.aws.conn_id))
        health, calls = collect_health_day(estate, day, now, cloudwatch=cloudwatch)
        if health is None:
            raise RuntimeError(f"{day} is older than CloudWatch keeps data (455 days): nothing to collect")
        key = HEALTH_KEY.format(day=day.isoformat())
        store = ArtifactStore.for_estate(estate)
        written = store.put_bytes(key, health_parquet_bytes(health))
        resolution = int(health.resolution_seconds.max())
        with_data = health.minutes_with_data
        total = len(health.check_ids) * 1440
        self.log.info("%s: %s (%d GetMetricData call(s), %d s resolution, %d/%d minutes with data)",
                      key, "written" if written else "unchanged", calls, resolution, with_data, total)
        headline = {"resolution_seconds": {"value": resolution, "unit": "s"},
                    "minutes_with_data": {"value": with_data, "unit": "check-minutes"},
                    "minutes_expected": {"value": total, "unit": "check-minutes"}}
        write_run_manifest(store, self.dag_id, day.isoformat(), [key], headline)
        if self.asset is not None and "outlet_events" in context:
            context["outlet_events"][self.asset].extra = {"date": day.isoformat(), "key": key}
        return {"day": day.isoformat(), "key": key, "calls": calls, "resolution_seconds": resolution,
                "minutes_with_data": with_data, "written": written}


class ErrorBudgetWatchOperator(BaseOperator):
    """After a day is collected: the contract month's error budget to date, and whether it lasts.

    Reads only what is stored (a day collection missed is no data here; the monthly report
    backfills it), runs the monthly report's own function on the month so far, and writes
    `availability/YYYY-MM/budget/YYYY-MM-DD.json`; findings once per threshold per month."""

    def execute(self, context: Any) -> dict[str, Any]:
        from estate_ops.alerting import SeverityRouter
        from estate_ops.config import load_config
        from estate_ops.domain.availability import (
            Endpoint,
            budget_forecast,
            build_availability_report,
            status_frame,
        )
        from estate_ops.domain.periods import Month, report_day
        from estate_ops.hooks.artifacts import ArtifactStore

        plan, estate = load_config()
        now = dt.datetime.now(dt.UTC)
        day = report_day(run_as_of(context), (context.get("params") or {}).get("date"), now=now)
        as_of = dt.datetime.combine(day + dt.timedelta(days=1), dt.time(), tzinfo=dt.UTC)
        tz = plan.contract_month_timezone
        month = Month.of((as_of - dt.timedelta(minutes=1)).astimezone(tz).date())
        bounds = plan.month_bounds(month)
        store = ArtifactStore.for_estate(estate)
        days, _ = load_month_days(store, estate, [d for d in bounds.utc_days() if d <= day], now, self.log,
                                  backfill=False)
        endpoints = [Endpoint(h.id, h.name, h.critical, h.kind) for h in estate.health_checks]
        status, percent = status_frame(bounds, endpoints, days)
        report, _ = build_availability_report(status, load_windows(store), plan, month=month, endpoints=endpoints,
                                              percent_healthy=percent, estate_name=estate.estate.name)
        forecast, findings = budget_forecast(report, plan, min(as_of, bounds.end))
        key = f"availability/{month}/budget/{day.isoformat()}.json"
        written = store.put_json(key, forecast)
        routed = SeverityRouter(plan, estate, store).route(findings, source=self.dag_id)
        self.log.info("%s: %s of %s budget minutes used, burn rate %s (7 days); %s", month,
                      forecast["used_minutes"], forecast["allowed_minutes"], forecast["last_7_days"]["burn_rate"],
                      ", ".join(f.kind for f in findings) or "no finding")
        return {"month": str(month), "key": key, "written": written, "routed": routed,
                "lasts_the_month": forecast["lasts_the_month"]}


# --------------------------------------------------------------------------- monthly report


WINDOWS_PREFIX = "maintenance/windows/"


def load_windows(store: Any) -> list:
    """Every window record; a malformed one fails the report, naming its key (never skipped silently)."""
    import json

    from estate_ops.domain.maintenance import MaintenanceWindow, WindowError

    windows = []
    for key in store.list_keys(WINDOWS_PREFIX):
        if not key.endswith(".json"):
            continue
        where = f"s3://{store.bucket}/{key}"
        try:
            record = json.loads(store.get_bytes(key))
        except ValueError as exc:
            raise WindowError(f"{where}: not valid JSON ({exc})") from None
        windows.append(MaintenanceWindow.from_record(record, where))
    return windows


def load_month_days(store: Any, estate: Any, utc_days: list[dt.date], now: dt.datetime, log: Any, *,
                    backfill: bool = True) -> tuple[dict, list]:
    """The HealthDays of the UTC days a month covers (backfilling what is missing or unreadable,
    unless `backfill` is off: then such a day is no data) and where each came from."""
    from estate_ops.domain.availability import (
        DaySource,
        HealthDataError,
        health_parquet_bytes,
        read_health_parquet,
    )

    days: dict = {}
    sources: list = []
    cloudwatch = None
    for day in utc_days:
        key = HEALTH_KEY.format(day=day.isoformat())
        problem = "collection missed this day"
        health = None
        if store.exists(key):
            try:
                health = read_health_parquet(store.get_bytes(key), day, where=f"s3://{store.bucket}/{key}")
            except HealthDataError as exc:
                problem = f"stored file unreadable: {exc}"
                log.warning("%s: %s", problem, "refetching" if backfill else "no data until the monthly report refetches it")
        if health is None and not backfill:
            sources.append(DaySource(day, "missing", None, problem))
            continue
        if health is None:
            cloudwatch = cloudwatch or RegionalCloudWatch(estate.aws.conn_id)
            health, calls = collect_health_day(estate, day, now, source="backfilled", reason=problem,
                                               cloudwatch=cloudwatch)
            if health is None:
                sources.append(DaySource(day, "missing", None,
                                         f"{problem}; CloudWatch no longer keeps data this old: no data"))
                continue
            store.put_bytes(key, health_parquet_bytes(health))
            log.info("%s: %s; fetched now at %d s in %d call(s)", day, problem,
                     int(health.resolution_seconds.max()), calls)
        days[day] = health
        sources.append(day_source(health))
    return days, sources


def day_source(health: Any) -> Any:
    """How the report lists a day: its source, resolution, missing minutes and why it was late."""
    from estate_ops.domain.availability import DaySource

    resolution = int(health.resolution_seconds.max())
    missing = health.status.size - health.minutes_with_data
    note = f"{resolution} s"
    if health.source == "backfilled":
        note = f"backfilled at {note} ({health.reason or 'collection missed this day'})"
    if missing:
        note += f"; {missing} check-minutes without data"
    return DaySource(health.day, health.source, resolution, note)


def draw_charts(report: dict[str, Any]) -> dict[str, tuple[str, bytes]]:
    """The three charts, drawn from the report's own lists (a rendering computes nothing)."""
    import matplotlib.dates as mdates

    from estate_ops.reports.render import figure_png, new_figure

    items = report["items"]
    charts: dict[str, tuple[str, bytes]] = {}
    month_start = report["period"]["start"]
    month_end = report["period"]["end"]

    # 1. daily availability per endpoint
    fig = new_figure(10, 4)
    ax = fig.add_subplot()
    daily = items["daily_availability"]
    names = [row["endpoint"] for row in items["endpoints"]] + ["composite"]
    days = [row["day"] for row in daily]
    for name in names:
        values = [float(row[name]) if row.get(name) is not None else float("nan") for row in daily]
        ax.plot(days, values, marker="o", markersize=3, label=name, linewidth=2 if name == "composite" else 1)
    ax.axhline(float(report["headline"]["target"]["value"]), color="#b00020", linestyle="--", label="target")
    ax.set_ylabel("availability (%)")
    ax.set_title("Daily availability per endpoint (UTC days)")
    ax.legend(loc="lower left", fontsize=8)
    ax.xaxis.set_major_formatter(mdates.DateFormatter("%d"))
    charts["Daily availability per endpoint"] = ("daily_availability.png", figure_png(fig))

    # 2. downtime timeline, maintenance shaded
    fig = new_figure(10, 3.5)
    ax = fig.add_subplot()
    rows = names
    for window in items["maintenance_windows"]:
        color = "#9bd3a4" if window["qualifies"] != "no" else "#e6e6e6"
        ax.axvspan(window["start"], window["end"], color=color, alpha=0.7, linewidth=0)
    for y, name in enumerate(rows):
        spans = [(d["start"], d["end"] - d["start"]) for d in items["downtime"] if d["endpoint"] == name]
        if spans:
            ax.broken_barh(spans, (y - 0.35, 0.7), color="#b00020")
    ax.set_yticks(range(len(rows)), rows)
    ax.set_xlim(month_start, month_end)
    ax.set_title("Downtime (red); qualifying maintenance shaded green, non-qualifying grey")
    ax.xaxis.set_major_formatter(mdates.DateFormatter("%d"))
    charts["Downtime timeline"] = ("downtime_timeline.png", figure_png(fig))

    # 3. error-budget burn-down
    fig = new_figure(10, 3.5)
    ax = fig.add_subplot()
    budget = items["error_budget_by_day"]
    ax.step([row["day"] for row in budget], [float(row["remaining_minutes"]) for row in budget], where="post",
            label="remaining")
    ax.axhline(0, color="#b00020", linewidth=1)
    ax.set_ylabel("minutes")
    ax.set_title(f"Error budget remaining (allowed {report['figures']['error_budget_allowed']['value']} min)")
    ax.xaxis.set_major_formatter(mdates.DateFormatter("%d"))
    charts["Error budget burn-down"] = ("error_budget.png", figure_png(fig))
    return charts


def summary_text(report: dict[str, Any], report_key: str) -> str:
    from estate_ops.domain.slacktext import slack_escape as e

    headline, figures, inputs = report["headline"], report["figures"], report["inputs"]
    value = headline["composite_availability"]["value"]
    lines = [
        (f"*{e(report['title'])}*: composite {value if value is not None else 'n/a'} % "
        f"(target {headline['target']['value']} %) — {headline['status']['value']}"),
        (f"Error budget: used {figures['error_budget_used']['value']} of {figures['error_budget_allowed']['value']} "
        f"min, remaining {figures['error_budget_remaining']['value']} min"),
        (f"Maintenance excluded: {figures['maintenance_excluded_minutes']['value']} min "
        f"({inputs['windows_qualifying']} of {inputs['windows_recorded']} window(s) qualifying)"),
    ]
    for row in report["items"]["endpoints"]:
        lines.append(f"• {e(row['endpoint'])}: {row['availability_percent']} % "
                     f"(data {row['data_completeness_percent']} %)")
    gaps = report["items"]["data_gap_days"]
    if gaps:
        lines.append(f"Data-gap days: {len(gaps)} (listed in the report)")
    lines += [f":warning: {e(w)}" for w in report["warnings"][:5]]
    lines.append(f"Report: {report_key}")
    return "\n".join(lines)


class AvailabilityReportOperator(ReportPublisher, BaseOperator):
    """The previous calendar month's availability report (or the `month` param's)."""

    def execute(self, context: Any) -> dict[str, Any]:
        from estate_ops.alerting import SeverityRouter
        from estate_ops.config import load_config
        from estate_ops.domain.availability import (
            Endpoint,
            build_availability_report,
            status_frame,
        )
        from estate_ops.domain.periods import PeriodError, report_month
        from estate_ops.hooks.artifacts import ArtifactStore
        from estate_ops.hooks.connections import require_connection
        from estate_ops.reports.publish import write_run_manifest

        plan, estate = load_config()
        now = dt.datetime.now(dt.UTC)
        month = report_month(run_as_of(context), (context.get("params") or {}).get("month"),
                             tz=plan.contract_month_timezone, now=now)
        bounds = plan.month_bounds(month)
        if bounds.settled_at > now:
            # The month's last minutes are in a UTC day that has not ended: it cannot be collected yet.
            raise PeriodError(f"{bounds.describe()}: its last minutes are in UTC day {bounds.utc_days()[-1]}, "
                              f"complete at {bounds.settled_at:%Y-%m-%d %H:%M} UTC; run after that")
        require_connection(estate.aws.conn_id, "aws.conn_id")
        store = ArtifactStore.for_estate(estate)
        windows = load_windows(store)  # before anything is written: a bad record stops the run
        days, sources = load_month_days(store, estate, bounds.utc_days(), now, self.log)
        endpoints = [Endpoint(h.id, h.name, h.critical, h.kind) for h in estate.health_checks]
        status, percent = status_frame(bounds, endpoints, days)
        report, findings = build_availability_report(status, windows, plan, month=month, endpoints=endpoints,
                                                     percent_healthy=percent, day_sources=sources,
                                                     estate_name=estate.estate.name)
        prefix = f"availability/{month}"
        keys = self.publish_report(context, store, prefix, report, charts=draw_charts(report))
        router = SeverityRouter(plan, estate, store)
        routed = router.route(findings, source=self.dag_id)
        posted = router.post_slack_once(f"{self.dag_id}/{month}", summary_text(report, f"{prefix}/report.html"))
        write_run_manifest(store, self.dag_id, str(month), keys, report["headline"])
        self.log.info("%s: composite %s %% (%s); %d finding(s)", month,
                      report["headline"]["composite_availability"]["value"], report["headline"]["status"]["value"],
                      len(findings))
        return {"month": str(month), "artifacts": keys, "routed": routed, "slack_posted": posted,
                "composite_percent": str(report["headline"]["composite_availability"]["value"])}
