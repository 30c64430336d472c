"""The monthly availability report (plan §1.1): read the month's health days and windows, measure,
publish `availability/YYYY-MM/report.{json,html,pdf}` with charts, route findings, post a summary.

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


def load_month_days(store: Any, estate: Any, month: Any, now: dt.datetime, log: Any) -> tuple[dict, list]:
    """The month's HealthDays (backfilling what is missing or unreadable) and where each came from."""
    from estate_ops.domain.availability import (
        DaySource,
        HealthDataError,
        health_parquet_bytes,
        read_health_parquet,
    )
    from estate_ops.hooks.cloudwatch import CloudWatchMetricsHook
    from estate_ops.operators.cloudwatch import HEALTH_KEY, collect_health_day

    days: dict = {}
    sources: list = []
    cloudwatch = None
    for day in month.days:
        key = HEALTH_KEY.format(day=day.isoformat())
        problem = "collection missed this day"
        health = None
        if store.exists(key):
            try:
                health = read_health_parquet(store.get_bytes(key), day, where=f"s3://{store.bucket}/{key}")
            except HealthDataError as exc:
                problem = f"stored file unreadable: {exc}"
                log.warning("%s: refetching", problem)
        if health is None:
            cloudwatch = cloudwatch or CloudWatchMetricsHook(aws_conn_id=estate.aws.conn_id)
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
    headline, figures, inputs = report["headline"], report["figures"], report["inputs"]
    value = headline["composite_availability"]["value"]
    lines = [
        (f"*{report['title']}*: composite {value if value is not None else 'n/a'} % "
        f"(target {headline['target']['value']} %) — {headline['status']['value']}"),
        (f"Error budget: used {figures['error_budget_used']['value']} of {figures['error_budget_allowed']['value']} "
        f"min, remaining {figures['error_budget_remaining']['value']} min"),
        (f"Maintenance excluded: {figures['maintenance_excluded_minutes']['value']} min "
        f"({inputs['windows_qualifying']} of {inputs['windows_recorded']} window(s) qualifying)"),
    ]
    for row in report["items"]["endpoints"]:
        lines.append(f"• {row['endpoint']}: {row['availability_percent']} % "
                     f"(data {row['data_completeness_percent']} %)")
    gaps = report["items"]["data_gap_days"]
    if gaps:
        lines.append(f"Data-gap days: {len(gaps)} (listed in the report)")
    lines += [f":warning: {w}" for w in report["warnings"][:5]]
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
        from estate_ops.domain.periods import report_month
        from estate_ops.hooks.artifacts import ArtifactStore
        from estate_ops.hooks.connections import require_connection
        from estate_ops.operators import run_as_of
        from estate_ops.reports.publish import write_run_manifest

        plan, estate = load_config()
        now = dt.datetime.now(dt.UTC)
        month = report_month(run_as_of(context), (context.get("params") or {}).get("month"), now=now)
        require_connection(estate.aws.conn_id, "aws.conn_id")
        store = ArtifactStore.for_estate(estate)
        windows = load_windows(store)  # before anything is written: a bad record stops the run
        days, sources = load_month_days(store, estate, month, now, self.log)
        endpoints = [Endpoint(h.id, h.name, h.critical) for h in estate.health_checks]
        status, percent = status_frame(month, endpoints, days)
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
