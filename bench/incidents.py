"""incidents.*: PagerDuty API calls of a month's incident SLA report, against the bulk minimum.

A sandbox whose reference month holds 5,000 incidents (SANDBOX_INCIDENTS_BULK, the incidents
scenario only) is read by `IncidentSlaReportOperator.execute` exactly as the DAG runs it. The
calls it made (counted by the hook, cross-checked with the stand-in's request counter) are set
against

    bulk minimum  = ceil(incidents / 100) + ceil(log entries / 100) + schedule and policy calls
    per incident  = ceil(incidents / 100) + one GET /incidents/{id}/log_entries per incident
                    + schedule and policy calls   (computed: each incident has < 100 entries)

Goal: the report's calls within 10 % of the bulk minimum. The measurement runs in a child
process with its own AIRFLOW_HOME, so nothing leaks into other benchmarks.

Statuspage (issue 17): the same report reads the status page newest first and stops a day before
the month; its requests (the stand-in's count) are set against the minimum pages,
ceil(status-page incidents it needs / 100) (goal <= 1.10x). Then `status_page_sync`'s planning
step runs with nothing new (every P0/P1 of the month resolved): its PagerDuty and Statuspage
requests (goal: one page of each) and its wall time.
"""

from __future__ import annotations

import json
import math
import sys

from bench.common import child_result, record

INCIDENTS = 5000
GOAL_RATIO = 1.10
SCHEDULE_AND_POLICY_CALLS = 3  # GET /schedules/{primary}, /schedules/{secondary}, /escalation_policies/{id}

CHILD = r'''
import datetime as dt, json, os, sys, time
from pathlib import Path
from devtools.localenv import airflow_environment, prepare_home
home = Path(sys.argv[1])
os.environ.update(prepare_home(home))
os.environ["SANDBOX_INCIDENTS_BULK"] = sys.argv[2]
from sandbox.runner import start_sandbox
started = time.perf_counter()
handle = start_sandbox(home / "sandbox", reference_month="2026-10", now="2026-11-02T12:00:00Z", ports="auto",
                       extra_args=["--scenarios", "incidents"], timeout=600)
seeded = time.perf_counter() - started
try:
    os.environ.update(handle.airflow_connections_env())
    from airflow.sdk import DAG
    from estate_ops.operators.incidents import IncidentSlaReportOperator
    with DAG("incident_sla_report", schedule=None, start_date=dt.datetime(2026, 1, 1, tzinfo=dt.UTC)):
        op = IncidentSlaReportOperator(task_id="report_incident_sla")
    handle.clear_request_counts()
    t0 = time.perf_counter()
    result = op.execute({"logical_date": dt.datetime(2026, 11, 1, 11, tzinfo=dt.UTC), "params": {}})
    seconds = time.perf_counter() - t0
    counts = handle.request_counts()
    from estate_ops.config import load_config
    from estate_ops.domain.periods import Month
    from estate_ops.hooks.statuspage import StatuspageHook, parse_time
    plan, estate = load_config()
    since = plan.month_bounds(Month.parse("2026-10")).start
    page_all = StatuspageHook(estate.statuspage.page_id, estate.statuspage.conn_id).incidents()
    needed = sum(1 for i in page_all if parse_time(i["created_at"]) >= since - dt.timedelta(days=1))
    from estate_ops.operators.statuspage import PlanStatusPageSyncOperator
    with DAG("status_page_sync", schedule=None, start_date=dt.datetime(2026, 1, 1, tzinfo=dt.UTC)):
        sync = PlanStatusPageSyncOperator(task_id="plan_sync")
    handle.clear_request_counts()
    t1 = time.perf_counter()
    drafts = sync.execute({})
    sync_seconds = time.perf_counter() - t1
    sync_counts = handle.request_counts()
    s3 = handle.boto3_client("s3")
    from estate_ops.config import load_estate
    report = json.loads(s3.get_object(Bucket=load_estate().reports_bucket,
                                      Key="incidents/2026-10/report.json")["Body"].read())
    print("RESULT " + json.dumps({
        "hook_calls": result["pagerduty_calls"],
        "stand_in_requests": counts["totals"].get("pagerduty", 0),
        "routes": counts["routes"].get("pagerduty", {}),
        "incidents_fetched": report["inputs"]["incidents"],
        "log_entries": report["inputs"]["log_entries"],
        "seconds": seconds, "seed_seconds": seeded,
        "statuspage_requests": counts["totals"].get("statuspage", 0),
        "statuspage_incidents_needed": needed, "statuspage_incidents_total": len(page_all),
        "sync_drafts": len(drafts), "sync_seconds": sync_seconds,
        "sync_pagerduty_requests": sync_counts["totals"].get("pagerduty", 0),
        "sync_statuspage_requests": sync_counts["totals"].get("statuspage", 0),
        "sync_routes": {**sync_counts["routes"].get("pagerduty", {}), **sync_counts["routes"].get("statuspage", {})}}))
finally:
    handle.stop()
'''


def measure(incidents: int = INCIDENTS) -> dict:
    return child_result(CHILD, str(incidents), what="incidents")


def run() -> list[dict]:
    m = measure()
    incidents, entries = m["incidents_fetched"], m["log_entries"]
    # The month's incidents include those of every service listed in estate.yaml (all of them here).
    bulk_minimum = math.ceil(incidents / 100) + math.ceil(entries / 100) + SCHEDULE_AND_POLICY_CALLS
    per_incident = math.ceil(incidents / 100) + incidents + SCHEDULE_AND_POLICY_CALLS
    calls = m["hook_calls"]
    ratio = round(calls / bulk_minimum, 3)
    return [
        record("incidents.month_incidents", incidents, "incidents"),
        record("incidents.month_log_entries", entries, "entries"),
        record("incidents.api_calls", calls, "requests"),
        record("incidents.stand_in_requests", m["stand_in_requests"], "requests",
               f"== {calls}", m["stand_in_requests"] == calls),
        record("incidents.bulk_minimum", bulk_minimum, "requests"),
        record("incidents.calls_vs_bulk_minimum", ratio, "ratio", f"<= {GOAL_RATIO}", ratio <= GOAL_RATIO),
        record("incidents.per_incident_alternative", per_incident, "requests"),
        record("incidents.per_incident_vs_report", round(per_incident / calls, 1), "x"),
        record("incidents.report_seconds", round(m["seconds"], 1), "s"),
        *statuspage_records(m),
    ]


def statuspage_records(m: dict) -> list[dict]:
    minimum = max(1, math.ceil(m["statuspage_incidents_needed"] / 100))
    ratio = round(m["statuspage_requests"] / minimum, 3)
    pd_calls, sp_calls = m["sync_pagerduty_requests"], m["sync_statuspage_requests"]
    return [
        record("incidents.statuspage_incidents_needed", m["statuspage_incidents_needed"], "incidents"),
        record("incidents.statuspage_requests", m["statuspage_requests"], "requests"),
        record("incidents.statuspage_minimum_pages", minimum, "requests"),
        record("incidents.statuspage_vs_minimum", ratio, "ratio", f"<= {GOAL_RATIO}", ratio <= GOAL_RATIO),
        record("incidents.sync_nothing_new_pagerduty_requests", pd_calls, "requests", "== 1", pd_calls == 1),
        record("incidents.sync_nothing_new_statuspage_requests", sp_calls, "requests", "== 1", sp_calls == 1),
        record("incidents.sync_nothing_new_drafts", m["sync_drafts"], "drafts", "== 0", m["sync_drafts"] == 0),
        record("incidents.sync_nothing_new_seconds", round(m["sync_seconds"], 2), "s"),
    ]


if __name__ == "__main__":
    m = measure(int(sys.argv[1]) if len(sys.argv) > 1 else INCIDENTS)
    print(json.dumps(m, indent=2))
