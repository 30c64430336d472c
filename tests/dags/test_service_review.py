"""service_review end to end with dag.test() against the sandbox, for two months: October 2026
(31 days, the session's sandbox) and November 2026 (30 days, a sandbox of its own). After the
month's availability, incident and invoicing runs (and one real backup verification run on top of
the month's seeded backup history, sandbox/backup_history.py), with a maintenance window announced
for the next month, one review per client that quotes those reports; run twice (same bytes, one
Slack summary); the reviews are complete; a month without reports says so section by section; the
evidence pack matches the bucket and names a missing, changed or extra report.

The months must have ended whatever today's date (a month not yet over is refused) and lie within
the DAGs' start dates (availability_report's is 2026-10-01: dag.test() before it runs no task)."""

from __future__ import annotations

import calendar
import datetime as dt
import json
from contextlib import nullcontext
from zoneinfo import ZoneInfo

import pytest
from estate_ops.config import load_config
from estate_ops.domain.periods import Month
from estate_ops.domain.reviews import verify_evidence

from tests.dagrun import run_dag, task_states
from tests.reports_bucket import keys, read_bytes
from tests.sandbox_fixtures import REFERENCE_MONTH, running_sandbox

MONTHS = [REFERENCE_MONTH, "2026-11"]  # ended whatever the date, and within the DAGs' start dates
VERIFIED_DAY = 20  # the day of the month one backup_verification run really runs
ANNOUNCED_DAY, ANNOUNCED_AT = 12, dt.time(2)  # the next month's window, in ET


def _bucket(sandbox) -> dict[str, bytes]:
    return {key: read_bytes(sandbox, key) for key in keys(sandbox)}


@pytest.fixture(scope="module", params=MONTHS)
def month_closed(request, sandbox_session, tmp_path_factory):
    month = request.param
    following = str(Month.parse(month).next())
    # the monthly jobs run on the 2nd of the next month; the sandbox's "now" is then
    logical = dt.datetime.fromisoformat(f"{following}-02T12:00:00+00:00")
    announce = {"action": "announce", "date": f"{following}-{ANNOUNCED_DAY:02d}",
                "start": ANNOUNCED_AT.strftime("%H:%M"), "duration_minutes": 120,
                "reason": "database minor version upgrade", "announced_by": "avery.chen@legacy.example",
                "record_anyway": False}
    if month == REFERENCE_MONTH:
        sandbox_session.reset()
        started = nullcontext(sandbox_session)
    else:
        started = running_sandbox(tmp_path_factory.mktemp(f"sandbox-{month}"), month,
                                  logical.isoformat().replace("+00:00", "Z"))
    with started as sandbox, pytest.MonkeyPatch.context() as mp:
        mp.setenv("ESTATE_OPS_INVOICE_APPROVAL", "off")
        for dag_id in ("availability_report", "incident_sla_report", "support_invoicing"):
            run = run_dag(dag_id, logical, {"month": month})
            assert str(run.state) == "success", (dag_id, task_states(run))
        run_dag("backup_verification", dt.datetime.fromisoformat(f"{month}-{VERIFIED_DAY:02d}T06:00:00+00:00"))
        announced = run_dag("maintenance_announce", logical, announce)
        assert str(announced.state) == "success", task_states(announced)
        first = run_dag("service_review", logical, {"month": month})
        after_first = _bucket(sandbox)
        slack_first = sandbox.slack_messages()
        second = run_dag("service_review", logical, {"month": month})
        bucket_second, slack_second = _bucket(sandbox), sandbox.slack_messages()
        empty_month = str(Month.parse(month).previous().previous())  # the sandbox has nothing for it
        empty = run_dag("service_review", logical, {"month": empty_month})
        empty_bucket = _bucket(sandbox)
    return {"month": month, "announce": announce, "runs": (first, second), "bucket": after_first,
            "bucket_second": bucket_second, "slack": (slack_first, slack_second),
            "empty": (empty, empty_bucket, empty_month)}


def _review(closed, client):
    return json.loads(closed["bucket"][f"reviews/{closed['month']}/{client}/review.json"])


def test_both_runs_succeed_and_change_nothing(month_closed):
    month = month_closed["month"]
    for run in month_closed["runs"]:
        assert str(run.state) == "success", task_states(run)
    review_keys = {k for k in month_closed["bucket"] if k.startswith("reviews/")}
    assert {k for k in review_keys if k.endswith("review.json")} == {
        f"reviews/{month}/{c.id}/review.json" for c in load_config()[1].clients}
    assert f"reviews/{month}/evidence.json" in review_keys
    changed = [k for k in sorted(review_keys) if month_closed["bucket_second"][k] != month_closed["bucket"][k]]
    assert changed == []
    summaries = [m for m in month_closed["slack"][1] if f"Service reviews {month}" in (m.get("text") or "")]
    assert len(summaries) == 1 and month_closed["slack"][1] == month_closed["slack"][0]


def test_figures_are_the_source_reports(month_closed):
    bucket, month = month_closed["bucket"], month_closed["month"]
    availability = json.loads(bucket[f"availability/{month}/report.json"])
    incidents = json.loads(bucket[f"incidents/{month}/report.json"])
    for client in load_config()[1].clients:
        review = _review(month_closed, client.id)
        s = review["sections"]
        assert s["availability"]["composite_percent"] == availability["headline"]["composite_availability"]["value"]
        assert s["availability"]["error_budget_used_minutes"] == availability["figures"]["error_budget_used"]["value"]
        assert s["incidents"]["breaches"] == incidents["headline"]["breaches"]["value"]
        invoice_key = s["support"]["sources"][0]
        invoice = json.loads(bucket[invoice_key])
        assert invoice["client_id"] == client.id and invoice_key.startswith(f"invoices/{month}/{client.id}/INV-")
        assert s["support"]["number"] == invoice["number"] and s["support"]["total"] == invoice["total"]
        assert review["period"] == availability["period"]  # one contract month, same bounds


def _month_keys(bucket, prefix, suffix):
    return sorted(k for k in bucket if k.startswith(prefix) and k.endswith(suffix) and k.count("/") == 2)


def test_the_months_backups_and_drills_are_quoted_and_the_reviews_complete(month_closed):
    bucket, month = month_closed["bucket"], month_closed["month"]
    length = calendar.monthrange(int(month[:4]), int(month[5:]))[1]
    days = _month_keys(bucket, f"backups/{month}-", "/verification.json")
    drills = sorted(k for k in bucket if k.startswith(f"backups/drills/{month}-") and k.endswith("/drill.json"))
    assert len(days) == length and drills  # every day of the month, and its Sundays' drills
    reports = [json.loads(bucket[k]) for k in days]
    green = sum(all(st["green"] for st in r["statuses"].values()) for r in reports)
    plan = load_config()[0]
    for client in load_config()[1].clients:
        review = _review(month_closed, client.id)
        assert review["complete"] is True and review["incomplete_sections"] == [], review["incomplete_sections"]
        s = review["sections"]
        assert (s["backups"]["days_verified"], s["backups"]["days_green"], s["backups"]["days_in_month"]) == (
            length, green, length)
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
        incidents = json.loads(bucket[f"incidents/{month}/report.json"])
        if "communication_per_severity" in incidents["items"]:
            assert s["incidents"]["communication"]["late"] == incidents["figures"]["communication_late"]["value"]
        else:
            assert s["incidents"]["communication"]["status"] == "not measured"
    assert _review(month_closed, "northwind")["sections"]["open_findings"]["open"] >= 1  # the seeded short retention
    html = bucket[f"reviews/{month}/northwind/review.html"].decode()
    assert "not for sending" not in html and "Open findings" in html
    assert bucket[f"reviews/{month}/northwind/review.pdf"].startswith(b"%PDF")
    summary = next(m["text"] for m in month_closed["slack"][0] if f"Service reviews {month}" in (m.get("text") or ""))
    assert "incomplete" not in summary


def test_next_months_announced_maintenance_is_listed(month_closed):
    announce = month_closed["announce"]
    windows = _review(month_closed, "fabrikam")["next_month_maintenance"]
    assert [w["reason"] for w in windows] == [announce["reason"]]
    # 02:00 ET on that day, in UTC (standard time in November and December: 07:00)
    start = dt.datetime.combine(dt.date.fromisoformat(announce["date"]), ANNOUNCED_AT,
                                tzinfo=ZoneInfo("America/New_York")).astimezone(dt.UTC)
    assert windows[0]["start"].startswith(start.strftime("%Y-%m-%dT%H:%M"))


def test_a_month_without_reports_says_so_in_each_section(month_closed):
    run, bucket, empty_month = month_closed["empty"]
    assert str(run.state) == "success", task_states(run)
    review = json.loads(bucket[f"reviews/{empty_month}/northwind/review.json"])
    assert review["complete"] is False
    assert review["incomplete_sections"] == ["availability", "incidents", "backups", "drills", "support"]
    assert review["sections"]["drills"] == {"status": "missing", "note": "no drills report for this month",
                                            "sources": []}
    assert review["sections"]["open_findings"]["status"] == "not measured"
    html = bucket[f"reviews/{empty_month}/northwind/review.html"].decode()
    assert "not for sending" in html and "no drills report for this month" in html


def test_the_evidence_pack_matches_the_bucket_and_names_a_tampered_file(month_closed, tmp_path):
    bucket, month = month_closed["bucket"], month_closed["month"]
    evidence = json.loads(bucket[f"reviews/{month}/evidence.json"])
    listed = [a["key"] for a in evidence["artifacts"]]
    verified = f"backups/{month}-{VERIFIED_DAY:02d}/verification.json"
    assert f"availability/{month}/report.json" in listed and verified in listed
    for key, body in bucket.items():
        (tmp_path / key).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / key).write_bytes(body)
    assert verify_evidence(tmp_path, evidence) == []
    # a drill the reviews never saw: on the first day of the month without one
    extra = next(key for day in range(1, 29)
                 if (key := f"backups/drills/{month}-{day:02d}/drill.json") not in bucket)
    (tmp_path / f"incidents/{month}/report.json").write_bytes(b"{}")
    (tmp_path / verified).unlink()
    (tmp_path / extra).parent.mkdir(parents=True)
    (tmp_path / extra).write_bytes(b"{}")
    assert [(p["key"], p["problem"]) for p in verify_evidence(tmp_path, evidence)] == [
        (verified, "missing"), (extra, "extra"), (f"incidents/{month}/report.json", "changed")]
