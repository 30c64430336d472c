"""CloudWatch: collect one UTC day of Route 53 health-check metrics into the reports bucket.

`CollectHealthMetricsOperator` writes `health/date=YYYY-MM-DD/health.parquet`: one row per minute
per health check (status from `HealthCheckStatus` Minimum, `HealthCheckPercentageHealthy`
Average), a minute without a datapoint being a row with null status. The period is the finest
CloudWatch still serves for that day (60 s up to 15 days old, 300 s up to 63, 3600 s up to
455) and is recorded per row. Rerunning a day rewrites the same bytes (nothing, in fact: the
store skips identical bytes).

`collect_health_day` is shared with the monthly report, which backfills days collection missed.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from airflow.sdk import BaseOperator

from estate_ops.operators import run_as_of

HEALTH_KEY = "health/date={day}/health.parquet"


class UnknownHealthCheckError(RuntimeError):
    pass


def health_queries(check_ids: list[str], day: dt.date, period: int) -> list:
    from estate_ops.domain.availability import NAMESPACE, PERCENT_METRIC, STATUS_METRIC
    from estate_ops.hooks.cloudwatch import MetricQuery

    start = dt.datetime.combine(day, dt.time(), tzinfo=dt.UTC)
    end = start + dt.timedelta(days=1)
    return [MetricQuery(f"q{i}_{m}", NAMESPACE, metric, {"HealthCheckId": cid}, stat, period, start, end)
            for i, cid in enumerate(check_ids)
            for m, (metric, stat) in enumerate((STATUS_METRIC, PERCENT_METRIC))]


def check_health_checks_known(estate: Any, cloudwatch: Any, route53: Any) -> None:
    """Fail, naming the estate.yaml entry, when neither CloudWatch nor Route 53 knows a health check.

    A check Route 53 knows but CloudWatch has no metrics for yet is collected as no data (a
    reported gap), not an error.
    """
    from estate_ops.domain.availability import NAMESPACE, STATUS_METRIC

    known = cloudwatch.metric_dimension_values(NAMESPACE, STATUS_METRIC[0], "HealthCheckId")
    unknown = []
    for i, check in enumerate(estate.health_checks):
        if check.id not in known and route53.health_check(check.id) is None:
            unknown.append(f"estate.yaml health_checks[{i}] ({check.name}, id {check.id})")
    if unknown:
        raise UnknownHealthCheckError(
            "CloudWatch has no AWS/Route53 HealthCheckStatus metric in us-east-1 and Route 53 does not know "
            f"the health check for: {'; '.join(unknown)}. Fix the id in estate.yaml; nothing was written.")


def collect_health_day(estate: Any, day: dt.date, now: dt.datetime, *, source: str = "collected",
                       reason: str = "", cloudwatch: Any = None):
    """(HealthDay, GetMetricData calls) for `day`, or (None, 0) when CloudWatch no longer has it."""
    from estate_ops.domain.availability import (
        finest_period,
        health_day_from_series,
    )
    from estate_ops.hooks.cloudwatch import CloudWatchMetricsHook

    period = finest_period(dt.datetime.combine(day, dt.time(), tzinfo=dt.UTC), now)
    if period is None:
        return None, 0
    hook = cloudwatch or CloudWatchMetricsHook(aws_conn_id=estate.aws.conn_id)
    ids = [h.id for h in estate.health_checks]
    queries = health_queries(ids, day, period)
    before = hook.calls
    results = hook.get_metric_data(queries)
    series = {}
    for q in queries:
        series[(q.dimensions["HealthCheckId"], q.metric)] = results[q.id]
    health = health_day_from_series(day, ids, series, period, source=source, reason=reason)
    return health, hook.calls - before


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
        from estate_ops.hooks.cloudwatch import CloudWatchMetricsHook
        from estate_ops.hooks.connections import require_connection
        from estate_ops.hooks.route53 import HealthChecksHook
        from estate_ops.reports.publish import write_run_manifest

        _plan, estate = load_config()
        now = dt.datetime.now(dt.UTC)
        day = report_day(run_as_of(context), (context.get("params") or {}).get("date"), now=now)
        require_connection(estate.aws.conn_id, "aws.conn_id")
        cloudwatch = CloudWatchMetricsHook(aws_conn_id=estate.aws.conn_id)
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
