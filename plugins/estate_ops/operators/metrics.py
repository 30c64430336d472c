"""Key metrics operator (plan §2.2-2.3, issue 15): the weekly digest and the monthly report.

`KeyMetricsReportOperator(kind="week"|"month")` reads, for its period (`domain.metrics.report_period`)
and the period before it:

- CloudWatch (`hooks/cloudwatch.py` `key_metric_queries`, packed at AWS's limits): ALB
  `TargetResponseTime` p50/p95/p99 per load balancer and target group for the whole period (one
  datapoint: never averaged from days) and per day, the 5XX error rate from summed counts,
  `DatabaseConnections` max and p95 per instance against estate.yaml `max_connections`, ElastiCache
  hit rate, and each custom KPI's statistic (estate.yaml `monitoring.custom_kpis`). Which load
  balancers, target groups, databases, caches and KPI metrics (namespace, name, exact dimension
  set) CloudWatch knows is asked first (ListMetrics): one estate.yaml names that CloudWatch has no
  metric for is a `metric_source_missing` finding naming it, and its figures are no data.
- Sentry (`stats_v2` totals by outcome and category, unresolved issues seen in the period; the new
  ones listed with links) and Mixpanel (the saved DAU/WAU/MAU reports, one query each per run),
  when estate.yaml `monitoring` names them. A token without a scope, or a report id that does not
  exist, fails the task with the hook's error naming it, before anything is written.

The domain judges each figure beside the previous period's and its threshold (met / breached /
no data); this writes `metrics/<period>/report.{json,html,pdf}` with charts, routes breaches once
(SeverityRouter's ledger) and posts one Slack summary per period.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any, Literal

from airflow.sdk import BaseOperator

from estate_ops.links import ReportPublisher
from estate_ops.operators import run_as_of

# What ListMetrics is asked to prove each configured resource exists (namespace, metric, dimension).
SOURCES = {
    "load balancer": ("AWS/ApplicationELB", "RequestCount", "LoadBalancer"),
    "target group": ("AWS/ApplicationELB", "RequestCount", "TargetGroup"),
    "database": ("AWS/RDS", "DatabaseConnections", "DBInstanceIdentifier"),
    "cache": ("AWS/ElastiCache", "CacheHits", "CacheClusterId"),
}


class KeyMetricsReportOperator(ReportPublisher, BaseOperator):
    """Report one week or month of key metrics (skipped when the run has no such period to report).

    :param kind: "week" (the previous ISO week, on Mondays) or "month" (the previous month, on the 1st).
    :param period: `2026-W44` or `2026-10`; None/"" = the DAG run's `period` param, else the schedule's.
    """

    template_fields = ("period",)

    def __init__(self, *, kind: Literal["week", "month"], period: str | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if kind not in ("week", "month"):
            raise ValueError(f"kind must be 'week' or 'month', got {kind!r}")
        self.kind = kind
        self.period = period

    def execute(self, context: Any) -> dict[str, Any] | None:
        from airflow.sdk.exceptions import AirflowSkipException

        from estate_ops.alerting import SeverityRouter
        from estate_ops.config import load_config
        from estate_ops.domain.metrics import (
            build_metrics_report,
            report_period,
            slack_summary,
        )
        from estate_ops.hooks.artifacts import ArtifactStore
        from estate_ops.reports.publish import write_run_manifest

        plan, estate = load_config()
        now = dt.datetime.now(dt.UTC)
        param = self.period if self.period not in (None, "", "None") else (context.get("params") or {}).get("period")
        dag_run = context.get("dag_run")
        scheduled = str(getattr(dag_run, "run_type", "")).lower().endswith("scheduled")
        period = report_period(self.kind, min(run_as_of(context), now), param, tz=plan.contract_month_timezone,
                               now=now, scheduled=scheduled)
        if period is None:
            raise AirflowSkipException(f"no {self.kind} to report in this run (period param {param!r})")
        self.log.info("key metrics for %s: %s to %s UTC", period.label, period.start.isoformat(), period.end.isoformat())

        terms = plan.monitoring.key_metrics
        resolution = terms.count_resolution_seconds
        mon = estate.monitoring
        lbs = [(lb.load_balancer, list(lb.target_groups)) for lb in mon.load_balancers]
        dbs = [(d.id, d.max_connections) for d in estate.databases]
        caches = list(mon.caches)
        kpis = list(mon.custom_kpis)

        # Everything is read before anything is written: a failing source leaves no half report.
        cw = _cloudwatch(estate)
        missing = _missing_sources(cw, lbs, [d for d, _ in dbs], caches, kpis)
        current = _read_cloudwatch(cw, lbs, dbs, caches, kpis, period, resolution)
        previous = _read_cloudwatch(cw, lbs, dbs, caches, kpis, period.previous(), resolution)
        sentry, sentry_calls = _read_sentry(mon.sentry, period)
        users, mixpanel_calls = _read_mixpanel(mon.mixpanel)

        inputs = {"load_balancers": len(lbs), "target_groups": sum(len(t) for _, t in lbs), "databases": len(dbs),
                  "caches": len(caches), "custom_kpis": len(kpis), "cloudwatch_queries": current["queries"] + previous["queries"],
                  "getmetricdata_calls": cw.calls, "sentry_calls": sentry_calls, "mixpanel_queries": mixpanel_calls}
        if sentry is not None:
            inputs["sentry_issues_read"] = len(sentry["issues"])
        report, findings = build_metrics_report(
            plan=plan, period=period, figures=current["figures"], previous=previous["figures"],
            daily=current["daily"], missing=missing, sentry=sentry, users=users, estate_name=estate.estate.name,
            inputs=inputs, resolution=resolution, kpis=kpis)

        store = ArtifactStore.for_estate(estate)
        prefix = f"metrics/{period.label}"
        keys = self.publish_report(context, store, prefix, report, charts=_charts(report))
        router = SeverityRouter(plan, estate, store)
        routed = router.route(findings, source=self.dag_id)
        url = store.object_url(f"{prefix}/report.html")
        router.post_slack_once(f"{self.dag_id}/{period.label}", slack_summary(report, url))
        write_run_manifest(store, self.dag_id, period.label, keys, report["headline"])
        self.log.info("GetMetricData calls: %d; Sentry calls: %d; Mixpanel queries: %d", cw.calls, sentry_calls,
                      mixpanel_calls)
        return {"period": period.label, "artifacts": keys, "findings": len(findings), "routed": routed}


def _cloudwatch(estate: Any) -> Any:
    from estate_ops.hooks.cloudwatch import CloudWatchMetricsHook

    return CloudWatchMetricsHook(estate.aws.conn_id, region_name=estate.aws.region)


def _missing_sources(cw: Any, lbs: list[tuple[str, list[str]]], dbs: list[str],
                     caches: list[str], kpis: Sequence[Any] = ()) -> list[tuple[str, str, str]]:
    """(kind, resource, what) for each configured resource CloudWatch has no metric for, and each
    custom KPI whose metric (namespace, name, exact dimension set) CloudWatch does not list."""
    wanted = {"load balancer": [lb for lb, _ in lbs], "target group": [tg for _, tgs in lbs for tg in tgs],
              "database": dbs, "cache": caches}
    missing = []
    for kind, names in wanted.items():
        if not names:
            continue
        namespace, metric, dimension = SOURCES[kind]
        known = cw.metric_dimension_values(namespace, metric, dimension)
        missing += [(kind, name, f"{namespace} {metric} ({dimension})") for name in names if name not in known]
    # One ListMetrics walk per (namespace, metric, dimension names), however many KPIs share it.
    listed: dict[tuple[str, str, tuple[str, ...]], set[tuple[str, ...]]] = {}
    for kpi in kpis:
        names = tuple(sorted(kpi.dimensions))
        key = (kpi.namespace, kpi.metric, names)
        if key not in listed:
            listed[key] = cw.metric_dimension_tuples(kpi.namespace, kpi.metric, names, exact=True)
        if tuple(kpi.dimensions[n] for n in names) not in listed[key]:
            dims = ", ".join(f"{n}={kpi.dimensions[n]}" for n in names) or "no dimensions"
            missing.append(("custom KPI", kpi.name, f"{kpi.namespace} {kpi.metric} ({dims})"))
    return missing


def _read_cloudwatch(cw: Any, lbs: list[tuple[str, list[str]]], dbs: list[tuple[str, int | None]],
                     caches: list[str], kpis: list[Any], period: Any, resolution: int) -> dict[str, Any]:
    from estate_ops.domain.metrics import (
        daily_rows,
        key_metric_figures,
        single_period_seconds,
    )
    from estate_ops.hooks.cloudwatch import key_metric_queries

    queries = key_metric_queries(lbs, [d for d, _ in dbs], caches, period.start, period.end,
                                 days=period.day_segments(), resolution=resolution,
                                 custom=[k.query() for k in kpis])
    results = cw.get_metric_data(queries)
    shape = {"load_balancers": lbs, "databases": dbs, "caches": caches, "resolution": resolution, "kpis": kpis}
    return {"queries": len(queries),
            "figures": key_metric_figures(results, period_seconds=single_period_seconds(period.start, period.end),
                                          **shape),
            "daily": daily_rows(results, period, **shape)}


def _read_sentry(settings: Any, period: Any) -> tuple[dict[str, Any] | None, int]:
    if settings is None:
        return None, 0
    from estate_ops.domain.metrics import sentry_totals
    from estate_ops.hooks.connections import require_connection
    from estate_ops.hooks.sentry import SentryHook

    require_connection(settings.conn_id, "monitoring.sentry.conn_id")
    sentry = SentryHook(settings.conn_id)
    previous = period.previous()
    totals = sentry_totals(sentry.stats_v2(settings.organization, period.start, period.end))
    previous_totals = sentry_totals(sentry.stats_v2(settings.organization, previous.start, previous.end))
    issues = list(sentry.issues(settings.organization, "is:unresolved", period.start, period.end))
    return {"totals": totals, "previous_totals": previous_totals, "issues": issues,
            "projects": list(settings.projects)}, sentry.calls


def _read_mixpanel(settings: Any) -> tuple[dict[str, Any] | None, int]:
    if settings is None:
        return None, 0
    from estate_ops.hooks.connections import require_connection
    from estate_ops.hooks.mixpanel import MixpanelError, MixpanelHook

    require_connection(settings.conn_id, "monitoring.mixpanel.conn_id")
    mixpanel = MixpanelHook(settings.conn_id, residency=settings.residency, project_id=settings.project_id)
    users = {}
    for name in ("dau", "wau", "mau"):
        bookmark = getattr(settings.reports, name)
        what = f"estate.yaml monitoring.mixpanel.reports.{name}"
        answer = mixpanel.insights(bookmark, what)
        series = answer.get("series") or {}
        if len(series) != 1:
            raise MixpanelError(f"Mixpanel report {bookmark} ({what}) has {len(series)} series; expected one "
                                "(unique users)")
        users[name] = next(iter(series.values()))
    return users, mixpanel.calls


# ------------------------------------------------------------------ charts

CHART_LATENCY = "Daily latency percentiles (p50 / p95 / p99)"
CHART_ERRORS = "Daily 5XX error rate"
CHART_CONNECTIONS = "Daily peak database connections against max_connections"
CHART_HIT_RATE = "Daily cache hit rate"
CHART_USERS = "Daily active users"
CHART_KPIS = "Custom KPIs, daily"


def _charts(report: dict[str, Any]) -> dict[str, tuple[str, bytes]]:
    """One PNG per chart the report has data for; each laid out from report.json alone."""
    from estate_ops.reports.render import figure_png, new_figure

    daily = report["items"]["daily"]
    thresholds = {r["metric"]: r["threshold"] for r in report["items"]["figures"]}
    label = report["period"]["label"]
    charts: dict[str, tuple[str, bytes]] = {}

    def series(metric: str) -> dict[str, list[tuple[Any, float]]]:
        out: dict[str, list[tuple[Any, float]]] = {}
        for r in daily:
            if r["metric"] == metric and r["value"] is not None:
                out.setdefault(r["resource"], []).append((r["day"], float(r["value"])))
        return out

    def line_chart(title: str, file_name: str, metrics: list[str], ylabel: str) -> None:
        found = {m: series(m) for m in metrics}
        if not any(found.values()):
            return
        fig = new_figure(10, 4.5)
        ax = fig.add_subplot(1, 1, 1)
        styles = {"latency_p50": ":", "latency_p95": "--", "latency_p99": "-"}
        for metric, per_resource in found.items():
            for resource, points in per_resource.items():
                ax.plot([p[0] for p in points], [p[1] for p in points], styles.get(metric, "-"), marker=".",
                        label=f"{resource} {metric.removeprefix('latency_')}"[:70])
            if metric in thresholds:
                ax.axhline(float(thresholds[metric]["limit"]), color="#c92a2a", linewidth=0.8, linestyle="dashed")
        ax.set_ylabel(ylabel)
        ax.set_title(f"{title} — {label} (dashes: threshold)")
        ax.legend(loc="best", fontsize=7)
        fig.autofmt_xdate()
        charts[title] = (file_name, figure_png(fig))

    line_chart(CHART_LATENCY, "latency.png", ["latency_p50", "latency_p95", "latency_p99"], "seconds")
    line_chart(CHART_ERRORS, "error_rate.png", ["error_rate"], "% of requests")
    line_chart(CHART_CONNECTIONS, "connections.png", ["db_connections"], "% of max_connections")
    line_chart(CHART_HIT_RATE, "hit_rate.png", ["cache_hit_rate"], "% of lookups")
    kpi_chart = _kpi_chart(report)
    if kpi_chart:
        charts[CHART_KPIS] = ("custom_kpis.png", kpi_chart)
    users = report["items"].get("active_users") or []
    if users:
        fig = new_figure(10, 4)
        ax = fig.add_subplot(1, 1, 1)
        ax.bar([dt.date.fromisoformat(str(u["day"])[:10]) for u in users], [u["users"] for u in users],
               color="#1971c2")
        ax.set_ylabel("users")
        ax.set_title(f"{CHART_USERS} (Mixpanel) — {label}")
        fig.autofmt_xdate()
        charts[CHART_USERS] = ("active_users.png", figure_png(fig))
    return charts


def _kpi_chart(report: dict[str, Any]) -> bytes | None:
    """Small multiples, one panel per custom KPI with data: its daily value and its threshold line
    (each KPI has its own unit and scale, so one axis would flatten all but the largest)."""
    from estate_ops.domain.metrics import CUSTOM_KPI
    from estate_ops.reports.render import figure_png, new_figure

    rows = {r["resource"]: r for r in report["items"]["figures"] if r["metric"] == CUSTOM_KPI}
    points: dict[str, list[tuple[Any, float]]] = {}
    for r in report["items"]["daily"]:
        if r["metric"] == CUSTOM_KPI and r["value"] is not None and r["resource"] in rows:
            points.setdefault(r["resource"], []).append((r["day"], float(r["value"])))
    if not points:
        return None
    columns = min(len(points), 2)
    lines = -(-len(points) // columns)
    fig = new_figure(10, 3.2 * lines)
    for n, (name, series) in enumerate(points.items(), 1):
        row = rows[name]
        ax = fig.add_subplot(lines, columns, n)
        ax.plot([p[0] for p in series], [p[1] for p in series], "-", marker=".", color="#1971c2")
        ax.axhline(float(row["threshold"]["limit"]), color="#c92a2a", linewidth=0.8, linestyle="dashed")
        stat = row["details"].get("statistic", "")
        ax.set_title(f"{name} ({stat}) — {row['status']}"[:70], fontsize=9)
        ax.set_ylabel(str(row["threshold"]["unit"]), fontsize=8)
        ax.tick_params(labelsize=7)
        for label in ax.get_xticklabels():
            label.set_rotation(30)
    fig.suptitle(f"{CHART_KPIS} — {report['period']['label']} (dashes: threshold)", fontsize=10)
    fig.tight_layout()
    return figure_png(fig)
