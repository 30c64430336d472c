"""monitoring_audit end to end with dag.test() against the seeded sandbox, run twice.

Expected findings come from the monitoring scenario's design (sandbox/scenarios/monitoring.py): a
health check with no alarm, a P1 alarm whose topic has only a pending subscription, a P2 alarm
paging instead of posting to Slack, an alarm with actions disabled; a composite alarm standing for
the first database's free-storage alarm. The second run writes the same bytes and sends nothing.
"""

from __future__ import annotations

import datetime as dt
import json

import pytest

from tests.dagrun import run_dag, task_states

LOGICAL = dt.datetime(2026, 11, 2, 12, 0, tzinfo=dt.UTC)
DAY = "2026-11-02"
BUCKET = "legacy-estate-ops-reports"
PREFIX = f"monitoring/{DAY}/"


def _objects(sandbox) -> dict[str, str]:
    s3 = sandbox.boto3_client("s3")
    return {o["Key"]: o["ETag"] for page in s3.get_paginator("list_objects_v2").paginate(Bucket=BUCKET)
            for o in page.get("Contents", [])}


def _body(sandbox, key) -> bytes:
    return sandbox.boto3_client("s3").get_object(Bucket=BUCKET, Key=key)["Body"].read()


@pytest.fixture(scope="module")
def two_runs(sandbox_session):
    sandbox_session.reset()
    first = run_dag("monitoring_audit", LOGICAL)
    states_first = task_states(first)
    after_first = _objects(sandbox_session)
    report = json.loads(_body(sandbox_session, f"{PREFIX}audit.json"))
    html = _body(sandbox_session, f"{PREFIX}audit.html").decode()
    manifest = json.loads(_body(sandbox_session, f"runs/monitoring_audit/{DAY}.json"))
    events_first, slack_first = sandbox_session.pagerduty_events(), sandbox_session.slack_messages()
    counts = sandbox_session.request_counts()["paths"].get("aws", {})
    second = run_dag("monitoring_audit", LOGICAL)
    return {"runs": [first, second], "states": [states_first, task_states(second)], "report": report,
            "html": html, "manifest": manifest, "after_first": after_first,
            "after_second": _objects(sandbox_session), "events_first": events_first, "slack_first": slack_first,
            "events_second": sandbox_session.pagerduty_events(), "slack_second": sandbox_session.slack_messages(),
            "aws_counts": counts}


def test_both_runs_succeed(two_runs):
    for run, states in zip(two_runs["runs"], two_runs["states"], strict=True):
        assert str(run.state) == "success", states


def test_the_scenarios_faults_are_found_and_nothing_else(two_runs):
    found = sorted((f["kind"], f["resource"], f["severity"]) for f in two_runs["report"]["findings"])
    assert found == [
        ("alarm_actions_disabled", "legacy-reporting-db-cpu", "P1"),
        ("alarm_missing_minor", "legacy-reporting-db/cpu", "P2"),
        ("alarm_not_in_slack", "legacy-web-p99_latency", "P2"),
        ("alarm_not_paging", "legacy-reporting-db-free_storage", "P1"),
        ("alarm_topic_unconfirmed", "arn:aws:sns:us-east-1:123456789012:legacy-reporting-db-pager", "P2"),
        ("resource_unmonitored", "0b6a7a4e-0000-4000-8000-000000000003", "P1"),
    ]


def test_the_composite_alarm_stands_for_the_free_storage_alarm(two_runs):
    rows = {r["alarm"]: r for r in two_runs["report"]["items"]["alarms"]}
    assert rows["legacy-prod-db-free_storage"]["status"] == "via_composite"
    assert rows["legacy-prod-db-critical"]["kind"] == "composite" and rows["legacy-prod-db-critical"]["routed"]
    prod = next(r for r in two_runs["report"]["items"]["resources"] if r["resource"] == "legacy-prod-db")
    assert prod["covered"] is True and prod["missing"] == []


def test_coverage_figures(two_runs):
    report = two_runs["report"]
    assert report["headline"]["resources_fully_covered"] == {"value": 6, "unit": "of 8 resources"}
    # someone else's alarm and the route drill's two canaries are not about the estate's resources
    assert report["inputs"]["alarms_described"] == report["inputs"]["alarms_on_estate"] + 3
    assert report["inputs"]["composite_alarms"] == 1 and report["inputs"]["topics"] == 3
    assert report["inputs"]["alarms_via_composite"] == 1
    assert report["inputs"]["alarms_judged_by_own_route"] == report["inputs"]["alarms_on_estate"] - 1
    assert report["figures"]["P1_alarms_routed"]["value"] == report["figures"]["P1_alarms"]["value"] - 1
    assert report["headline"]["status"]["value"] == "red"
    assert two_runs["manifest"]["status"] == "findings"
    assert set(two_runs["manifest"]["artifacts"]) == {f"{PREFIX}audit.json", f"{PREFIX}audit.html"}


def test_each_topic_is_read_once_and_alarms_a_page_at_a_time(two_runs):
    counts = two_runs["aws_counts"]
    assert counts.get("sns:ListSubscriptionsByTopic") == 3
    assert counts.get("cloudwatch:DescribeAlarms") == 1  # one region, fewer than 100 alarms
    assert counts.get("tagging:GetResources") == 1
    assert counts.get("chatbot:POST /describe-slack-channel-configurations") == 1  # one page of configurations


def test_the_slack_topic_names_the_channel_its_chatbot_configuration_posts_to(two_runs):
    channels = {t["topic"].rsplit(":", 1)[1]: t["slack_channels"] for t in two_runs["report"]["items"]["topics"]}
    assert channels == {"legacy-alerts-pagerduty": [], "legacy-alerts-slack": ["legacy-ops"],
                        "legacy-reporting-db-pager": []}


def test_p1_pages_once_and_p2_goes_to_slack_once(two_runs):
    report = two_runs["report"]
    paged = {e["dedup_key"] for e in two_runs["events_first"]}
    p1 = {f["dedup_key"] for f in report["findings"] if f["severity"] == "P1"}
    assert p1 and p1 <= paged
    slack = [m for m in two_runs["slack_first"] if "monitoring_audit" in m["text"]]
    assert len(slack) == 1 and "legacy-web-p99_latency" in slack[0]["text"]


def test_the_second_run_changes_nothing_and_sends_nothing(two_runs):
    assert two_runs["after_second"] == two_runs["after_first"]
    assert two_runs["events_second"] == two_runs["events_first"]
    assert two_runs["slack_second"] == two_runs["slack_first"]


def test_the_html_lists_findings_topics_and_coverage(two_runs):
    html = two_runs["html"]
    assert "1 pending confirmation" in html and "legacy-web-p99_latency" in html
    assert html.count("legacy-reporting-db-pager") >= 2  # its finding and its topic row
    assert "<h2>Coverage</h2>" in html
