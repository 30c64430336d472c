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


# --- plan §3.2 communicate: the status page (sandbox/scenarios/incidents.py seeds it)

def _communication(report, prefix):
    (incident,) = [r for r in report["items"]["incidents"] if r["title"].startswith(prefix)]
    (row,) = [r for r in report["items"]["communication"] if r["id"] == incident["id"]]
    return row


def test_status_page_on_time_late_never_as_seeded(two_runs):
    report = two_runs["report"]
    late = _communication(report, "[resol-breach]")  # first public update 90 min into a P1 (target 60)
    assert (late["first_update"], late["communication"], late["linked_by"]) == ("late", "late", "explicit reference")
    never = _communication(report, "[pm-missing]")
    assert (never["communication"], never["status_page_incident"], never["linked_by"]) == ("never", None, "not linked")
    by_time = _communication(report, "[pm-bucket]")  # no reference: its service's component, overlapping
    assert by_time["linked_by"] == "component and overlapping time" and by_time["communication"] == "on_time"
    rows = report["items"]["communication"]
    p0_p1 = [r for r in report["items"]["incidents"] if r["severity"] in ("P0", "P1")]
    assert len(rows) == len(p0_p1)
    assert sum(r["communication"] == "on_time" for r in rows) == len(rows) - 2
    assert all(r["linked_by"] == "explicit reference" for r in rows
               if r["id"] not in (never["id"], by_time["id"]))
    per = {r["severity"]: r for r in report["items"]["communication_per_severity"]}
    assert per["P1"]["late"] == per["P1"]["never"] == 1 and per["P0"]["late"] == per["P0"]["never"] == 0
    assert report["figures"]["communication_never"]["value"] == 1
    assert report["headline"]["status_page_late_or_never"]["value"] == 2


def test_late_and_missing_communication_are_p2_findings_with_both_links(two_runs):
    report = two_runs["report"]
    found = {f["kind"]: f for f in report["findings"] if f["kind"].startswith("status_page_")}
    assert set(found) == {"status_page_late", "status_page_missing"}
    assert {f["severity"] for f in found.values()} == {"P2"}
    late = _communication(report, "[resol-breach]")
    assert found["status_page_late"]["resource"] == late["id"]
    assert found["status_page_late"]["details"]["link"] == late["pagerduty_link"]
    assert found["status_page_late"]["details"]["status_page_link"] == late["status_page_link"]
    assert found["status_page_missing"]["details"]["status_page_link"] is None


def test_five_step_timeline_per_p0_p1_incident(two_runs):
    report = two_runs["report"]
    steps = {}
    for row in report["items"]["timeline"]:
        steps.setdefault(row["id"], []).append(row)
    assert set(steps) == {r["id"] for r in report["items"]["communication"]}
    for rows in steps.values():
        assert [r["step"] for r in rows] == ["detect", "triage", "communicate", "resolve", "review"]
        assert rows[0]["minutes_after_detect"] == 0
    late = _communication(report, "[resol-breach]")
    communicate = steps[late["id"]][2]
    assert communicate["at"] == late["first_update_at"] and communicate["minutes_after_detect"] == 90
    assert "explicit reference" in communicate["source"]
    never = steps[_communication(report, "[pm-missing]")["id"]]
    assert never[2]["at"] is None and never[2]["source"] == "none"
    assert never[4]["at"] is None  # no post-mortem either


def test_timeline_chart_and_section_in_the_html(two_runs, sandbox_session):
    from tests.reports_bucket import read_bytes

    assert PREFIX + "timeline.png" in two_runs["after_first"]
    html = read_bytes(sandbox_session, PREFIX + "report.html").decode()
    assert "Communicate: the status page (plan §3.2)" in html
    assert "Incident timeline: the five steps of plan §3.2" in html
