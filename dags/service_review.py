"""service_review: the month close, one review per client that quotes the month's reports (issue #18)."""

from __future__ import annotations

import datetime as dt

from airflow.sdk import DAG
from estate_ops.dag_defaults import (
    MONTH_CLOSE_ASSETS,
    default_args,
    month_close_asset,
    month_param,
    tags,
)
from estate_ops.operators.reviews import ServiceReviewOperator

availability, incidents, invoices = (month_close_asset(name) for name in MONTH_CLOSE_ASSETS)

with DAG(
    dag_id="service_review",
    doc_md="""
### Month close: the service review (plan §1-§5, issue #18)

Runs when the month's availability report, incident SLA report and issued invoices exist (their
assets), or by hand for a `month`. For each client in `estate.yaml`:
`reviews/YYYY-MM/<client_id>/review.{json,html,pdf}` with the cover (client, tier, the contract
month in both zones, plan name and version, the estate), availability and the error budget with
the excluded maintenance, incident response per severity with each breach and the post-mortems,
backups (days verified green), restore drills (RTO and data RPO), retention, key metrics where
measured, support hours and the invoice, and next month's announced maintenance. Every figure is
quoted from its source report's JSON (named under each section), never recomputed; a missing or
malformed source makes its section say so and the review incomplete ("not for sending").
`reviews/YYYY-MM/evidence.json` lists every artifact read with its key, S3 version id and SHA-256
(check a bucket copy with `estate_ops.domain.reviews.verify_evidence`). One Slack summary a month.
""",
    schedule=(availability & incidents & invoices),
    start_date=dt.datetime(2026, 10, 1, tzinfo=dt.UTC),
    catchup=False,
    max_active_runs=1,
    default_args=default_args(failure_severity="P3"),
    tags=tags("reviews"),
    params={"month": month_param("The month to review, e.g. 2026-10; empty = the month before the run.")},
) as dag:
    ServiceReviewOperator(task_id="service_review")
