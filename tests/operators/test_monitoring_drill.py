"""The route drill's refusals against the sandbox (nothing is set when a canary is refused), its
trigger's two outcomes, and its wiring: the canary's restore runs whatever failed upstream."""

from __future__ import annotations

import asyncio
import datetime as dt
import types

import pytest
from airflow.sdk.exceptions import AirflowFailException
from estate_ops.operators.monitoring import CheckCanariesOperator
from estate_ops.triggers import monitoring as drill_trigger

RUN = dt.datetime(2026, 11, 3, 8, tzinfo=dt.UTC)


def _check():
    from airflow.sdk import DAG

    with DAG("alert_route_drill_test", schedule=None):
        op = CheckCanariesOperator(task_id="check")
    return op.execute({"logical_date": RUN, "dag_run": types.SimpleNamespace(run_id="manual__t", run_after=RUN)})


def _nothing_set(sandbox):
    alarms = sandbox.boto3_client("cloudwatch").describe_alarms(AlarmNamePrefix="estate-ops-canary-")["MetricAlarms"]
    return all(a["StateValue"] == "OK" for a in alarms) and sandbox.pagerduty_events() == []


def test_the_seeded_canaries_pass_with_their_baselines(sandbox):
    baselines = _check()
    # The incidents scenario leaves one incident open on the canary's service: it is no delivery.
    assert len(baselines["pagerduty"]) == 1 and baselines["pagerduty"][0].startswith("P")
    assert baselines["slack"] is None  # nothing posted yet in the sandbox's channel
    assert _nothing_set(sandbox)


def test_a_canary_that_does_not_exist_is_refused_naming_the_key(sandbox):
    sandbox.boto3_client("cloudwatch").delete_alarms(AlarmNames=["estate-ops-canary-slack"])
    with pytest.raises(AirflowFailException, match="monitoring.canaries.slack.alarm: CloudWatch has no alarm named"):
        _check()
    assert _nothing_set(sandbox)


def test_a_canary_on_a_metric_another_alarm_uses_is_refused(sandbox):
    cloudwatch = sandbox.boto3_client("cloudwatch")
    cloudwatch.put_metric_alarm(AlarmName="someone-uses-it", Namespace="EstateOps/Canary",
                                MetricName="Canary-pagerduty", Statistic="Maximum", Period=60, EvaluationPeriods=1,
                                Threshold=0, ComparisonOperator="GreaterThanThreshold")
    with pytest.raises(AirflowFailException, match="which someone-uses-it also watch"):
        _check()
    assert _nothing_set(sandbox)


def _events(trigger):
    async def collect():
        return [event async for event in trigger.run()]

    return asyncio.run(collect())


def _trigger(deadline):
    return drill_trigger.AlertDeliveryTrigger(
        route="slack", canary="c", destination="#x", baseline=None, deadline=deadline.isoformat(), poll_seconds=5,
        pagerduty_conn_id="pagerduty_default", slack_conn_id="slack_api_default")


def test_the_trigger_says_delivered_with_the_evidence(monkeypatch):
    monkeypatch.setattr(drill_trigger, "look_for_delivery", lambda *a: "123.000001")
    [event] = _events(_trigger(dt.datetime.now(dt.UTC) + dt.timedelta(minutes=5)))
    assert event.payload["status"] == "delivered" and event.payload["evidence"] == "123.000001"


def test_the_trigger_says_timeout_once_the_deadline_has_passed(monkeypatch):
    looks = []
    monkeypatch.setattr(drill_trigger, "look_for_delivery", lambda *a: looks.append(a) and None)
    [event] = _events(_trigger(dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)))
    assert event.payload == {"status": "timeout", "seen_at": None, "evidence": None} and len(looks) == 1


def test_the_trigger_serializes_to_itself():
    trigger = _trigger(RUN)
    path, kwargs = trigger.serialize()
    assert path == "estate_ops.triggers.monitoring.AlertDeliveryTrigger"
    assert drill_trigger.AlertDeliveryTrigger(**kwargs).serialize() == (path, kwargs)


def test_restore_runs_after_any_upstream_failure_and_publish_after_restore():
    # Not a teardown: Airflow skips a teardown whose setup failed, and a failed SetAlarmState may
    # have set the alarm anyway. restore_canary itself decides (fire_canary's attempt XCom).
    from tests.dagrun import load_dag

    dag = load_dag("alert_route_drill")
    for route in ("pagerduty", "slack"):
        restore = dag.get_task(f"{route}.restore_canary")
        assert str(restore.trigger_rule) in ("all_done", "TriggerRule.ALL_DONE")
        assert restore.upstream_task_ids == {f"{route}.wait_for_delivery"}
        assert dag.get_task(f"{route}.wait_for_delivery").upstream_task_ids == {f"{route}.fire_canary"}
        assert restore.task_id in dag.get_task("publish_drill").upstream_task_ids
    assert str(dag.get_task("publish_drill").trigger_rule) in ("all_done", "TriggerRule.ALL_DONE")


def test_a_slack_token_without_channels_history_is_named(sandbox):
    import json
    import urllib.request

    from estate_ops.hooks.slack import SlackMessageHook, SlackScopeError

    request = urllib.request.Request(f"{sandbox.slack_url}/_sandbox/slack/deny_history", method="POST",
                                     data=json.dumps({"channel": "#legacy-ops"}).encode(),
                                     headers={"Content-Type": "application/json"})
    urllib.request.urlopen(request).close()
    with pytest.raises(SlackScopeError, match="lacks the channels:history scope that conversations.history needs"):
        SlackMessageHook("slack_api_default").recent_messages("#legacy-ops")
    with pytest.raises(SlackScopeError):
        _check()  # refused at the check: before any canary is set
    assert _nothing_set(sandbox)


def test_resolve_incident_puts_status_resolved_as_the_named_user_and_a_rerun_changes_nothing(sandbox):
    from estate_ops.hooks.pagerduty import PagerDutyApiError, PagerDutyRestHook

    hook = PagerDutyRestHook("pagerduty_default")
    [open_one] = hook.open_incidents(["PLEGAPI"])  # the incidents scenario leaves one open
    with pytest.raises(PagerDutyApiError, match=r"From nobody@example.com\): PagerDuty answered 400 .*Requester"):
        hook.resolve_incident(open_one["id"], "nobody@example.com", "drill")
    assert hook.open_incidents(["PLEGAPI"]) == [open_one]  # refused: nothing changed
    assert hook.resolve_incident(open_one["id"], "morgan.reyes@legacy.example", "drill") == "resolved"
    after = hook.get(f"/incidents/{open_one['id']}")["incident"]
    assert after["status"] == "resolved" and after["last_status_change_by"]["id"] == "PUSRTL1"
    assert hook.resolve_incident(open_one["id"], "morgan.reyes@legacy.example", "drill") == "resolved"
    assert hook.get(f"/incidents/{open_one['id']}")["incident"]["resolved_at"] == after["resolved_at"]
    assert hook.resolve_incident("PNOSUCH", "morgan.reyes@legacy.example", "drill") == "not_found"


def test_a_missing_scope_names_the_scope_slack_says_it_needed(monkeypatch):
    # A private channel needs groups:history: the error says what Slack's `needed` says, not a guess.
    from estate_ops.hooks.slack import SlackMessageHook, SlackScopeError
    from slack_sdk.errors import SlackApiError
    from slack_sdk.web import SlackResponse

    hook = SlackMessageHook.__new__(SlackMessageHook)
    hook.slack_conn_id = "slack_api_default"
    answer = SlackResponse(client=None, http_verb="POST", api_url="conversations.history", req_args={},
                           data={"ok": False, "error": "missing_scope", "needed": "groups:history",
                                 "provided": "chat:write,channels:read"}, headers={}, status_code=200)

    class Client:
        def conversations_history(self, **kwargs):
            raise SlackApiError("missing_scope", answer)

    monkeypatch.setattr(SlackMessageHook, "client", Client(), raising=False)
    monkeypatch.setattr(SlackMessageHook, "channel_id", lambda self, channel: "G0PRIVATE")
    with pytest.raises(SlackScopeError, match="'slack_api_default' lacks the groups:history scope"):
        hook.recent_messages("#private-ops")
