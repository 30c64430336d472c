"""maintenance_announce: record, announce or cancel a planned maintenance window (manual, with a form)."""

from __future__ import annotations

import datetime as dt

from airflow.sdk import DAG, Param
from estate_ops.dag_defaults import default_args, tags
from estate_ops.operators.maintenance import MaintenanceWindowOperator

with DAG(
    dag_id="maintenance_announce",
    doc_md="""
### Planned maintenance: announce or cancel (plan §1.1: 2-6 AM ET, 48 h notice)

Trigger it with the form. **announce** records `maintenance/windows/<id>.json` with
`announced_at` = this run's time, creates a PagerDuty maintenance window on the estate's
services (alerts held), and posts the notice to Slack with the window id. A window outside
02:00-06:00 ET on its local date, or less than 48 h ahead, is refused with each broken rule
and by how much — unless *record anyway* is ticked: then it is recorded and the notice says it
does not qualify (it will count against availability). **cancel** (with the window id) marks
the record cancelled (kept for audit), deletes the PagerDuty window and tells Slack. Retrying a
run changes nothing twice.
""",
    schedule=None,
    start_date=dt.datetime(2026, 1, 1, tzinfo=dt.UTC),
    catchup=False,
    max_active_runs=1,
    default_args=default_args(failure_severity="P3"),
    tags=tags("availability", "maintenance"),
    params={
        "action": Param("announce", type="string", enum=["announce", "cancel"], title="Action",
                        description="announce a new window, or cancel one by its id"),
        "date": Param(None, type=["null", "string"], title="Date (ET)",
                      description="Local date of the window in America/New_York, YYYY-MM-DD (announce)"),
        "start": Param("02:00", type="string", title="Start (ET)",
                       description="Local start time HH:MM in America/New_York; the plan allows 02:00-06:00"),
        "duration_minutes": Param(240, type="integer", minimum=1, title="Duration (minutes)",
                                  description="Length of the window; 240 = the whole 02:00-06:00 slot"),
        "reason": Param("", type="string", title="Reason", description="What the maintenance is for"),
        "announced_by": Param("", type="string", title="Announced by (email)",
                              description="Your email as a PagerDuty user: it creates the PagerDuty window"),
        "record_anyway": Param(False, type="boolean", title="Record anyway",
                               description="Record a window that cannot qualify (it then counts against "
                                           "availability); the Slack notice says so"),
        "window_id": Param(None, type=["null", "string"], title="Window id (cancel)",
                           description="The id of the window to cancel, as in its announcement"),
    },
) as dag:
    MaintenanceWindowOperator(task_id="maintenance_window")
