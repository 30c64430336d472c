"""key_metrics_report: the weekly digest and the monthly key-metrics report (plan §2.2-2.3)."""

from __future__ import annotations

import datetime as dt

from airflow.sdk import DAG, MultipleCronTriggerTimetable, Param
from estate_ops.dag_defaults import ET, default_args, tags
from estate_ops.operators.metrics import KeyMetricsReportOperator

# An ISO week (2026-W44) or a month (2026-10); empty = what the schedule would report.
PERIOD_PATTERN = r"^(\d{4}-W(0[1-9]|[1-4]\d|5[0-3])|\d{4}-(0[1-9]|1[0-2]))?$"

with DAG(
    dag_id="key_metrics_report",
    doc_md="""
### Key metrics (plan §2.2-2.3): latency, error rate, DB connections, cache hit rate, active users, errors

Mondays at 06:00 ET for the previous ISO week (Monday 00:00 to Monday 00:00 in the contract's
zone), and on the 1st at 06:00 ET for the previous contract month (both on a Monday the 1st):
the task of the other kind is skipped. A manual run takes a `period` param (`2026-W44` or
`2026-10`; a period that has not ended is refused), or without one reports the last ended week
and month.

From CloudWatch: ALB `TargetResponseTime` p50/p95/p99 per load balancer and target group,
computed by CloudWatch for the whole period (one datapoint) and per day, never averaged; the
5XX error rate (target + ELB 5XX over requests, summed, with the minutes that had no requests);
`DatabaseConnections` peak and p95 against estate.yaml `max_connections`; the ElastiCache hit
rate. From Sentry (`sentry_default`): event totals by outcome and category, new unresolved
issues with links. From Mixpanel (`mixpanel_default`): the saved DAU/WAU/MAU reports. Each
figure beside the previous period's and its plan.yaml threshold (met / breached / no data).

Writes `metrics/<period>/report.{json,html,pdf}` with charts; breaches are findings routed by
severity (once per period); one Slack summary per period. A resource CloudWatch does not know
is a `metric_source_missing` finding naming it; a Sentry token without a scope or a Mixpanel
report id that does not exist fails the run naming it, and nothing is written.
""",
    schedule=MultipleCronTriggerTimetable("0 6 * * 1", "0 6 1 * *", timezone=ET),
    start_date=dt.datetime(2026, 10, 1, tzinfo=dt.UTC),
    catchup=False,
    max_active_runs=1,
    default_args=default_args(failure_severity="P3"),
    tags=tags("metrics"),
    params={
        "period": Param(None, type=["null", "string"], pattern=PERIOD_PATTERN, title="Period (YYYY-Www or YYYY-MM)",
                        description="An ISO week like 2026-W44 or a month like 2026-10 that has ended; empty = "
                                    "the last ended week and month (a scheduled run: the week on Mondays, the "
                                    "month on the 1st)."),
    },
) as dag:
    KeyMetricsReportOperator(task_id="weekly_digest", kind="week")
    KeyMetricsReportOperator(task_id="monthly_report", kind="month")
