"""availability_report: the monthly 99.9 % availability report (plan §1.1)."""

from __future__ import annotations

import datetime as dt

from airflow.sdk import DAG, CronTriggerTimetable
from estate_ops.dag_defaults import (
    ET,
    default_args,
    month_close_asset,
    month_param,
    tags,
)
from estate_ops.operators.availability import AvailabilityReportOperator

with DAG(
    dag_id="availability_report",
    doc_md="""
### Availability: the monthly report (plan §1.1: 99.9 % per month, excluding announced maintenance)

Runs on the 2nd at 06:00 ET for the previous contract month (plan.yaml `contract_month_timezone`,
ET by default), or for the `month` param: an ET month's last hours lie in the UTC day of the 1st,
which `availability_collect` stores at 01:00 UTC on the 2nd. Reads the `health/date=*/health.parquet`
of every UTC day the month straddles (a day collection missed, or an unreadable
file, is fetched now at the finest resolution CloudWatch still serves and listed with it) and
every `maintenance/windows/*.json`. Each minute of each endpoint is up, down, maintenance
(only the part of a window inside 02:00-06:00 ET, announced >= 48 h ahead, not cancelled) or
no data (policy in `plan.yaml`). Writes `availability/YYYY-MM/report.{json,html,pdf}` with
charts (daily availability, downtime timeline with maintenance shaded, error-budget
burn-down), posts a Slack summary once, and pages a month below target as a P1
`availability_below_target` finding, once. To recompute a disputed month by hand, see the
docstring of `estate_ops.domain.availability`.
""",
    schedule=CronTriggerTimetable("0 6 2 * *", timezone=ET),  # after the 1st's UTC day is collected
    start_date=dt.datetime(2026, 10, 1, tzinfo=dt.UTC),
    catchup=False,
    max_active_runs=1,
    default_args=default_args(failure_severity="P1"),
    tags=tags("availability"),
    params={
        "month": month_param("The month to report on, e.g. 2026-10; empty = the calendar month before the "
                             "run. It must have ended, and so must the UTC day of its last minute."),
    },
) as dag:
    AvailabilityReportOperator(task_id="availability_report",
                               outlets=[month_close_asset("estate_ops_availability_month")])
