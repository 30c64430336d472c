"""service_review end to end with dag.test() against the sandbox's October: after the month's
availability, incident and invoicing runs and one day of backup verification, one review per
client that quotes those reports; run twice (same bytes, one Slack summary); no drill report yet,
so the reviews say so and are incomplete; the evidence pack matches the bucket."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from estate_ops.config import load_config
from estate_ops.domain.reviews import verify_evidence

from tests.dagrun import run_dag, task_states

LOGICAL = dt.datetime(2026, 11, 2, 12, tzinfo=dt.UTC)
MONTH = {"month": "2026-10"}


def _bucket(sandbox) -> dict[str, bytes]:
    s3 = sandbox.boto3_client("s3")
    bucket = load_config()[1].reports_bucket
    keys = [o["Key"] for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket)
            for o in page.get("Contents", [])]
    return {k: s3.get_object(Bucket=bucket, Key=k)["Body"].read() for k in keys}


@pytest.fixture(scope="module")
def month_closed(sandbox_session):
    sandbox_session.reset()
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("ESTATE_OPS_INVOICE_APPROVAL", "off")
        for dag_id in ("availability_report", "incident_sla_report", "support_invoicing"):
            run = run_dag(dag_id, LOGICAL, MONTH)
            assert str(run.state) == "success", (dag_id, task_states(run))
        run = run_dag("backup_verification", dt.datetime(2026, 10, 20, 6, tzinfo=dt.UTC))
        first = run_dag("service_review", LOGICAL, MONTH)
        after_first = _bucket(sandbox_session)
        slack_first = sandbox_session.slack_messages()
        second = run_dag("service_review", LOGICAL, MONTH)
    return {"runs": (first, second), "bucket": after_first, "bucket_second": _bucket(sandbox_session),
            "slack": (slack_first, sandbox_session.slack_messages())}


def _review(bucket, client):
    return json.loads(bucket[f"reviews/2026-10/{client}/review.json"])


def test_both_runs_succeed_and_change_nothing(month_closed):
    for run in month_closed["runs"]:
        assert str(run.state) == "success", task_states(run)
    review_keys = {k for k in month_closed["bucket"] if k.startswith("reviews/")}
    assert {k for k in review_keys if k.endswith("review.json")} == {
        f"reviews/2026-10/{c.id}/review.json" for c in load_config()[1].clients}
    assert "reviews/2026-10/evidence.json" in review_keys
    assert all(month_closed["bucket_second"][k] == month_closed["bucket"][k] for k in review_keys)
    summaries = [m for m in month_closed["slack"][1] if "Service reviews 2026-10" in (m.get("text") or "")]
    assert len(summaries) == 1 and month_closed["slack"][1] == month_closed["slack"][0]


def test_figures_are_the_source_reports(month_closed):
    bucket = month_closed["bucket"]
    availability = json.loads(bucket["availability/2026-10/report.json"])
    incidents = json.loads(bucket["incidents/2026-10/report.json"])
    for client in load_config()[1].clients:
        review = _review(bucket, client.id)
        s = review["sections"]
        assert s["availability"]["composite_percent"] == availability["headline"]["composite_availability"]["value"]
        assert s["availability"]["error_budget_used_minutes"] == availability["figures"]["error_budget_used"]["value"]
        assert s["incidents"]["breaches"] == incidents["headline"]["breaches"]["value"]
        invoice_key = s["support"]["sources"][0]
        invoice = json.loads(bucket[invoice_key])
        assert invoice["client_id"] == client.id and invoice_key.startswith(f"invoices/2026-10/{client.id}/INV-")
        assert s["support"]["number"] == invoice["number"] and s["support"]["total"] == invoice["total"]
        assert review["period"] == availability["period"]  # one contract month, same bounds
        assert s["backups"]["days_verified"] == 1 and s["backups"]["days_in_month"] == 31


def test_a_missing_source_makes_the_review_incomplete_and_says_so(month_closed):
    bucket = month_closed["bucket"]
    review = _review(bucket, "northwind")
    assert review["sections"]["drills"] == {"status": "missing", "note": "no drills report for this month",
                                            "sources": []}
    assert review["complete"] is False and review["incomplete_sections"] == ["drills"]
    html = bucket["reviews/2026-10/northwind/review.html"].decode()
    assert "not for sending" in html and "no drills report for this month" in html
    assert bucket["reviews/2026-10/northwind/review.pdf"].startswith(b"%PDF")


def test_the_evidence_pack_matches_the_bucket_and_names_a_tampered_file(month_closed, tmp_path):
    bucket = month_closed["bucket"]
    evidence = json.loads(bucket["reviews/2026-10/evidence.json"])
    keys = [a["key"] for a in evidence["artifacts"]]
    assert "availability/2026-10/report.json" in keys and "backups/2026-10-20/verification.json" in keys
    for key, body in bucket.items():
        (tmp_path / key).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / key).write_bytes(body)
    assert verify_evidence(tmp_path, evidence) == []
    (tmp_path / "incidents/2026-10/report.json").write_bytes(b"{}")
    assert [(p["key"], p["problem"]) for p in verify_evidence(tmp_path, evidence)] == [
        ("incidents/2026-10/report.json", "changed")]
