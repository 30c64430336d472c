"""support_hours_watch: each client's support hours so far this month, against its tier (plan §5)."""

from __future__ import annotations

import datetime as dt

from airflow.sdk import DAG, CronTriggerTimetable, Param
from estate_ops.dag_defaults import ET, default_args, tags
from estate_ops.operators.invoicing import SupportHoursWatchOperator

with DAG(
    dag_id="support_hours_watch",
    doc_md="""
### Support hours: the month so far (plan §5, issue #18)

Daily, from the current contract month's timesheets so far: per client, the in-scope hours used
against the tier's included hours, drafted with the invoice's own rules (rounding, tier changes,
scope). When they reach a threshold of `plan.yaml: invoicing.hours_watch_percent` (default 50,
80 and 100 %) Slack hears it once that month, with the month-end hours and overage cost projected
at the pace of the working days gone by. Bad rows are left out of the figures and counted in the
message. Writes `invoices/YYYY-MM/hours-watch/YYYY-MM-DD.json`. A rerun posts nothing again.
""",
    schedule=CronTriggerTimetable("0 7 * * *", timezone=ET),
    start_date=dt.datetime(2026, 10, 1, tzinfo=dt.UTC),
    catchup=False,
    max_active_runs=1,
    default_args=default_args(failure_severity="P3"),
    tags=tags("invoicing"),
    params={
        "date": Param(None, type=["null", "string"], title="Through day (contract zone)",
                      description="YYYY-MM-DD: the hours of that day's month up to its end; empty = so far."),
    },
) as dag:
    SupportHoursWatchOperator(task_id="support_hours_watch")
