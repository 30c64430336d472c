"""estate_preflight: is everything estate.yaml names there and reachable? Run it first."""

from __future__ import annotations

import datetime as dt

from airflow.sdk import DAG
from estate_ops.dag_defaults import default_args, tags
from estate_ops.operators.preflight import (
    AREAS,
    CheckEstateResourcesOperator,
    PublishPreflightOperator,
)

with DAG(
    dag_id="estate_preflight",
    doc_md="""
### Preflight: does the estate exist as configured?

Loads `include/plan.yaml` and `include/estate.yaml` (a bad file fails here, naming the file and
key), then checks every configured resource: RDS instances, buckets (and replica regions), log
group prefixes, Route 53 health checks, PagerDuty services, schedules and escalation policy,
and the Slack channel. Writes `preflight/YYYY-MM-DD/report.{json,html,pdf}`; anything missing is a
`preflight_missing` finding routed by severity. A missing connection or an endpoint that does
not answer fails the run with a message naming it, and nothing is written.

Run it first after pointing estate-ops at a real account.
""",
    schedule="@daily",
    start_date=dt.datetime(2026, 1, 1, tzinfo=dt.UTC),
    catchup=False,
    max_active_runs=1,
    default_args=default_args(failure_severity="P3"),
    tags=tags("preflight"),
) as dag:
    checks = [CheckEstateResourcesOperator(task_id=f"check_{area}", area=area) for area in AREAS]
    publish = PublishPreflightOperator(task_id="publish_report", check_task_ids=[c.task_id for c in checks])
    checks >> publish
