"""service_review end to end with dag.test() against the sandbox's October: after the month's
availability, incident and invoicing runs (and one real backup verification run on top of the
month's seeded backup history, sandbox/backup_history.py), with a maintenance window announced for
November, one review per client that quotes those reports; run twice (same bytes, one Slack
summary); the reviews are complete; a month without reports says so section by section; the
evidence pack matches the bucket and names a missing, changed or extra report."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from estate_ops.config import load_config
from estate_ops.domain.reviews import verify_evidence

from tests.dagrun import run_dag, task_states

LOGICAL = dt.datetime(2026, 11, 2, 12, tzinfo=dt.UTC)
MONTH = {"month": "2026-10"}
ANNOUNCE = {"action": "announce", "date": "2026-11-12", "start": "02:00", "duration_minutes": 120,
            "reason": "database minor version upgrade", "announced_by": "avery.chen@legacy.example",
            "record_anyway": False}


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
        run_dag("backup_verification", dt.datetime(2026, 10, 20, 6, tzinfo=dt.UTC))
        announced = run_dag("maintenance_announce", LOGICAL, ANNOUNCE)
        assert str(announced.state) == "success", task_states(announced)
        first = run_dag("service_review", LOGICAL, MONTH)
        after_first = _bucket(sandbox_session)
        slack_first = sandbox_session.slack_messages()
        second = run_dag("service_review", LOGICAL, MONTH)
        bucket_second, slack_second = _bucket(sandbox_session), sandbox_session.slack_messages()
        empty = run_dag("service_review", LOGICAL, {"month": "2026-08"})  # the sandbox has nothing for it
    return {"runs": (first, second), "bucket": after_first, "bucket_second": bucket_second,
            "slack": (slack_first, slack_second), "empty": (empty, _bucket(sandbox_session))}


def _review(bucket, client):
    return json.loads(bucket[f"reviews/2026-10/{client}/review.json"])


def test_both_runs_succeed_and_change_nothing(month_closed):
    for run in month_closed["runs"]:
        assert str(run.state) == "success", task_states(run)
    review_keys = {k for k in month_closed["bucket"] if k.startswith("reviews/")}
    assert {k for k in review_keys if k.endswith("review.json")} == {
        f"reviews/2026-10/{c.id}/review.json" for c in load_config()[1].clients}
    assert "reviews/2026-10/evidence.json" in review_keys
    changed = [k for k in sorted(review_keys) if month_closed["bucket_second"][k] != month_closed["bucket"][k]]
    assert changed == []
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


def _month_keys(bucket, prefix, suffix):
    return sorted(k for k in bucket if k.startswith(prefix) and k.endswith(suffix) and k.count("/") == 2)


def test_the_months_backups_and_drills_are_quoted_and_the_reviews_complete(month_closed):
    bucket = month_closed["bucket"]
    days = _month_keys(bucket, "backups/2026-10-", "/verification.json")
    drills = sorted(k for k in bucket if k.startswith("backups/drills/2026-10-") and k.endswith("/drill.json"))
    assert len(days) == 31 and drills  # every day of the month, and its Sundays' drills
    reports = [json.loads(bucket[k]) for k in days]
    green = sum(all(st["green"] for st in r["statuses"].values()) for r in reports)
    plan = load_config()[0]
    for client in load_config()[1].clients:
        review = _review(bucket, client.id)
        assert review["complete"] is True and review["incomplete_sections"] == [], review["incomplete_sections"]
        s = review["sections"]
        assert (s["backups"]["days_verified"], s["backups"]["days_green"], s["backups"]["days_in_month"]) == (
            31, green, 31)
        assert [d["date"] for d in s["drills"]["drills"]] == [json.loads(bucket[k])["period"]["date"] for k in drills]
        for row, key in zip(s["drills"]["drills"], drills, strict=True):
            drill = json.loads(bucket[key])
            assert row["worst_rto_minutes"] == drill["headline"]["worst_rto_minutes"]["value"]
            assert row["worst_data_rpo_minutes"] == drill["headline"]["worst_data_rpo_minutes"]["value"]
            assert (row["rto_target_minutes"], row["rpo_target_minutes"]) == (plan.recovery.rto_minutes,
                                                                               plan.recovery.rpo_minutes)
        # what the month's last verification still lists is open, with the day it began
        last = reports[-1]
        assert {(f["kind"], f["resource"]) for f in s["open_findings"]["findings"]} == {
            (f["kind"], f["resource"]) for f in last["findings"]} | {
            (f["kind"], f["resource"]) for f in json.loads(bucket[drills[-1]])["findings"]}
        for row in (r for r in s["open_findings"]["findings"] if r["source"] == days[-1]):
            run = 0  # the unbroken run of days, back from the last, that list the same problem
            while run < len(reports) and any((f["kind"], f["resource"]) == (row["kind"], row["resource"])
                                             for f in reports[-1 - run]["findings"]):
                run += 1
            assert run >= 1 and row["first_seen"] == reports[-run]["period"]["date"]
            assert row["age_days"] == (dt.date.fromisoformat(row["last_seen"])
                                       - dt.date.fromisoformat(row["first_seen"])).days
        # the incident report's communication, where it measured it
        incidents = json.loads(bucket["incidents/2026-10/report.json"])
        if "communication_per_severity" in incidents["items"]:
            assert s["incidents"]["communication"]["late"] == incidents["figures"]["communication_late"]["value"]
        else:
            assert s["incidents"]["communication"]["status"] == "not measured"
    assert _review(bucket, "northwind")["sections"]["open_findings"]["open"] >= 1  # the seeded short retention
    html = bucket["reviews/2026-10/northwind/review.html"].decode()
    assert "not for sending" not in html and "Open findings" in html
    assert bucket["reviews/2026-10/northwind/review.pdf"].startswith(b"%PDF")
    summary = next(m["text"] for m in month_closed["slack"][0] if "Service reviews 2026-10" in (m.get("text") or ""))
    assert "incomplete" not in summary


def test_next_months_announced_maintenance_is_listed(month_closed):
    windows = _review(month_closed["bucket"], "fabrikam")["next_month_maintenance"]
    assert [w["reason"] for w in windows] == [ANNOUNCE["reason"]]
    assert windows[0]["start"].startswith("2026-11-12T")  # 02:00 ET is 07:00 UTC in November


def test_a_month_without_reports_says_so_in_each_section(month_closed):
    run, bucket = month_closed["empty"]
    assert str(run.state) == "success", task_states(run)
    review = json.loads(bucket["reviews/2026-08/northwind/review.json"])
    assert review["complete"] is False
    assert review["incomplete_sections"] == ["availability", "incidents", "backups", "drills", "support"]
    assert review["sections"]["drills"] == {"status": "missing", "note": "no drills report for this month",
                                            "sources": []}
    assert review["sections"]["open_findings"]["status"] == "not measured"
    html = bucket["reviews/2026-08/northwind/review.html"].decode()
    assert "not for sending" in html and "no drills report for this month" in html


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
    (tmp_path / "backups/2026-10-20/verification.json").unlink()
    (tmp_path / "backups/drills/2026-10-30/drill.json").parent.mkdir(parents=True)
    (tmp_path / "backups/drills/2026-10-30/drill.json").write_bytes(b"{}")  # a drill the reviews never saw
    assert [(p["key"], p["problem"]) for p in verify_evidence(tmp_path, evidence)] == [
        ("backups/2026-10-20/verification.json", "missing"), ("backups/drills/2026-10-30/drill.json", "extra"),
        ("incidents/2026-10/report.json", "changed")]
