"""incident_sla_report end to end with dag.test() against the seeded sandbox, run twice.

The expected figures come from the incidents scenario's design (sandbox/scenarios/incidents.py),
not from the code under test: e.g. the P0 acknowledged at +32 min breaches its 15 min target,
the secondary schedule has a 6-hour hole, the `[pm-missing]` P1 has no post-mortem.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from estate_ops.config import load_estate

from tests.dagrun import run_dag, task_states
from tests.reports_bucket import read_json, versions

pytestmark = pytest.mark.slow

# The scheduled run for October 2026: 1 November 06:00 ET (EST from that morning) = 11:00 UTC.
LOGICAL = dt.datetime(2026, 11, 1, 11, 0, tzinfo=dt.UTC)
PREFIX = "incidents/2026-10/"


@pytest.fixture(scope="module")
def two_runs(sandbox_session):
    sandbox_session.reset()
    first = run_dag("incident_sla_report", LOGICAL)
    after_first = versions(sandbox_session)
    slack_first = sandbox_session.slack_messages()
    events_first = sandbox_session.pagerduty_events()
    report = read_json(sandbox_session, PREFIX + "report.json")
    second = run_dag("incident_sla_report", LOGICAL + dt.timedelta(seconds=0))
    return {"first": first, "second": second, "after_first": after_first, "after_second": versions(sandbox_session),
            "slack_first": slack_first, "slack_second": sandbox_session.slack_messages(),
            "events_first": events_first, "events_second": sandbox_session.pagerduty_events(), "report": report}


def _by_title(report, prefix):
    rows = [r for r in report["items"]["incidents"] if r["title"].startswith(prefix)]
    assert rows, f"no incident titled {prefix}"
    return rows


def test_both_runs_succeed(two_runs):
    for run in (two_runs["first"], two_runs["second"]):
        assert str(run.state) == "success", task_states(run)


def test_artifacts_written_once_and_identical_on_rerun(two_runs):
    keys = {k for k in two_runs["after_first"] if k.startswith(PREFIX)}
    assert {PREFIX + n for n in ("report.json", "report.html", "report.pdf", "response.png", "resolution.png")} <= keys
    for key in keys | {"runs/incident_sla_report/2026-10.json"}:
        assert two_runs["after_second"][key] == two_runs["after_first"][key], key


def test_rerun_sends_nothing_again(two_runs):
    assert two_runs["slack_second"] == two_runs["slack_first"]
    assert two_runs["events_second"] == two_runs["events_first"]
    texts = [m.get("text", "") for m in two_runs["slack_first"]]
    assert sum("Incident SLA 2026-10" in t for t in texts) == 1
    assert sum("incident_sla_breach" in t for t in texts) == 1  # all P2 findings in one message


def test_month_and_exclusions(two_runs):
    report = two_runs["report"]
    titles = [r["title"] for r in report["items"]["incidents"]]
    assert "Late September incident" not in titles and "Early November incident" not in titles
    assert report["period"]["month"] == "2026-10"
    assert report["period"]["as_of"] == "2026-11-01T11:00:00Z"
    # 58 in the month: 11 designed cases + 47 routine (scenario); 2 are unclassified.
    assert report["headline"]["incidents"]["value"] == 58
    problems = sorted(u["problem"] for u in report["items"]["unclassified"])
    assert problems == ["missing priority", "unmapped priority"]
    assert all(r["severity"] in ("P0", "P1", "P2", "P3") for r in report["items"]["incidents"])


def test_designed_breaches(two_runs):
    report = two_runs["report"]
    p0 = _by_title(report, "[resp-breach] API 5xx")[0]
    assert (p0["severity"], p0["response"], p0["response_min"]) == ("P0", "breached", "32.0")
    p1 = _by_title(report, "[resol-breach]")[0]
    assert (p1["resolution"], p1["resolution_min"]) == ("breached", "660.0")
    no_ack = _by_title(report, "[no-ack]")[0]
    assert (no_ack["responded_at"], no_ack["response_min"], no_ack["response"]) == (
        no_ack["resolved_at"], "40.0", "met")
    breach_ids = {b["id"] for b in report["items"]["breaches"]}
    assert {p0["id"], p1["id"]} <= breach_ids
    web_url = load_estate().pagerduty.web_url
    assert all(b["link"] == f"{web_url}/incidents/{b['id']}" for b in report["items"]["breaches"])


def test_open_and_last_day_incidents(two_runs):
    report = two_runs["report"]
    open_rows = {r["id"]: r for r in report["items"]["open_at_month_end"]}
    still_open = _by_title(report, "[open]")[0]
    # P2 created Oct 30 10:00, never resolved: 48 h target passed on Nov 1 10:00, before as_of.
    assert still_open["resolution"] == "breached" and still_open["resolved_at"] is None
    assert open_rows[still_open["id"]]["breached_at_month_end"] == "no"
    last_day = _by_title(report, "[last-day]")[0]
    # Created Oct 31 23:30 UTC (19:30 ET), resolved Nov 1 05:00 UTC (330 min < 480), after the ET
    # month's end at 04:00 UTC: open at month end, met.
    assert last_day["id"] in open_rows and last_day["resolution"] == "met"
    p3_open = _by_title(report, "[p3-open]")[0]
    assert p3_open["resolution"] == "pending"


def test_postmortems(two_runs):
    rows = {r["title"][:12]: r for r in two_runs["report"]["items"]["postmortems"]}
    assert rows["[pm-missing]"]["state"] == "missing"
    assert rows["[resol-breac"]["state"] == "late"
    assert rows["[pm-bucket] "]["state"] == "on_time" and rows["[pm-bucket] "]["evidence_source"] == "bucket"
    assert rows["[resp-breach"]["state"] == "on_time" and rows["[resp-breach"]["evidence_source"] == "note"
    # [last-day] resolved Nov 1 03:00: its post-mortem is not due before the report's as_of.
    assert rows["[last-day] A"]["state"] in ("pending", "on_time")


def test_oncall_gap_and_escalation(two_runs):
    report = two_runs["report"]
    gaps = report["items"]["oncall_gaps"]
    assert [(g["role"], g["length_min"]) for g in gaps] == [("secondary", "360.0")]
    assert report["figures"]["primary_coverage"]["value"] == "100.00"
    assert Decimal(report["figures"]["secondary_coverage"]["value"]) < 100
    assert all(level["ok"] for level in report["items"]["escalation_levels"])
    kinds = {f["kind"] for f in report["findings"]}
    assert {"incident_sla_breach", "postmortem_missing", "postmortem_late", "oncall_coverage_gap"} <= kinds
    assert "escalation_mismatch" not in kinds


def test_per_severity_figures_add_up(two_runs):
    report = two_runs["report"]
    for row in report["items"]["per_severity"]:
        assert row["met"] + row["breached"] + row["pending"] == row["incidents"]
    assert sum(r["incidents"] for r in report["items"]["per_severity"]) + 2 == report["headline"]["incidents"]["value"]


def test_html_links_every_breach_and_pdf_is_a_pdf(two_runs, sandbox_session):
    s3 = sandbox_session.boto3_client("s3")
    bucket = load_estate().reports_bucket
    html = s3.get_object(Bucket=bucket, Key=PREFIX + "report.html")["Body"].read().decode()
    for breach in two_runs["report"]["items"]["breaches"]:
        assert f'<a href="{breach["link"]}">#{breach["incident"]}</a>' in html
    assert "<h2>Response and resolution (plan §1.2)</h2>" in html and 'src="response.png"' in html
    pdf = s3.get_object(Bucket=bucket, Key=PREFIX + "report.pdf")["Body"].read()
    assert pdf.startswith(b"%PDF-")
