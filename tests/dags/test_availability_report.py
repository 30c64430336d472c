"""availability_report end to end with dag.test() against the seeded sandbox, run twice.

Expected figures come from the availability scenario's design (sandbox/scenarios/availability.py),
not from the code under test: the qualifying window's 45 down minutes are excluded, the 47 h
window's 20, the overrun's 20 (after 06:00 ET) and the cancelled window's 10 count; day 24 has a
2-hour gap on every check; days 24 and 31 were missed by collection and are fetched now. The ALB
target-group endpoint has no healthy host for 12 minutes on day 24 (fetched now from CloudWatch's
HealthyHostCount) and counts in the composite like the Route 53 checks.
"""

from __future__ import annotations

import datetime as dt
import io
import json

import numpy as np
import pytest
from estate_ops.config import load_config
from estate_ops.domain.availability import finest_period

from sandbox.scenarios.availability import ALB_OUTAGE_MINUTES
from tests.dagrun import run_dag, task_states

LOGICAL = dt.datetime(2026, 11, 1, 11, 0, tzinfo=dt.UTC)  # 1 Nov 06:00 ET (EST) = 11:00 UTC
PREFIX = "availability/2026-10/"


def _objects(sandbox) -> dict[str, str]:
    s3 = sandbox.boto3_client("s3")
    bucket = load_config()[1].reports_bucket
    out = {}
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
        for obj in page.get("Contents", []):
            out[obj["Key"]] = (obj["ETag"], obj["LastModified"])
    return out


def _get(sandbox, key: str) -> bytes:
    return sandbox.boto3_client("s3").get_object(Bucket=load_config()[1].reports_bucket, Key=key)["Body"].read()


@pytest.fixture(scope="module")
def two_runs(sandbox_session):
    sandbox_session.reset()
    before = _objects(sandbox_session)
    first = run_dag("availability_report", LOGICAL)
    after_first = _objects(sandbox_session)
    report = json.loads(_get(sandbox_session, PREFIX + "report.json"))
    slack_first, events_first = sandbox_session.slack_messages(), sandbox_session.pagerduty_events()
    second = run_dag("availability_report", LOGICAL)
    return {"first": first, "second": second, "before": before, "after_first": after_first,
            "after_second": _objects(sandbox_session), "report": report, "slack_first": slack_first,
            "slack_second": sandbox_session.slack_messages(), "events_first": events_first,
            "events_second": sandbox_session.pagerduty_events(), "sandbox": sandbox_session}


def test_both_runs_succeed(two_runs):
    for run in (two_runs["first"], two_runs["second"]):
        assert str(run.state) == "success", task_states(run)


def test_artifacts_identical_on_rerun(two_runs):
    written = {k for k in two_runs["after_first"] if k not in two_runs["before"]}
    expected = {PREFIX + n for n in ("report.json", "report.html", "report.pdf", "daily_availability.png",
                                     "downtime_timeline.png", "error_budget.png")}
    expected |= {"health/date=2026-10-24/health.parquet", "health/date=2026-10-31/health.parquet",
                 "runs/availability_report/2026-10.json"}
    assert expected <= written
    for key in written:
        assert two_runs["after_second"][key] == two_runs["after_first"][key], key


def test_below_target_is_paged_once_and_summary_posted_once(two_runs):
    events = [e for e in two_runs["events_second"] if "availability_below_target" in (e.get("dedup_key") or "")]
    assert len(events) == 1
    assert events[0]["event"]["payload"]["severity"] == "error"  # P1
    summaries = [m for m in two_runs["slack_second"] if "Availability 2026-10" in (m.get("text") or "")]
    assert len(summaries) == 1
    assert two_runs["slack_second"] == two_runs["slack_first"]
    assert two_runs["events_second"] == two_runs["events_first"]


def test_windows_ruled_as_the_scenario_intends(two_runs):
    rows = {w["id"]: w for w in two_runs["report"]["items"]["maintenance_windows"]}
    assert rows["mw-sbx-qualifying"]["qualifies"] == "yes"
    assert rows["mw-sbx-qualifying"]["excluded_minutes"] == 240
    assert rows["mw-sbx-short-notice"]["qualifies"] == "no"
    assert "47 h 0 min ahead, 1 h 0 min short" in rows["mw-sbx-short-notice"]["why"]
    assert rows["mw-sbx-overrun"]["qualifies"] == "partly"
    assert (rows["mw-sbx-overrun"]["excluded_minutes"], rows["mw-sbx-overrun"]["counted_minutes"]) == (60, 60)
    assert rows["mw-sbx-cancelled"]["qualifies"] == "no" and "cancelled" in rows["mw-sbx-cancelled"]["why"]


def test_composite_downtime_counts_what_the_scenario_says(two_runs):
    report = two_runs["report"]
    api_down = [d for d in report["items"]["downtime"] if d["endpoint"] == "api"]
    # 30 (outage) + 45 (inside the qualifying window, excluded) + 20 + 20 + 10 = 125 minutes down
    assert sum(d["minutes"] for d in api_down) == 125
    assert sum(d["counted_minutes"] for d in api_down) == 80
    # web's flapping hour: read its down minutes from the stored health of day 14 (the input)
    import pyarrow.parquet as pq

    table = pq.read_table(io.BytesIO(_get(two_runs["sandbox"], "health/date=2026-10-14/health.parquet")))
    web_id = load_config()[1].health_checks[1].id
    status = np.array(table.column("status").to_pylist(), dtype=object)
    ids = np.array(table.column("health_check_id").to_pylist())
    web_down = int(np.count_nonzero((ids == web_id) & (status == 0)))
    assert 0 < web_down < 60
    # the ALB target group's 12 minutes without a healthy host (day 24, 09:00 UTC, no window), read back
    # from CloudWatch's HealthyHostCount: day 24 is backfilled, at 5- or 60-minute buckets once CloudWatch
    # has dropped 1-minute data, and a bucket whose Minimum is 0 is down all through
    alb = next(h for h in load_config()[1].health_checks if h.kind == "alb_target_group")
    start = dt.datetime(2026, 10, 24, tzinfo=dt.UTC)
    bucket = finest_period(start, dt.datetime.now(dt.UTC)) // 60
    alb_down = -(-ALB_OUTAGE_MINUTES // bucket) * bucket
    alb_rows = [d for d in report["items"]["downtime"] if d["endpoint"] == alb.name]
    assert [(d["start"], d["minutes"]) for d in alb_rows] == [("2026-10-24T09:00:00Z", alb_down)]
    alb_row = next(e for e in report["items"]["endpoints"] if e["endpoint"] == alb.name)
    assert (alb_row["kind"], alb_row["health_check_id"]) == ("alb_target_group", alb.id)
    assert alb_row["down_minutes"] == alb_down and alb_row["partial_outage_minutes"] is None
    figures = report["figures"]
    # api, web and the ALB are never down together
    assert figures["counted_down_minutes"]["value"] == 80 + web_down + alb_down
    assert figures["maintenance_excluded_minutes"]["value"] == 240 + 60
    assert figures["error_budget_allowed"] == {"value": "44.34", "unit": "minutes"}  # 0.1 % of 44,340
    assert report["headline"]["status"]["value"] == "below target"
    assert figures["error_budget_exhausted_on"]["value"] is not None


def test_gap_days_listed_with_their_resolution(two_runs):
    gaps = {g["day"]: g for g in two_runs["report"]["items"]["data_gap_days"]}
    now = dt.datetime.now(dt.UTC)
    # The ET October ends at 04:00 UTC on 1 November: that UTC day is read too, and no daily
    # collection had stored it (the sandbox's history stops before the month's last day).
    for day in ("2026-10-24", "2026-10-31", "2026-11-01"):
        assert gaps[day]["source"] == "backfilled"
        start = dt.datetime.fromisoformat(day).replace(tzinfo=dt.UTC)
        assert gaps[day]["resolution_seconds"] == finest_period(start, now)
    endpoints = len(load_config()[1].health_checks)  # 3 Route 53 checks and the ALB target group
    assert f"{120 * endpoints} check-minutes without data" in gaps["2026-10-24"]["resolution"]  # 2 h each
    assert two_runs["report"]["inputs"]["days_backfilled"] == 3
    assert "2026-09-30" not in gaps and "2026-11-02" not in gaps
    endpoints = {e["endpoint"]: e for e in two_runs["report"]["items"]["endpoints"]}
    assert all(e["no_data_minutes"] >= 120 for e in endpoints.values())


def test_html_explains_each_window_once(two_runs):
    html = _get(two_runs["sandbox"], PREFIX + "report.html").decode()
    assert html.count("<h2>Maintenance windows (4)</h2>") == 1
    assert html.count("1 h 0 min short of the 48 h notice") == 2  # its row, and the warning above
    assert "2026-10-24" in html and "backfilled" in html
