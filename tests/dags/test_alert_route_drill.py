"""alert_route_drill end to end with dag.test() against the sandbox, which delivers alarm
notifications as AWS does (sandbox/alarm_delivery.py): each route's canary reaches its destination,
the canaries end OK, each run opens (and resolves) one drill incident, and no finding is sent twice."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from tests.dagrun import run_dag, task_states

LOGICAL = dt.datetime(2026, 11, 3, 8, 0, tzinfo=dt.UTC)
DAY = "2026-11-03"
BUCKET = "legacy-estate-ops-reports"
CANARIES = {"pagerduty": "estate-ops-canary-pagerduty", "slack": "estate-ops-canary-slack"}


def _report(sandbox):
    body = sandbox.boto3_client("s3").get_object(Bucket=BUCKET, Key=f"monitoring/drills/{DAY}/drill.json")["Body"]
    return json.loads(body.read())


def _states(sandbox):
    alarms = sandbox.boto3_client("cloudwatch").describe_alarms(AlarmNames=list(CANARIES.values()))["MetricAlarms"]
    return {a["AlarmName"]: a["StateValue"] for a in alarms}


def _canary_events(sandbox):
    return [(e["event"]["event_action"], e["event"]["payload"]["custom_details"]["AlarmName"])
            for e in sandbox.pagerduty_events() if e["event"].get("client") == "AWS CloudWatch"]


@pytest.fixture(scope="module")
def two_runs(sandbox_session):
    sandbox_session.reset()
    first = run_dag("alert_route_drill", LOGICAL)
    out = {"states": [task_states(first)], "runs": [first], "report": _report(sandbox_session),
           "alarm_states": _states(sandbox_session), "events_first": _canary_events(sandbox_session),
           "slack_first": sandbox_session.slack_messages()}
    second = run_dag("alert_route_drill", LOGICAL)
    out["runs"].append(second)
    out["states"].append(task_states(second))
    out["events_second"] = _canary_events(sandbox_session)
    out["slack_second"] = sandbox_session.slack_messages()
    out["report_second"] = _report(sandbox_session)
    return out


def test_both_runs_succeed(two_runs):
    for run, states in zip(two_runs["runs"], two_runs["states"], strict=True):
        assert str(run.state) == "success", states


def test_each_route_delivers_its_canary(two_runs):
    rows = {r["route"]: r for r in two_runs["report"]["items"]["routes"]}
    assert rows["pagerduty"]["delivered"] and rows["slack"]["delivered"]
    assert rows["pagerduty"]["destination"] == "PLEGAPI" and rows["slack"]["destination"] == "#legacy-ops"
    assert all(r["latency_seconds"] is not None and r["latency_seconds"] >= 0 for r in rows.values())
    assert two_runs["report"]["findings"] == []


def test_the_canaries_end_ok_and_the_drill_incident_resolves(two_runs):
    assert two_runs["alarm_states"] == {name: "OK" for name in CANARIES.values()}
    assert two_runs["events_first"] == [("trigger", CANARIES["pagerduty"]), ("resolve", CANARIES["pagerduty"])]


def test_one_drill_incident_and_one_slack_canary_per_run(two_runs):
    assert two_runs["events_second"] == two_runs["events_first"] * 2
    canary_posts = [m for m in two_runs["slack_second"] if CANARIES["slack"] in (m["text"] or "")]
    assert len(canary_posts) == 4  # ALARM and OK, twice
    assert two_runs["report_second"]["findings"] == []


def test_when_the_wait_fails_the_canary_still_returns_to_ok_and_the_route_is_reported(sandbox, monkeypatch):
    from estate_ops.triggers import monitoring as drill_trigger

    real = drill_trigger.look_for_delivery

    def broken_for_pagerduty(route, *args):
        if route == "pagerduty":
            raise RuntimeError("PagerDuty unreachable (simulated)")
        return real(route, *args)

    monkeypatch.setattr(drill_trigger, "look_for_delivery", broken_for_pagerduty)
    run = run_dag("alert_route_drill", LOGICAL)
    states = task_states(run)
    assert states["pagerduty.wait_for_delivery"] == "failed", states
    assert states["pagerduty.restore_canary"] == "success" and states["publish_drill"] == "success", states
    assert _states(sandbox) == {name: "OK" for name in CANARIES.values()}
    report = _report(sandbox)
    assert [(f["kind"], f["severity"]) for f in report["findings"]] == [("alert_route_undelivered_pagerduty", "P1")]
    assert "the wait for delivery failed" in report["findings"][0]["summary"]
    paged = [e for e in sandbox.pagerduty_events() if e["dedup_key"] == report["findings"][0]["dedup_key"]]
    assert len(paged) == 1
