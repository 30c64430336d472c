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
    out["incidents"] = _drill_incidents()
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
    assert states["pagerduty.restore_canary"] == "success" and states["publish_drill"] == "failed", states
    assert str(run.state) == "failed"  # published, routed, and the run is red
    assert _states(sandbox) == {name: "OK" for name in CANARIES.values()}
    report = _report(sandbox)
    assert [(f["kind"], f["severity"]) for f in report["findings"]] == [("alert_route_undelivered_pagerduty", "P1")]
    assert "the wait for delivery failed" in report["findings"][0]["summary"]
    paged = [e for e in sandbox.pagerduty_events() if e["dedup_key"] == report["findings"][0]["dedup_key"]]
    assert len(paged) == 1


# --------------------------------------------------------------------------- cleanup after each failure
#
# Whatever step fails, the canaries end OK and no drill incident is left open on the canary's service;
# what failed is in the report as a finding, routed once however often the run is repeated.

RESOLVER = "PUSRTL1"  # the PagerDuty user of canaries.pagerduty.resolve_as (estate.yaml)


def _drill_incidents(status=None):
    from estate_ops.hooks.pagerduty import PagerDutyRestHook

    found = PagerDutyRestHook("pagerduty_default").get("/incidents", {
        "service_ids[]": ["PLEGAPI"], "date_range": "all", "limit": 100,
        **({"statuses[]": [status]} if status else {})})["incidents"]
    return [i for i in found if i["title"].startswith(("ALARM:", "OK:")) and CANARIES["pagerduty"] in i["title"]]


def _findings(report):
    return sorted((f["kind"], f["severity"]) for f in report["findings"])


def _cleaned_up(sandbox):
    assert _states(sandbox) == {name: "OK" for name in CANARIES.values()}
    assert _drill_incidents("triggered") == [] and _drill_incidents("acknowledged") == []


def test_the_drill_incident_is_resolved_through_the_rest_api_by_the_named_user(two_runs):
    rows = {r["route"]: r for r in two_runs["report"]["items"]["routes"]}
    assert rows["pagerduty"]["resolved"] == [rows["pagerduty"]["evidence"]] and rows["slack"]["resolved"] == []
    incidents = two_runs["incidents"]
    assert len(incidents) == 2  # one per run
    assert {i["status"] for i in incidents} == {"resolved"}
    # resolved by the drill's PUT (as the user), not by the integration's OK event (by the service)
    assert {(i["last_status_change_by"]["type"], i["last_status_change_by"]["id"]) for i in incidents} == {
        ("user_reference", RESOLVER)}


def _set_fails_after_setting(monkeypatch, route):
    """SetAlarmState ALARM on the route's canary fails after AWS has set it (a timeout on the answer):
    the worst case, an alarm that is set though the task failed."""
    from estate_ops.hooks.cloudwatch import CloudWatchAlarmsHook, CloudWatchError

    real = CloudWatchAlarmsHook.set_alarm_state

    def flaky(self, name, state, reason):
        real(self, name, state, reason)
        if name == CANARIES[route] and state == "ALARM":
            raise CloudWatchError("SetAlarmState: read timeout (simulated)")

    monkeypatch.setattr(CloudWatchAlarmsHook, "set_alarm_state", flaky)


def _wait_times_out(monkeypatch, route):
    """The route's wait sees nothing before its deadline (the alarm is delivered, late)."""
    from airflow.triggers.base import TriggerEvent
    from estate_ops.triggers.monitoring import AlertDeliveryTrigger

    real = AlertDeliveryTrigger.run

    async def run(self):
        if self.route == route:
            yield TriggerEvent({"status": "timeout", "seen_at": None, "evidence": None})
            return
        async for event in real(self):
            yield event

    monkeypatch.setattr(AlertDeliveryTrigger, "run", run)


def _resolve_fails(monkeypatch, _route):
    from estate_ops.hooks.pagerduty import PagerDutyApiError, PagerDutyRestHook

    def refuse(self, incident_id, from_email, resolution):
        raise PagerDutyApiError(f"PUT /incidents/{incident_id} (From {from_email}): PagerDuty answered 503 (simulated)")

    monkeypatch.setattr(PagerDutyRestHook, "resolve_incident", refuse)


@pytest.mark.parametrize("failure,route,failed_task,finding,why", [
    (_set_fails_after_setting, "pagerduty", "pagerduty.fire_canary", ("alert_route_undelivered_pagerduty", "P1"),
     "could not be set to ALARM"),
    (_set_fails_after_setting, "slack", "slack.fire_canary", ("alert_route_undelivered_slack", "P2"),
     "could not be set to ALARM"),
    (_wait_times_out, "pagerduty", None, ("alert_route_undelivered_pagerduty", "P1"), "not seen within 10 min"),
    (_wait_times_out, "slack", None, ("alert_route_undelivered_slack", "P2"), "not seen within 10 min"),
    (_resolve_fails, "pagerduty", "pagerduty.restore_canary", ("alert_route_cleanup_failed", "P2"),
     "resolving the drill incident failed"),
], ids=["set-fails-pagerduty", "set-fails-slack", "pagerduty-wait-times-out", "slack-wait-times-out",
        "resolve-fails"])
def test_cleanup_runs_after_a_failure_at_each_step(sandbox, monkeypatch, failure, route, failed_task, finding, why):
    failure(monkeypatch, route)
    run = run_dag("alert_route_drill", LOGICAL)
    states = task_states(run)
    if failed_task:
        assert states[failed_task] == "failed", states
    other = "slack" if route == "pagerduty" else "pagerduty"
    assert states[f"{other}.restore_canary"] == "success" and states["publish_drill"] == "failed", states
    assert str(run.state) == "failed"
    if failed_task != f"{route}.restore_canary":
        assert states[f"{route}.restore_canary"] == "success", states
    _cleaned_up(sandbox)
    report = _report(sandbox)
    assert _findings(report) == [finding]
    [found] = report["findings"]
    assert why in found["summary"] and CANARIES[route] in found["summary"]
    rows = {r["route"]: r for r in report["items"]["routes"]}
    assert rows[other]["delivered"] and rows[other]["cleanup_error"] is None
    # the same run again: one more drill, the same finding, paged or posted once
    second = run_dag("alert_route_drill", LOGICAL)
    assert task_states(second)["publish_drill"] == "failed"
    _cleaned_up(sandbox)
    assert _findings(_report(sandbox)) == [finding]
    told = [e for e in sandbox.pagerduty_events() if e["dedup_key"] == found["dedup_key"]]
    told += [m for m in sandbox.slack_messages() if f"`{found['kind']}` {found['resource']}" in (m["text"] or "")]
    assert len(told) == 1, told


def test_a_refused_canary_sets_nothing_and_cleans_nothing(sandbox):
    sandbox.boto3_client("cloudwatch").delete_alarms(AlarmNames=[CANARIES["slack"]])
    sandbox.clear_request_counts()
    run = run_dag("alert_route_drill", LOGICAL)
    states = task_states(run)
    assert states["check_canaries"] == "failed", states
    assert {states[f"{r}.restore_canary"] for r in CANARIES} == {"skipped"}, states
    assert "cloudwatch:SetAlarmState" not in json.dumps(sandbox.request_counts())
    assert _canary_events(sandbox) == [] and _drill_incidents("triggered") == []
