"""status_page_sync: every open P0/P1 incident gets a status-page update a person approved (plan §3.2)."""

from __future__ import annotations

import datetime as dt

from airflow.sdk import DAG
from estate_ops.dag_defaults import default_args, tags
from estate_ops.operators.statuspage import (
    PlanStatusPageSyncOperator,
    StatusPageApprovalOperator,
)

with DAG(
    dag_id="status_page_sync",
    doc_md="""
### Status page sync (plan §3.2 "communicate: update status page"), every 5 minutes

1. **plan_sync** reads one PagerDuty page of open incidents (triggered, acknowledged) of the
   estate's services and one Statuspage page of unresolved incidents. For each P0/P1 incident
   (`plan.yaml` `communication.required_for`) with no linked status-page incident and never asked
   about, it drafts one from `include/templates/statuspage.txt.j2` on the components `estate.yaml`
   `statuspage.components` maps its service to (never the PagerDuty title). For each status-page
   incident estate-ops published whose PagerDuty incident has resolved, it drafts the "resolved"
   update. Nothing new: it ends here and writes nothing.
2. **ask_to_publish** (one mapped task per draft) asks in **Required Actions** (Approve / Reject),
   announced once in Slack with the link. Approve publishes it with the PagerDuty id and URL in
   its metadata (so `incident_sla_report` links it by explicit reference); Reject is recorded and
   never asked again; no answer within the severity's response time is a P1 finding
   `status_page_not_updated`, paged once. Records: `statuspage/decisions/<incident>/<stage>.json`.

`max_active_runs=1`: while a request waits (at most the severity's response time: 15 min for P0,
60 for P1) the next runs queue behind it. Not in `make demo`'s waiting list: the sandbox has no
open P0/P1 incident, so the demo's run finds nothing new.
""",
    schedule=dt.timedelta(minutes=5),
    start_date=dt.datetime(2026, 1, 1, tzinfo=dt.UTC),
    catchup=False,
    max_active_runs=1,
    dagrun_timeout=dt.timedelta(hours=2),
    # A failing sync is P2 (Slack): the monthly incident report still judges every incident's
    # communication, and a P1 page every 5 minutes would drown the on-call engineer.
    default_args=default_args(failure_severity="P2"),
    tags=tags("statuspage", "incidents"),
) as dag:
    drafts = PlanStatusPageSyncOperator(task_id="plan_sync")
    StatusPageApprovalOperator.partial(task_id="ask_to_publish").expand(draft=drafts.output)
