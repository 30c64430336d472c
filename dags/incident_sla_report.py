"""incident_sla_report: response and resolution per severity, post-mortems, on-call (plan §1.2, §3)."""

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
from estate_ops.operators.incidents import IncidentSlaReportOperator

with DAG(
    dag_id="incident_sla_report",
    doc_md="""
### Incident response SLA (plan §1.2, §3.1, §3.2), monthly

On the 1st at 06:00 ET, for the previous calendar month (UTC), or for the `month` param of a
manual run. From PagerDuty (connection `pagerduty_default`):

- **incidents** of the services in `include/estate.yaml` created in the month; severity only
  through `pagerduty.priority_map` (a missing or unmapped priority is listed, never guessed);
- **time to respond** = created → first acknowledgement, from the log entries of the period read
  in bulk (`GET /log_entries`, 100 a page, never one request per incident); an incident resolved
  without an acknowledgement responds when it resolves; **time to resolve** = created → resolved;
  P3 resolves by the next release (`pagerduty.releases`);
- per severity: count, median and p95 of both, met / breached / pending, compliance %, and every
  breach with a link to the incident; incidents still open at the month's end are listed;
- **post-mortems** for P0/P1 (plan.yaml `postmortem`): a note matching
  `pagerduty.postmortem_note_pattern` or an object under `postmortems/<incident_id>/` in the
  reports bucket, on time within 48 h of the resolve;
- **on-call**: primary and secondary schedules rendered for the month (100 % coverage, every gap
  listed), the primary rotating weekly; escalation policy levels primary → secondary → Tech Lead
  → PM → Sponsor.

Writes `incidents/YYYY-MM/report.{json,html,pdf}` with response/resolution charts. Breaches,
missing or late post-mortems, coverage gaps, a wrong rotation and escalation mismatches are P2
findings (Slack, once each); one Slack summary per month. The report is as of the run's logical
time, so a rerun writes the same bytes. A revoked token (401) or an unknown service, schedule or
policy id fails the run with a message naming it, and nothing is written.
""",
    schedule=CronTriggerTimetable("0 6 1 * *", timezone=ET),
    start_date=dt.datetime(2026, 1, 1, tzinfo=dt.UTC),
    catchup=False,
    max_active_runs=1,
    default_args=default_args(failure_severity="P2"),
    tags=tags("incidents"),
    params={
        "month": month_param("YYYY-MM to report; empty = the calendar month before the run"),
    },
) as dag:
    IncidentSlaReportOperator(task_id="report_incident_sla", pool="pagerduty_api",
                              outlets=[month_close_asset("estate_ops_incidents_month")])
