"""availability_collect: one UTC day of Route 53 health-check and ALB target-group metrics from CloudWatch, daily."""

from __future__ import annotations

import datetime as dt

from airflow.sdk import DAG, Asset, Param
from estate_ops.dag_defaults import default_args, tags
from estate_ops.operators.availability import (
    CollectHealthMetricsOperator,
    ErrorBudgetWatchOperator,
)

# The monthly report and anything downstream can follow this: one event per collected day,
# with {"date": ..., "key": ...} in its extra.
HEALTH_DAILY = Asset(name="estate_ops_health_daily")  # a URI scheme would load every provider (boto3) at parse

with DAG(
    dag_id="availability_collect",
    doc_md="""
### Availability: daily health collection (plan §1.1)

Reads every availability endpoint in `estate.yaml` `health_checks` from CloudWatch for the
previous UTC day (or the `date` param): a Route 53 health check's `HealthCheckStatus` (Minimum)
and `HealthCheckPercentageHealthy` (Average) in us-east-1, an ALB target group's
`HealthyHostCount` (Minimum; no healthy host is down) in the estate's region, per minute, both
kinds in as few GetMetricData calls as AWS allows per region (<= 500 queries and 100,800 points
per call, NextToken followed). Writes
`health/date=YYYY-MM-DD/health.parquet`: one row per minute per endpoint, a minute without data a
row with null status. CloudWatch keeps 1-minute data 15 days: an older day is collected at the
finest period still allowed (300 s, then 3600 s) and the rows say so. Rerunning a day rewrites
the same bytes. A health check neither CloudWatch nor Route 53 knows, or a target group CloudWatch has
no HealthyHostCount for, fails the run, naming it,
before anything is written. Catch-up is on: a paused week is collected when unpaused.

Then `error_budget_watch`: the contract month's error budget to date (the monthly report's own
function on the days stored so far), the burn rate over the last 1 and 7 days (1.0 spends the
budget exactly by the month's end) and the day it runs out at the last 7 days' rate. Writes
`availability/YYYY-MM/budget/YYYY-MM-DD.json`; half spent before mid-month (P2), projected to run
out before the month ends (P2) and exhausted (P1) are each sent once a month.
""",
    schedule="0 1 * * *",  # 01:00 UTC: the previous UTC day is complete in CloudWatch by then
    start_date=dt.datetime(2026, 10, 1, tzinfo=dt.UTC),
    catchup=True,
    max_active_runs=3,
    default_args=default_args(failure_severity="P2"),
    tags=tags("availability"),
    params={
        "date": Param(None, type=["null", "string"], title="Day (UTC)",
                      description="YYYY-MM-DD to collect; empty = the day before the run. Older than 15 days "
                                  "is collected at 5-minute resolution, older than 63 days at 1 hour."),
    },
) as dag:
    collect = CollectHealthMetricsOperator(task_id="collect_health_metrics", asset=HEALTH_DAILY,
                                           outlets=[HEALTH_DAILY])
    collect >> ErrorBudgetWatchOperator(task_id="error_budget_watch")
